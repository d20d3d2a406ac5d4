//! SIGINT (Ctrl-C) and SIGTERM: the run stops after its current row, keeps its files, says
//! `interrupted`, exits 130 or 143; a second signal ends the process at once, and a fault
//! (SIGSEGV, SIGABRT) ends it by that signal, each after writing a meta.json that says so.
use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A decompose run with rows left to interrupt, started in `dir`, and its run directory, once
/// meta.json says running and one metrics row is on disk (the handlers are installed before
/// meta.json is written). Returns the child, the run dir and the rows seen.
fn start_long_run(dir: &Path) -> (Child, PathBuf, usize) {
    // m ≈ 3600 constraints: about 8 Newton rows of ~0.3 s each on a 2-core machine.
    let child = Command::new(LAB)
        .args(["decompose", "--out", "run", "--set", "matrix.n=600"])
        .args([
            "--set",
            "subspace.density=0.02",
            "--set",
            "output.save_matrices=false",
        ])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let run = dir.join("run");
    let metrics = run.join("metrics.csv");
    let mut seen = 0;
    wait_until(
        "a running run with one metrics row",
        Duration::from_secs(120),
        || {
            let status = try_status(&run);
            let ended = status.as_deref().is_some_and(|s| s != "running");
            assert!(!ended, "the run ended ({status:?}) before the signal");
            seen = match std::fs::read_to_string(&metrics) {
                Ok(text) => text.lines().count().saturating_sub(1),
                Err(_) => 0, // not created yet
            };
            status.is_some() && seen >= 1
        },
    );
    (child, run, seen)
}

fn send(child: &Child, signal: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

/// The interrupted run: its status, message, kept rows in order, and no final summary.
fn check_interrupted(run: &Path, seen: usize, by: &str) {
    let meta = json(&run.join("meta.json"));
    assert_eq!(meta["status"], "interrupted", "{meta}");
    assert_eq!(meta["error"], format!("interrupted by {by}"), "{meta}");
    let (header, rows) = read_csv(&run.join("metrics.csv"));
    assert_eq!(header[0], "iter");
    assert!(
        rows.len() >= seen,
        "rows written before the signal are kept"
    );
    for (k, row) in rows.iter().enumerate() {
        assert_eq!(row[0], (k + 1).to_string(), "rows are whole and in order");
    }
    assert!(
        !run.join("summary.json").exists(),
        "an interrupted run has no final summary"
    );
}

/// Send `signal` to a running run; it must exit with `code`, print its notice and leave an
/// honest interrupted run.
fn signal_stops_the_run(signal: &str, code: i32, by: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (child, run, seen) = start_long_run(dir.path());
    send(&child, signal);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(code), "{}", stderr(&out));
    let notice = format!("{by}: finishing the current row");
    assert!(stderr(&out).contains(&notice), "{}", stderr(&out));
    check_interrupted(&run, seen, by);
}

#[test]
fn ctrl_c_marks_the_run_interrupted_and_exits_130() {
    signal_stops_the_run("INT", 130, "Ctrl-C");
}

#[test]
fn sigterm_is_handled_like_ctrl_c_and_exits_143() {
    signal_stops_the_run("TERM", 143, "SIGTERM");
}

#[test]
fn a_second_signal_ends_the_process_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, run, seen) = start_long_run(dir.path());
    send(&child, "INT");
    send(&child, "INT");
    let sent = Instant::now();
    let mut status = None;
    wait_until("the process to end", Duration::from_secs(30), || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    assert_eq!(status.and_then(|s| s.code()), Some(130));
    assert!(
        sent.elapsed() < Duration::from_secs(5),
        "took {:?} to end after the second signal",
        sent.elapsed()
    );
    // Its meta.json says so (the first signal's own ending, if the row in progress finished
    // before the second arrived), never `running`.
    let meta = json(&run.join("meta.json"));
    assert_eq!(meta["status"], "interrupted", "{meta}");
    let error = meta["error"].as_str().unwrap_or_default();
    assert!(
        error == "interrupted by Ctrl-C"
            || error
                == "aborted by a second signal (SIGINT) before the row in progress was finished",
        "{meta}"
    );
    assert_eq!(meta["pid"], child.id(), "{meta}");
    check_rows_and_temp_files(&run, seen);
}

/// The metrics rows are whole and in order, at least the `seen` ones; no temp file is left.
fn check_rows_and_temp_files(run: &Path, seen: usize) {
    let (_, rows) = read_csv(&run.join("metrics.csv"));
    assert!(
        rows.len() >= seen,
        "rows written before the signal are kept"
    );
    for (k, row) in rows.iter().enumerate() {
        assert_eq!(row[0], (k + 1).to_string(), "rows are whole and in order");
    }
    let temps: Vec<String> = std::fs::read_dir(run)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(temps.is_empty(), "{temps:?}");
}

/// A run killed by a fault signal (sent here; a real fault takes the same handler) dies of
/// that signal, after writing a `failed` meta.json that names it.
fn a_fault_leaves_a_failed_meta(signal: &str, number: i32) {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    let (child, run, seen) = start_long_run(dir.path());
    send(&child, signal);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.signal(), Some(number), "{}", stderr(&out));
    let meta = json(&run.join("meta.json"));
    assert_eq!(meta["status"], "failed", "{meta}");
    let error = meta["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with(&format!("crashed with SIG{signal} (a fault in lab")),
        "{meta}"
    );
    assert!(meta["start_time"].is_string(), "the rest is kept: {meta}");
    check_rows_and_temp_files(&run, seen);
    assert_eq!(lab::results::runs::read_run(&run).unwrap().status, "failed");
}

#[test]
fn a_segfault_leaves_a_failed_meta_json_naming_it() {
    a_fault_leaves_a_failed_meta("SEGV", libc::SIGSEGV);
}

#[test]
fn an_abort_leaves_a_failed_meta_json_naming_it() {
    a_fault_leaves_a_failed_meta("ABRT", libc::SIGABRT);
}

#[test]
fn a_killed_run_reads_as_dead_not_running() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, run, _) = start_long_run(dir.path());
    let read = |run: &Path| lab::results::runs::read_run(run).unwrap().status;
    assert_eq!(read(&run), "running", "a live run is running");
    child.kill().unwrap(); // SIGKILL: no handler runs, meta.json keeps saying running
    child.wait().unwrap();
    assert_eq!(try_status(&run).as_deref(), Some("running"));
    assert_eq!(read(&run), "dead");
    let out = lab(dir.path(), &["report", "run"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let report = std::fs::read_to_string(dir.path().join("run/report.md")).unwrap();
    assert!(report.contains("(dead)"), "{report}");
}

#[test]
fn force_never_replaces_a_run_that_is_still_being_written() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, run, _) = start_long_run(dir.path());
    std::fs::write(run.join("notes.txt"), "mine").unwrap();
    let out = lab(
        dir.path(),
        &["decompose", "--out", "run", "--force", "--quiet"],
    );
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(
        stderr(&out).contains("is still writing it"),
        "{}",
        stderr(&out)
    );
    child.kill().unwrap();
    child.wait().unwrap();
    // Dead now: --force moves it aside with the user's file, and runs.
    let out = lab(
        dir.path(),
        &[
            "decompose",
            "--out",
            "run",
            "--force",
            "--quiet",
            "--set",
            "matrix.n=8",
        ],
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    let aside: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().contains("run.replaced-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(
        std::fs::read_to_string(aside[0].join("notes.txt")).unwrap(),
        "mine"
    );
}
