//! Hostile input to studies, second round: a `--resume` started while a `--force` waits for a
//! dying run, a completed run that lost its summary.json, grids too large to list, a grid
//! value given twice, and `--force` over something that is not a study.
use crate::common::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Whether some process holds an exclusive lock on `file` (as lab's `run.lock` is held).
fn locked(file: &Path) -> bool {
    let free = Command::new("flock")
        .args(["-n", "-s"])
        .arg(file)
        .arg("true")
        .status()
        .unwrap();
    !free.success()
}

/// `--force` over a study waits (a few seconds) for a run another process still writes. A
/// `--resume` of the same study started meanwhile ran the study while `--force` then moved
/// the folder aside under it: both exited 0, in one folder. `--force` now holds the study's
/// lock while it waits, so the `--resume` refuses, naming it.
#[test]
fn a_resume_started_while_force_waits_for_a_dying_run_refuses() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let out = decompose_study(dir, "busy", "{matrix.n: [8]}", "[0]", &["--quiet"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let study = dir.join("results/decompose/busy");
    let run = study.join("matrix.n=8/seed-0");
    // The run left unfinished, and a dying writer of it holding run.lock for a few seconds.
    let meta = read(&run.join("meta.json")).replace("\"completed\"", "\"interrupted\"");
    std::fs::write(run.join("meta.json"), meta).unwrap();
    let lock = run.join("run.lock");
    let mut dying = Command::new("flock")
        .arg(&lock)
        .args(["sleep", "4"])
        .spawn()
        .unwrap();
    wait_until("the run.lock held", Duration::from_secs(10), || {
        locked(&lock)
    });
    let force = Command::new(LAB)
        .args(["decompose", "--config", "busy.yaml", "--force", "--quiet"])
        .args(["--set", "matrix.condition=20"])
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500)); // planned, waiting for the run
    let resume = lab(dir, &["decompose", "--config", "busy.yaml", "--resume"]);
    let force_pid = force.id();
    let forced = force.wait_with_output().unwrap();
    dying.wait().unwrap();
    assert_eq!(code(&resume), 2, "{}", text(&resume));
    let busy = format!("is being run by lab process {force_pid};");
    assert!(stderr(&resume).contains(&busy), "{}", text(&resume));
    assert_eq!(code(&forced), 0, "{}", text(&forced));
    let config = read(&run.join("config.yaml"));
    assert!(
        config.contains("condition: 20"),
        "the --force config ran: {config}"
    );
    let asides: Vec<_> = std::fs::read_dir(dir.join("results/decompose"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("busy.replaced-"))
        .collect();
    assert_eq!(asides.len(), 1, "the old study is kept aside: {asides:?}");
    assert!(
        !asides[0].join("study.lock").exists(),
        "the lock held over the move leaves no file behind"
    );
    assert!(!study.join("study.lock").exists());
}

/// A completed run whose summary.json is gone is `broken` in the report; `lab status` called
/// it completed and `--resume` skipped it and exited 0 ("0 failed") while the report it wrote
/// said one run failed. Now status says so and `--resume` runs it again.
#[test]
fn a_completed_run_without_its_summary_is_not_done_for_status_or_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let out = decompose_study(dir, "lost", "{matrix.n: [8]}", "[0, 1]", &["--quiet"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let study = dir.join("results/decompose/lost");
    let run = study.join("matrix.n=8/seed-0");
    std::fs::remove_file(run.join("summary.json")).unwrap();
    let shown = lab(dir, &["status", "results/decompose/lost"]);
    assert_eq!(code(&shown), 0, "{}", text(&shown));
    let row = stdout(&shown)
        .lines()
        .find(|l| l.contains("seed-0"))
        .unwrap_or_default()
        .to_string();
    assert!(
        row.contains("failed") && row.contains("broken") && row.contains("summary.json"),
        "{}",
        text(&shown)
    );
    assert!(
        stdout(&shown).contains("1 completed, 0 running, 0 pending, 1 failed"),
        "{}",
        text(&shown)
    );
    let resumed = lab(dir, &["decompose", "--config", "lost.yaml", "--resume"]);
    assert_eq!(code(&resumed), 0, "{}", text(&resumed));
    assert!(
        stderr(&resumed).contains("1 already completed, 1 to run"),
        "{}",
        text(&resumed)
    );
    assert!(run.join("summary.json").is_file(), "the run ran again");
    let report = read(&study.join("report.md"));
    assert!(report.contains("- runs: 2 completed, 0 failed"), "{report}");
}

/// Three axes of a thousand values are 10^9 runs: listing them ran out of memory and
/// aborted. The count is checked first, naming each axis's size.
#[test]
fn a_grid_too_large_to_list_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let list = |from: usize| {
        let v: Vec<String> = (from..from + 1000).map(|i| i.to_string()).collect();
        format!("[{}]", v.join(", "))
    };
    let grid = format!(
        "{{matrix.n: {}, matrix.condition: {}, solver.max_iter: {}}}",
        list(8),
        list(10),
        list(50)
    );
    write_study(dir, "huge", &grid, "[0]");
    // A memory limit so that a regression fails here instead of swapping the machine.
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "ulimit -v 4000000; exec timeout 60 {LAB} decompose --config huge.yaml"
        ))
        .current_dir(dir)
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "{}", text(&out));
    let err = stderr(&out);
    for want in [
        "1000000000 runs planned",
        "matrix.n (1000) x matrix.condition (1000) x solver.max_iter (1000)",
        "more than the 100000",
    ] {
        assert!(err.contains(want), "want {want}: {}", text(&out));
    }
    assert!(!dir.join("results").exists(), "nothing written");
}

/// A grid value given twice made two cells of one config (`matrix.n=8` and `matrix.n=8-2`),
/// reported as two results. Like a seed given twice, it is a usage error naming the key.
#[test]
fn a_grid_value_listed_twice_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let out = decompose_study(dir, "dup", "{matrix.n: [8, 12, 8]}", "[0]", &[]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(
        stderr(&out).contains("`study.grid.matrix.n`: 8 is listed twice"),
        "{}",
        text(&out)
    );
    assert!(!dir.join("results").exists(), "nothing written");
}

/// `--force` over a file or a folder that is no study was refused with "already exists; ...
/// --force to start over": the advice the user had just followed. The refusal now says why,
/// and the file and folder are left as they were.
#[test]
fn force_over_a_file_or_a_non_study_folder_says_why_it_refuses() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_study(dir, "s", "{matrix.n: [8]}", "[0]");
    std::fs::write(dir.join("notes.txt"), "mine\n").unwrap();
    std::fs::create_dir(dir.join("mine")).unwrap();
    std::fs::write(dir.join("mine/data.csv"), "a\n1\n").unwrap();
    let cases = [
        ("notes.txt", "a file is in the way"),
        (
            "mine",
            "refusing to --force over mine: it is not a study directory",
        ),
    ];
    for (target, want) in cases {
        for extra in [&[][..], &["--force"][..]] {
            let mut args = vec!["decompose", "--config", "s.yaml", "--out", target];
            args.extend(extra);
            let out = lab(dir, &args);
            let why = format!("{args:?}: {}", text(&out));
            assert_eq!(code(&out), 2, "{why}");
            let forced = !extra.is_empty();
            if forced || target == "notes.txt" {
                assert!(stderr(&out).contains(want), "{why}");
            }
            if forced {
                assert!(!stderr(&out).contains("--force to start over"), "{why}");
            }
        }
    }
    assert_eq!(read(&dir.join("notes.txt")), "mine\n");
    assert_eq!(read(&dir.join("mine/data.csv")), "a\n1\n");
    let left: Vec<_> = std::fs::read_dir(dir.join("mine")).unwrap().collect();
    assert_eq!(left.len(), 1, "nothing added to mine/");
}

/// A bad value inside the `study:` block names its key (before: "`study:` block: invalid
/// value: integer `-1`, expected u64", naming no key).
#[test]
fn a_bad_value_in_the_study_block_names_its_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for (seeds, want) in [
        ("[0, -1]", "integer `-1`"),
        ("[1.5]", "floating point `1.5`"),
    ] {
        let out = decompose_study(dir, "bad", "{matrix.n: [8]}", seeds, &[]);
        assert_eq!(code(&out), 2, "{}", text(&out));
        let err = stderr(&out);
        assert!(
            err.contains("`study.seeds`: ") && err.contains(want),
            "{err}"
        );
        assert!(!dir.join("results").exists(), "nothing written");
    }
}

/// `lab status` keeps its columns aligned when a run is `not-submitted` (13 characters, wider
/// than the 11 the state column had): each row's detail starts where the header's does. The
/// label is a Slurm study's (one with a `slurm/` folder, as `--executor slurm` writes before
/// it submits anything); a local study's unstarted run is `not-started`.
#[test]
fn status_columns_stay_aligned_with_a_not_submitted_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let quiet = ["--quiet", "--out", "st"];
    let out = decompose_study(dir, "s", "{matrix.n: [8, 10]}", "[0]", &quiet);
    assert_eq!(code(&out), 0, "{}", text(&out));
    std::fs::remove_dir_all(dir.join("st/matrix.n=10")).unwrap();
    std::fs::create_dir(dir.join("st/slurm")).unwrap();
    let out = lab(dir, &["status", "st"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = stdout.lines().collect();
    let detail = lines[0].find("detail").expect("a header");
    let row = lines
        .iter()
        .find(|l| l.contains("not-submitted"))
        .expect("the removed run");
    assert!(
        row.len() <= detail || row[..detail].ends_with("  "),
        "{stdout}"
    );
    let state = lines[0].find("state").unwrap();
    assert_eq!(row.find("not-submitted"), Some(state), "{stdout}");
}
