//! The reading tools (`report`, `plot`, `compare`, `status`) on hostile results folders: a FIFO,
//! a device or a folder where a run's file should be, column names with spaces or given twice,
//! a column only some runs have, runs of two subcommands or without a readable config.yaml,
//! a study record whose cell names leave the study; and `--set study=null`.
use crate::common::*;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A completed run written by hand: `config` as its config.yaml, `metrics` as its metrics.csv.
fn fake_run(dir: &Path, subcommand: &str, config: &str, metrics: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let meta = format!(r#"{{"status": "completed", "subcommand": "{subcommand}"}}"#);
    std::fs::write(dir.join("meta.json"), meta).unwrap();
    std::fs::write(dir.join("config.yaml"), config).unwrap();
    std::fs::write(dir.join("summary.json"), r#"{"loss": 0.2}"#).unwrap();
    std::fs::write(dir.join("metrics.csv"), metrics).unwrap();
}

/// A completed decompose study `s` (matrix.n 8, seeds 0 and 1) made in `dir`; its folder.
fn two_seed_study(dir: &Path) -> std::path::PathBuf {
    let yaml = study_yaml("s", "{matrix.n: [8]}", "[0, 1]");
    std::fs::write(dir.join("s.yaml"), yaml).unwrap();
    let o = lab(dir, &["decompose", "--config", "s.yaml", "--quiet"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    dir.join("results/decompose/s")
}

const GOOD: &str = "step,loss\n1,0.5\n2,0.4\n3,0.2\n";

/// `lab args` in `cwd`, killed (and the test failed) if it has not ended after 20 s: a reader
/// blocked on a FIFO ignores the first SIGTERM, so a plain run of it would hang the suite.
pub(crate) fn lab_within(cwd: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(LAB)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the lab binary runs");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(20) {
            child.kill().unwrap();
            let _ = child.wait();
            panic!("lab {args:?} hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

pub(crate) fn mkfifo(path: &Path) {
    let _ = std::fs::remove_file(path);
    let made = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(made.success());
}

/// `o` ended with exit 2 and says `needle`, without a panic or an allocation abort.
fn assert_usage(o: &Output, what: &str, needle: &str) {
    assert_eq!(code(o), 2, "{what}: {}", text(o));
    let err = stderr(o);
    assert!(err.contains(needle), "{what}: no `{needle}` in {err}");
    assert!(!err.contains("panicked") && !err.contains("memory allocation"));
}

#[test]
fn a_fifo_device_or_folder_in_place_of_a_run_file_is_refused_not_read() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("r");
    fake_run(&run, "decompose", "seed: 0\n", GOOD);
    let plot = ["plot", "r", "--x", "step", "--y", "loss"];
    mkfifo(&run.join("metrics.csv"));
    let o = lab_within(tmp.path(), &plot);
    assert_usage(&o, "FIFO", "r/metrics.csv: not a regular file (a FIFO)");
    std::fs::remove_file(run.join("metrics.csv")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", run.join("metrics.csv")).unwrap();
    let o = lab_within(tmp.path(), &plot);
    assert_usage(&o, "/dev/zero", "not a regular file (a device)");
    std::fs::remove_file(run.join("metrics.csv")).unwrap();
    std::fs::create_dir(run.join("metrics.csv")).unwrap();
    let o = lab_within(tmp.path(), &plot);
    assert_usage(&o, "folder", "not a regular file (a directory)");

    // summary.json a FIFO: the run is broken, the report says why and ends.
    mkfifo(&run.join("summary.json"));
    let o = lab_within(tmp.path(), &["report", "r"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let md = read(&run.join("report.md"));
    assert!(md.contains("(broken): reading r/summary.json: not a regular file (a FIFO)"));

    // config.yaml a FIFO: compare says so, as a usage error.
    let other = tmp.path().join("o");
    fake_run(&other, "decompose", "seed: 1\n", GOOD);
    mkfifo(&run.join("config.yaml"));
    let o = lab_within(tmp.path(), &["compare", "r", "o"]);
    assert_usage(
        &o,
        "config FIFO",
        "r/config.yaml: not a regular file (a FIFO)",
    );
}

#[test]
fn status_and_report_list_a_study_run_whose_meta_json_is_a_fifo_as_unreadable() {
    let tmp = tempfile::tempdir().unwrap();
    let study = two_seed_study(tmp.path());
    mkfifo(&study.join("matrix.n=8/seed-1/meta.json"));
    let dir = study.to_str().unwrap();
    let o = lab_within(tmp.path(), &["status", dir]);
    let out = stdout(&o);
    assert!(out.contains("not a regular file (a FIFO)"), "{}", text(&o));
    assert!(out.contains("1 completed"), "{out}");
    let o = lab_within(tmp.path(), &["report", dir]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(read(&study.join("report.md")).contains("not a regular file (a FIFO)"));
}

#[test]
fn column_names_match_with_spaces_trimmed_and_a_name_given_twice_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    fake_run(
        &tmp.path().join("r"),
        "decompose",
        "seed: 0\n",
        "step , loss\n1,0.5\n2,0.4\n",
    );
    for y in ["loss", " loss "] {
        let o = lab(tmp.path(), &["plot", "r", "--x", "step", "--y", y]);
        assert_eq!(code(&o), 0, "--y {y:?}: {}", text(&o));
        assert!(
            stdout(&o).contains("r/plots/loss_vs_step.png"),
            "{}",
            text(&o)
        );
    }
    let twice = "step,loss, loss\n1,0.5,9\n2,0.4,8\n";
    std::fs::write(tmp.path().join("r/metrics.csv"), twice).unwrap();
    let o = lab(tmp.path(), &["plot", "r", "--x", "step", "--y", "loss"]);
    assert_usage(
        &o,
        "twice",
        "r/metrics.csv: the header names columns 2, 3 all `loss`",
    );
    let nan = "step,loss\n1,NaN\n2,inf\n";
    std::fs::write(tmp.path().join("r/metrics.csv"), nan).unwrap();
    let o = lab(tmp.path(), &["plot", "r", "--x", "step", "--y", "loss"]);
    assert_usage(
        &o,
        "all NaN",
        "(2 points with NaN or infinite `step` or y left out)",
    );
}

#[test]
fn runs_without_a_column_are_left_out_with_a_note_and_mixed_subcommands_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    fake_run(&runs.join("a"), "decompose", "seed: 0\nn: 1\n", GOOD);
    let other = "step,reward\n1,3\n2,4\n";
    fake_run(&runs.join("b"), "npg-rank1", "seed: 0\nenv: x\n", other);
    let o = lab(tmp.path(), &["plot", "runs", "--x", "step", "--y", "loss"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let note = "1 run without a `loss` column left out (runs/b)";
    assert!(stderr(&o).contains(note), "{}", text(&o));
    let svg = read(&runs.join("plots/loss_vs_step.svg"));
    assert!(svg.contains("without a"), "the note is on the figure");
    // A column no run has is still an error naming the columns there are.
    let o = lab(tmp.path(), &["plot", "runs", "--x", "step", "--y", "lost"]);
    assert_usage(
        &o,
        "typo",
        "`lost` is not a column of runs/a/metrics.csv; columns: step",
    );

    let o = lab(tmp.path(), &["report", "runs"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let md = read(&runs.join("report.md"));
    let both = "- subcommands: `lab decompose` (1 run), `lab npg-rank1` (1 run)";
    assert!(md.contains(both), "{md}");
    assert!(md.contains("`runs [subcommand=decompose, "), "{md}");
}

#[test]
fn runs_without_a_readable_config_are_not_averaged_with_others() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    for (seed, loss) in [(0, 1.0), (1, 3.0), (2, 100.0)] {
        let dir = runs.join(format!("seed-{seed}"));
        fake_run(&dir, "decompose", &format!("seed: {seed}\nn: 4\n"), GOOD);
        std::fs::write(dir.join("summary.json"), format!(r#"{{"loss": {loss}}}"#)).unwrap();
    }
    std::fs::remove_file(runs.join("seed-1/config.yaml")).unwrap();
    std::fs::write(runs.join("seed-2/config.yaml"), "n: [4\n").unwrap();
    let o = lab(tmp.path(), &["report", "runs"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let md = read(&runs.join("report.md"));
    for (cell, loss) in [
        ("runs", "1"),
        ("runs [seed-1: config unknown]", "3"),
        ("runs [seed-2: config unknown]", "100"),
    ] {
        assert_eq!(table_cell(&md, cell, "loss"), format!("{loss} ± –"), "{md}");
    }
    assert!(md.contains("run `seed-1` cannot be matched to the others (no config.yaml)"));
    assert!(md.contains(
        "run `seed-2` cannot be matched to the others (runs/seed-2/config.yaml: invalid YAML"
    ));
}

#[test]
fn a_study_record_whose_cells_leave_the_study_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside/seed-0");
    fake_run(&outside, "decompose", "seed: 0\n", GOOD);
    let study = tmp.path().join("study");
    std::fs::create_dir_all(&study).unwrap();
    let record = r#"{"subcommand": "decompose", "name": "s", "seeds": [0], "grid": [],
        "cells": [{"name": "../outside", "settings": []}]}"#;
    std::fs::write(study.join("study.json"), record).unwrap();
    for tool in ["report", "status"] {
        let o = lab(tmp.path(), &[tool, "study"]);
        let want = "cell name \"../outside\" is not a folder name inside the study";
        assert_usage(&o, tool, want);
    }
    assert!(!study.join("report.md").exists());
}

#[test]
fn set_study_null_runs_a_config_file_with_a_study_block_as_one_run() {
    let tmp = tempfile::tempdir().unwrap();
    let yaml = study_yaml("s", "{matrix.n: [8, 10]}", "[0, 1]");
    std::fs::write(tmp.path().join("s.yaml"), yaml).unwrap();
    let args = ["decompose", "--config", "s.yaml", "--quiet", "--out", "one"];
    let o = lab(tmp.path(), &[&args[..], &["--set", "study=null"]].concat());
    assert_eq!(code(&o), 0, "{}", text(&o));
    let one = tmp.path().join("one");
    assert_eq!(status(&one), "completed");
    assert!(!one.join("study.json").exists(), "a plain run, not a study");
    assert!(!read(&one.join("config.yaml")).contains("study"));
}

#[test]
fn report_never_replaces_a_summary_csv_or_report_md_it_did_not_write() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("runs/r");
    let config = "seed: 0\ntask: mlp-digits\noptimizer: {kind: sgd}\n";
    fake_run(&run, "grng", config, GOOD);
    // A grng run's own table, which `lab report RUN` used to overwrite with the report's.
    let own = "run_id,optimizer,seed\nab12,adamw,0\n";
    std::fs::write(run.join("summary.csv"), own).unwrap();
    let o = lab(tmp.path(), &["report", "runs/r"]);
    assert_usage(
        &o,
        "run's table",
        "runs/r/summary.csv: not written by `lab report`",
    );
    assert_eq!(read(&run.join("summary.csv")), own);
    assert!(!run.join("report.md").exists(), "nothing written");
    // The folder that holds the run reports it, its table untouched.
    let o = lab(tmp.path(), &["report", "runs"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(read(&run.join("summary.csv")), own);
    // The user's notes named report.md are kept too; a report's own files are replaced.
    std::fs::write(tmp.path().join("runs/report.md"), "my notes\n").unwrap();
    let o = lab(tmp.path(), &["report", "runs"]);
    assert_usage(&o, "notes", "runs/report.md: not written by `lab report`");
    assert_eq!(read(&tmp.path().join("runs/report.md")), "my notes\n");
    std::fs::remove_file(tmp.path().join("runs/report.md")).unwrap();
    for _ in 0..2 {
        let o = lab(tmp.path(), &["report", "runs"]);
        assert_eq!(
            code(&o),
            0,
            "a second report replaces the first: {}",
            text(&o)
        );
    }
}

#[test]
fn status_says_a_running_run_whose_process_is_gone_is_dead() {
    let tmp = tempfile::tempdir().unwrap();
    let study = two_seed_study(tmp.path());
    // Killed by SIGKILL: meta.json keeps saying `running`, for a pid no lab process has.
    let meta_path = study.join("matrix.n=8/seed-0/meta.json");
    let mut meta = json(&meta_path);
    meta["status"] = "running".into();
    meta["pid"] = 4_000_000.into();
    std::fs::write(&meta_path, meta.to_string()).unwrap();
    let o = lab(tmp.path(), &["status", study.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let out = stdout(&o);
    let row = out
        .lines()
        .find(|l| l.starts_with("matrix.n=8/seed-0"))
        .unwrap();
    assert!(row.contains("failed") && row.contains("dead:"), "{out}");
    assert!(out.contains("0 running, 0 pending, 1 failed"), "{out}");
}

#[test]
fn runs_deeper_than_the_search_are_not_dropped_silently() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("top");
    fake_run(&root.join("near"), "decompose", "seed: 0\n", GOOD);
    fake_run(&root.join("a/b/c/d/e/far"), "decompose", "seed: 0\n", GOOD);
    let o = lab(tmp.path(), &["report", "top"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let note = "folders more than 4 levels below top were not searched for runs (top/a/b/c/d/e)";
    assert!(stderr(&o).contains(note), "{}", text(&o));
    assert!(read(&root.join("report.md")).contains(note));
    std::fs::remove_dir_all(root.join("near")).unwrap();
    let o = lab(tmp.path(), &["report", "top"]);
    assert_usage(
        &o,
        "only deep runs",
        "no lab runs found (no meta.json below it); folders more",
    );
}

#[test]
fn resuming_a_run_whose_metrics_csv_is_a_fifo_is_refused_not_read() {
    let tmp = tempfile::tempdir().unwrap();
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/configs/npg-rank1/smoke.yaml");
    let args = ["npg-rank1", "--config", config, "--quiet", "--out", "a"];
    let o = lab_within(tmp.path(), &args);
    assert!(o.status.success(), "{}", text(&o));
    mkfifo(&tmp.path().join("a/metrics.csv"));
    let resume = ["npg-rank1", "--resume", "a", "--set", "total_steps=8192"];
    let o = lab_within(
        tmp.path(),
        &[&resume[..], &["--quiet", "--out", "b"]].concat(),
    );
    assert_usage(
        &o,
        "resume",
        "a/metrics.csv: cannot read: not a regular file (a FIFO)",
    );
    assert!(!tmp.path().join("b").exists(), "no run folder");
}

/// lab makes its lock files (`run.lock`, `study.lock`) as regular files. A FIFO in that place
/// blocked `--force` and `lab status` in open(2) (past the first SIGTERM); now it is no lock:
/// `status` and `--force` go on, and taking it (a study's `--resume`) is refused naming it.
#[test]
fn a_fifo_in_place_of_a_lock_file_blocks_nothing_and_is_never_taken() {
    let tmp = tempfile::tempdir().unwrap();
    let study = two_seed_study(tmp.path());
    let run = study.join("matrix.n=8/seed-0");
    mkfifo(&run.join("run.lock"));
    let o = lab_within(tmp.path(), &["status", study.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(stdout(&o).contains("2 completed"), "{}", stdout(&o));
    mkfifo(&study.join("study.lock"));
    let o = lab_within(tmp.path(), &["decompose", "--config", "s.yaml", "--resume"]);
    assert_usage(&o, "study.lock", "study.lock: not a regular file (a FIFO)");
    let args = [
        "decompose",
        "--quiet",
        "--set",
        "matrix.n=4",
        "--force",
        "--out",
    ];
    let o = lab_within(tmp.path(), &[&args[..], &[run.to_str().unwrap()]].concat());
    assert_eq!(code(&o), 0, "{}", text(&o));
    let aside: Vec<_> = std::fs::read_dir(run.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("seed-0.replaced-"))
        .collect();
    assert_eq!(aside.len(), 1, "the old run moved aside: {aside:?}");
}

/// A subcommand's report section that fails (here grng's, on a run whose config.yaml names no
/// task) fails `lab report` after report.md is written with a note in its place; before, the
/// command exited 0, so a script went on with that section's files from an earlier report.
#[test]
fn report_fails_when_the_subcommands_section_fails_after_writing_report_md() {
    let tmp = tempfile::tempdir().unwrap();
    fake_run(&tmp.path().join("runs/r"), "grng", "seed: 0\n", GOOD);
    let o = lab(tmp.path(), &["report", "runs"]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let err = stderr(&o);
    assert!(
        err.contains("`lab grng` part of the report failed")
            && err.contains("runs/r/config.yaml: `task` is missing")
            && err.contains("report.md was written with a note"),
        "{err}"
    );
    let md = read(&tmp.path().join("runs/report.md"));
    assert!(
        md.contains("part of this report could not be written"),
        "{md}"
    );
}
