//! Ctrl-C: the run stops after its current row, keeps its files, says `interrupted`, exits 130.
use crate::common::*;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn ctrl_c_marks_the_run_interrupted_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    // m ≈ 3600 constraints: about 8 Newton rows of ~0.3 s each on a 2-core machine, so there
    // are rows left to interrupt once the first one is on disk.
    let child = Command::new(LAB)
        .args(["decompose", "--out", "run", "--set", "matrix.n=600"])
        .args([
            "--set",
            "subspace.density=0.02",
            "--set",
            "output.save_matrices=false",
        ])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let run = dir.path().join("run");
    let metrics = run.join("metrics.csv");
    // The handler is installed before meta.json is written; one flushed row shows the solve
    // is under way. Signal then, not after a guessed delay.
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
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Ctrl-C: finishing the current row"),
        "{}",
        stderr(&out)
    );
    let meta = json(&run.join("meta.json"));
    assert_eq!(meta["status"], "interrupted", "{meta}");
    let (header, rows) = read_csv(&metrics);
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
