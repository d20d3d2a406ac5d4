//! Ctrl-C: the run stops after its current row, keeps its files, says `interrupted`, exits 130.
use crate::common::*;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn ctrl_c_marks_the_run_interrupted_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    // A problem that takes many seconds (m ≈ 3600 constraints), interrupted after 2.5 s.
    let child = Command::new(env!("CARGO_BIN_EXE_lab"))
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
    std::thread::sleep(Duration::from_millis(2500));
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let run = dir.path().join("run");
    let meta = json(&run.join("meta.json"));
    assert_eq!(meta["status"], "interrupted", "{meta}");
    let rows = csv_without(&run.join("metrics.csv"), &[]);
    assert_eq!(
        rows[0][0], "iter",
        "the header was flushed before the interrupt"
    );
    assert!(
        !run.join("summary.json").exists(),
        "an interrupted run has no final summary"
    );
}
