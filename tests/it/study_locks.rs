//! A run directory is written by one process at a time, and a study's child runs die with it:
//! a second writer (`--force`, a study's `--resume` or `--force`) refuses while a live process
//! holds the run's `run.lock`, and a SIGKILLed study leaves no orphan runs going.
use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Settings that make a decompose run last a few seconds (rows of ~0.3 s on 2 cores).
const SLOW: [&str; 3] = [
    "matrix.n=600",
    "subspace.density=0.02",
    "output.save_matrices=false",
];

/// Wait until `run`'s meta.json says running, written by a process other than `not`, with one
/// metrics row on disk; return that process's pid.
fn wait_for_writer(run: &Path, not: u32) -> u32 {
    let mut pid = 0;
    wait_until(
        "a running run with one row",
        Duration::from_secs(120),
        || {
            let Ok(text) = std::fs::read_to_string(run.join("meta.json")) else {
                return false;
            };
            let Ok(meta) = serde_json::from_str::<serde_json::Value>(&text) else {
                return false;
            };
            pid = meta["pid"].as_u64().unwrap_or(0) as u32;
            let rows = std::fs::read_to_string(run.join("metrics.csv"))
                .map_or(0, |t| t.lines().count().saturating_sub(1));
            meta["status"] == "running" && pid != not && pid != 0 && rows >= 1
        },
    );
    pid
}

/// Whether process `pid` is gone (no such process, or a zombie nobody reaped yet).
fn gone(pid: u32) -> bool {
    proc_stat(pid).is_none_or(|s| s.starts_with('Z'))
}

fn signal(pid: u32, sig: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{sig} {pid}");
}

fn spawn_lab(dir: &Path, args: &[&str]) -> Child {
    Command::new(LAB)
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn a_run_being_written_refuses_a_second_writer() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let out = decompose_study(dir, "busy", "{matrix.n: [8]}", "[0]", &["--quiet"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let run: PathBuf = dir.join("results/decompose/busy/matrix.n=8/seed-0");
    // Another process writes the study's run (as an orphan of an earlier study would);
    // stopped, so it stays alive and holding the run for as long as the checks take.
    let out_arg = run.to_string_lossy().into_owned();
    let mut args = vec!["decompose", "--out", &out_arg, "--force", "--quiet"];
    for s in SLOW {
        args.extend(["--set", s]);
    }
    let mut writer = spawn_lab(dir, &args);
    let pid = wait_for_writer(&run, 0);
    assert_eq!(pid, writer.id());
    signal(pid, "STOP");
    let tries = [
        vec!["decompose", "--config", "busy.yaml", "--resume"],
        vec!["decompose", "--config", "busy.yaml", "--force"],
        vec!["decompose", "--out", &out_arg, "--force"],
    ];
    let outs: Vec<_> = tries.iter().map(|a| lab(dir, a)).collect();
    signal(pid, "CONT");
    writer.kill().unwrap();
    writer.wait().unwrap();
    for (args, out) in zip_eq(&tries, &outs) {
        let why = format!("{args:?}: {}", text(out));
        assert_eq!(code(out), 2, "{why}");
        let err = stderr(out);
        assert!(
            err.contains("busy/matrix.n=8/seed-0"),
            "names the run: {why}"
        );
        let named = format!("lab process {pid}");
        let after = err.split_once(&named).map(|(_, rest)| rest.chars().next());
        assert!(
            matches!(after, Some(Some(c)) if !c.is_ascii_digit()),
            "names the writer's pid {pid}: {why}"
        );
    }
    let meta = json(&run.join("meta.json"));
    assert_eq!(meta["pid"], pid, "the writer's run was left alone: {meta}");
    assert!(!dir.join("results/decompose").read_dir().unwrap().any(|e| {
        let name = e.unwrap().file_name();
        name.to_string_lossy().starts_with("busy.replaced")
    }));
}

#[test]
fn a_killed_study_takes_its_child_runs_with_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let yaml = "matrix: {n: 600}\nsubspace: {density: 0.02}\noutput: {save_matrices: false}\n\
                study: {name: slow, seeds: [0], grid: {matrix.n: [600]}}\n";
    std::fs::write(dir.join("slow.yaml"), yaml).unwrap();
    let mut study = spawn_lab(dir, &["decompose", "--config", "slow.yaml", "--quiet"]);
    let run = dir.join("results/decompose/slow/matrix.n=600/seed-0");
    let child = wait_for_writer(&run, study.id());
    study.kill().unwrap(); // SIGKILL: the study can forward nothing
    study.wait().unwrap();
    wait_until("the child run to end", Duration::from_secs(20), || {
        gone(child)
    });
    // The child got SIGHUP (PR_SET_PDEATHSIG), finished its row and said so.
    let meta = json(&run.join("meta.json"));
    assert_eq!(
        meta["status"], "interrupted",
        "the orphan must not go on: {meta}"
    );
    assert_eq!(meta["error"], "interrupted by SIGHUP", "{meta}");
    // An immediate --resume runs the directory again, alone, to the end.
    let out = lab(dir, &["decompose", "--config", "slow.yaml", "--resume"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(status(&run), "completed");
}

#[test]
fn sigterm_to_a_study_interrupts_its_child_runs_too() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let yaml = "matrix: {n: 600}\nsubspace: {density: 0.02}\noutput: {save_matrices: false}\n\
                study: {name: term, seeds: [0, 1], grid: {matrix.n: [600]}}\n";
    std::fs::write(dir.join("term.yaml"), yaml).unwrap();
    let study = spawn_lab(dir, &["decompose", "--config", "term.yaml", "--quiet"]);
    let run = dir.join("results/decompose/term/matrix.n=600/seed-0");
    let child = wait_for_writer(&run, study.id());
    signal(study.id(), "TERM"); // to the study alone, as `timeout` or `kill` send it
    let out = study.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(143));
    assert!(gone(child), "the study waited for its child run");
    let meta = json(&run.join("meta.json"));
    assert_eq!(meta["status"], "interrupted", "{meta}");
    assert_eq!(meta["error"], "interrupted by SIGTERM", "{meta}");
    assert!(
        !dir.join("results/decompose/term/matrix.n=600/seed-1")
            .exists(),
        "no run starts after the signal"
    );
}
