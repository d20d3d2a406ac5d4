//! Run-level checkpoints of `lab grng` (spec §6.11 test 26 at run level): a run stopped at step
//! 30 (`train.stop_after`) and continued with `--resume RUN_DIR` to 50 writes the same CSVs,
//! bit for bit (timing columns aside), as an uninterrupted 50-step run, for SGD, K-FAC and RING,
//! the stop falling between inverse refreshes; a run stopped by SIGTERM leaves a checkpoint
//! that continues exactly; bad resumes exit 2 naming the reason.
use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// `lab grng --config smoke.yaml --out <out>` with `sets` (and `extra` arguments; with
/// `--resume RUN_DIR` the config is that run's, so no `--config`); asserts exit 0.
fn grng(dir: &Path, out: &str, sets: &[String], extra: &[&str]) -> PathBuf {
    let cfg = grng_smoke_config();
    let mut args = vec!["grng", "--quiet", "--out", out];
    if !extra.contains(&"--resume") {
        args.extend(["--config", &cfg]);
    }
    for s in sets {
        args.extend(["--set", s.as_str()]);
    }
    args.extend(extra);
    let o = lab(dir, &args);
    assert_eq!(code(&o), 0, "{out}: {}", text(&o));
    dir.join(out)
}

/// Every column but the wall-clock ones (and peak memory).
fn untimed(h: &str) -> bool {
    !h.ends_with("_ms") && !h.ends_with("_s") && h != "peak_rss_mb"
}

fn assert_same_csvs(a: &Path, b: &Path, files: &[&str], what: &str) {
    for file in files {
        assert_eq!(
            csv_keep(&a.join(file), untimed),
            csv_keep(&b.join(file), untimed),
            "{what}: {file}"
        );
    }
}

/// Settings of the resume tests: 50 steps of batch 32 over 512 images (16 per epoch: step 30
/// is inside epoch 2), a cosine schedule over the whole budget, diagnostics every step (so
/// the consecutive-update Pearson measure needs the Δθ saved with the checkpoint).
fn settings(kind: &str) -> Vec<String> {
    let mut s: Vec<String> = [
        "train.steps=50",
        "train.epochs=4",
        "train.schedule=cosine",
        "train.diag_every=1",
        "assert=null",
    ]
    .map(String::from)
    .to_vec();
    s.push(format!("optimizer.kind={kind}"));
    if kind != "sgd" {
        // Refreshes at steps 7, 14, 21, 28, 35, ...: the stop at 30 falls between two.
        s.extend(["optimizer.t_stat=3", "optimizer.t_inv=7"].map(String::from));
    }
    s
}

#[test]
fn stop_at_30_and_resume_to_50_equals_an_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for kind in ["sgd", "kfac", "ring"] {
        let sets = settings(kind);
        let full = grng(d, &format!("{kind}-full"), &sets, &[]);
        let mut stop_sets = sets.clone();
        stop_sets.push("train.stop_after=30".into());
        let stopped = grng(d, &format!("{kind}-stopped"), &stop_sets, &[]);
        let (_, rows) = read_csv(&stopped.join("steps.csv"));
        assert_eq!(rows.len(), 30, "{kind}: the stopped run ends at step 30");
        assert!(!stopped.join("summary.json").exists(), "{kind}: no summary");
        let state = json(&stopped.join("checkpoint/trainer.json"));
        assert_eq!(
            (state["step"].as_u64(), state["epoch"].as_u64()),
            (Some(30), Some(2))
        );

        let resumed_dir = format!("{kind}-resumed");
        let stopped_arg = stopped.to_str().unwrap().to_string();
        let resumed = grng(d, &resumed_dir, &[], &["--resume", &stopped_arg]);
        let files = ["steps.csv", "epochs.csv", "metrics.csv", "summary.csv"];
        assert_same_csvs(&full, &resumed, &files, kind);
        // The Figure-1 averages carry the epochs before the stop through the checkpoint.
        let (a, b) = (
            json(&full.join("summary.json")),
            json(&resumed.join("summary.json")),
        );
        for key in [
            "avg_grad_norm",
            "avg_pearson_update_grad",
            "avg_pearson_consecutive",
        ] {
            assert!(a[key].is_f64(), "{kind}: {key} = {}", a[key]);
            assert_eq!(a[key], b[key], "{kind}: {key}");
        }
        let (_, rows) = read_csv(&resumed.join("steps.csv"));
        assert_eq!(rows.len(), 50, "{kind}: no duplicate rows");
        if kind == "sgd" {
            // The comparison can fail: another seed gives other rows.
            let other = grng(d, "seed1", &[sets, vec!["seed=1".into()]].concat(), &[]);
            assert_ne!(
                csv_keep(&full.join("steps.csv"), untimed),
                csv_keep(&other.join("steps.csv"), untimed)
            );
        }
    }
}

#[test]
fn a_run_stopped_by_sigterm_leaves_a_checkpoint_that_continues_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A budget far beyond what runs before the signal; the schedule spans all of it.
    let sets: Vec<String> = [
        "train.steps=100000",
        "train.epochs=10000",
        "train.schedule=cosine",
        "train.diag_every=3",
        "train.checkpoint_every=1000",
        "assert=null",
    ]
    .map(String::from)
    .to_vec();
    let cfg = grng_smoke_config();
    let mut args = vec!["grng", "--quiet", "--config", &cfg, "--out", "long"];
    for s in &sets {
        args.extend(["--set", s.as_str()]);
    }
    let child = Command::new(LAB)
        .args(&args)
        .current_dir(d)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let long = d.join("long");
    wait_until("steps.csv rows", Duration::from_secs(120), || {
        let text = std::fs::read_to_string(long.join("steps.csv")).unwrap_or_default();
        text.lines().count() > 3
    });
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(143), "{}", stderr_of(&out.stderr));
    assert_eq!(status(&long), "interrupted");
    let (_, rows) = read_csv(&long.join("steps.csv"));
    let k = json(&long.join("checkpoint/trainer.json"))["step"]
        .as_u64()
        .unwrap();
    assert_eq!(
        k as usize,
        rows.len(),
        "the checkpoint is at the last written step"
    );

    // Continue 5 steps past the signal; compare with a fresh run stopped there.
    let stop = format!("train.stop_after={}", k + 5);
    let long_arg = long.to_str().unwrap().to_string();
    let resumed = grng(
        d,
        "resumed",
        std::slice::from_ref(&stop),
        &["--resume", &long_arg],
    );
    let fresh = grng(d, "fresh", &[sets, vec![stop]].concat(), &[]);
    assert_same_csvs(&fresh, &resumed, &["steps.csv", "epochs.csv"], "sigterm");
    let (_, rows) = read_csv(&resumed.join("steps.csv"));
    assert_eq!(rows.len() as u64, k + 5);
}

fn stderr_of(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn resuming_without_a_checkpoint_or_with_another_optimizer_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let done = grng(
        d,
        "short",
        &["train.steps=4".into(), "train.checkpoint_every=0".into()],
        &[],
    );
    std::fs::remove_dir_all(done.join("checkpoint")).unwrap();
    let cfg = grng_smoke_config();
    let arg = done.to_str().unwrap().to_string();
    let o = lab(d, &["grng", "--quiet", "--resume", &arg, "--out", "r1"]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(stderr(&o).contains("no checkpoint"), "{}", stderr(&o));
    assert!(!d.join("r1").exists(), "nothing written");

    let stopped = grng(d, "stopped", &["train.stop_after=2".into()], &[]);
    let arg = stopped.to_str().unwrap().to_string();
    let args = [
        "grng",
        "--quiet",
        "--config",
        &cfg,
        "--resume",
        &arg,
        "--out",
        "r2",
        "--set",
        "optimizer.kind=sgd",
    ];
    let o = lab(d, &args);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(
        stderr(&o).contains("adamw on shapes-smoke"),
        "{}",
        stderr(&o)
    );
    // Another learning rate would continue the rows under another run_id: refused, naming
    // the key and both values; nothing written.
    let args = [
        "grng",
        "--quiet",
        "--resume",
        &arg,
        "--out",
        "r3",
        "--set",
        "optimizer.lr=0.123",
    ];
    let o = lab(d, &args);
    assert_eq!(code(&o), 2, "{}", text(&o));
    let err = stderr(&o);
    assert!(
        err.contains("the config differs from the one of the run it continues"),
        "{err}"
    );
    assert!(
        err.contains("optimizer.lr: ") && err.contains("0.123 now"),
        "{err}"
    );
    assert!(!d.join("r3").exists(), "nothing written");
}

/// A resumed run copies the old rows up to the checkpoint: a steps.csv or epochs.csv that lost
/// a row before it (damaged, edited) would leave a silent gap, so it is refused naming the file
/// and line, writing nothing.
#[test]
fn resuming_from_damaged_csvs_or_checkpoint_files_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let stopped = grng(d, "stopped", &["train.stop_after=20".into()], &[]);
    let arg = stopped.to_str().unwrap().to_string();
    let cases = [
        (
            "steps.csv",
            5,
            "steps.csv: line 6: `step` is 6 where 5 was due",
        ),
        (
            "epochs.csv",
            1,
            "epochs.csv: ends at `epoch` 0 but the checkpoint is at 1",
        ),
    ];
    for (i, (file, drop_row, want)) in cases.into_iter().enumerate() {
        let path = stopped.join(file);
        let whole = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = whole.lines().collect();
        assert!(lines.len() > drop_row, "{file} has row {drop_row}");
        let kept: Vec<&str> = lines
            .iter()
            .enumerate()
            .filter(|(k, _)| *k != drop_row)
            .map(|(_, l)| *l)
            .collect();
        std::fs::write(&path, kept.join("\n") + "\n").unwrap();
        let out = format!("r{i}");
        let o = lab(d, &["grng", "--quiet", "--resume", &arg, "--out", &out]);
        assert_eq!(code(&o), 2, "{file}: {}", text(&o));
        assert!(stderr(&o).contains(want), "want {want}: {}", stderr(&o));
        assert!(!d.join(&out).exists(), "{file}: nothing written");
        std::fs::write(&path, whole).unwrap();
    }
    // Damaged checkpoint files are the user's input too: exit 2 naming the file.
    let ckpt = stopped.join("checkpoint");
    for (i, (file, bytes)) in [
        ("model.safetensors", &b"\x08\x00\x00"[..]),
        ("optimizer.json", &b"{}"[..]),
        ("optimizer.safetensors", &b""[..]),
    ]
    .into_iter()
    .enumerate()
    {
        let path = ckpt.join(file);
        let whole = std::fs::read(&path).unwrap();
        std::fs::write(&path, bytes).unwrap();
        let out = format!("damaged{i}");
        let o = lab(d, &["grng", "--quiet", "--resume", &arg, "--out", &out]);
        assert_eq!(code(&o), 2, "{file}: {}", text(&o));
        assert!(
            stderr(&o).contains(file) && stderr(&o).contains("the checkpoint is damaged"),
            "{file}: {}",
            stderr(&o)
        );
        assert!(!d.join(&out).exists(), "{file}: nothing written");
        std::fs::write(&path, whole).unwrap();
    }
    let o = lab(d, &["grng", "--quiet", "--resume", &arg, "--out", "whole"]);
    assert_eq!(code(&o), 0, "the repaired files resume: {}", text(&o));
}
