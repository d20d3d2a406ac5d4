//! `lab npg-rank1` under hostile input: values that overflow, keys an env ignores, networks
//! and batches no memory holds, and resuming MuJoCo runs (whose threshold is +∞).
use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::Output;

/// `lab npg-rank1 ARGS --quiet --threads 1` in `dir`.
fn npg(dir: &Path, args: &[&str]) -> Output {
    let all = [&["npg-rank1"], args, &["--quiet", "--threads", "1"]].concat();
    lab(dir, &all)
}

fn smoke() -> String {
    format!(
        "{}/configs/npg-rank1/smoke.yaml",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// Each case exits 2 with its message and leaves no run folder.
fn refused(cases: &[(Vec<&str>, &str)]) {
    let dir = tempfile::tempdir().expect("tmp");
    let smoke = smoke();
    for (i, (sets, message)) in cases.iter().enumerate() {
        let out = format!("r{i}");
        let mut args = vec!["--config", smoke.as_str()];
        args.extend(sets.iter().copied());
        args.extend(["--out", &out]);
        let o = npg(dir.path(), &args);
        assert_eq!(code(&o), 2, "{args:?}: {}", text(&o));
        assert!(stderr(&o).contains(message), "want {message}: {}", text(&o));
        assert!(!dir.path().join(&out).exists(), "{args:?} left {out}");
    }
}

/// Values that wrapped around in 64 bits, a NaN threshold, and `env.model_dir` on a
/// classic-control env or a normaliser's clip with the normaliser off (silently ignored
/// before) are usage errors naming the key.
#[test]
fn npg_overflowing_and_ignored_values_are_refused() {
    refused(&[
        // 10^12 × 10^12 wrapped to a small batch size, so `minibatches` passed its check
        // and the run began building 10^12 envs.
        (
            vec![
                "--set",
                "num_envs=1000000000000",
                "--set",
                "rollout_len=1000000000000",
            ],
            "`num_envs` (from --set num_envs=1000000000000): num_envs × rollout_len = \
             1000000000000 × 1000000000000 does not fit in 64 bits",
        ),
        // seed + offset + k wrapped onto the training envs' seeds.
        (
            vec!["--set", "eval.seed_offset=18446744073709551615"],
            "`eval.seed_offset` (from --set eval.seed_offset=18446744073709551615): evaluation \
             seeds",
        ),
        (
            vec!["--set", "threshold=.nan"],
            "`threshold` (from --set threshold=.nan): must be a number",
        ),
        (
            vec!["--set", "env.model_dir=/tmp"],
            "`env.model_dir` (from --set env.model_dir=/tmp): is for the MuJoCo tasks' model \
             files; `CartPole-v1` is a classic-control env",
        ),
        // npg-cg and trpo make one CG step on the plain surrogate: both keys were ignored.
        (
            vec!["--set", "algo.kind=trpo", "--set", "epochs=4"],
            "`epochs` (from --set epochs=4): must be 1 for algo.kind = trpo",
        ),
        (
            vec!["--set", "algo.kind=npg-cg", "--set", "ent_coef=0.01"],
            "`ent_coef` (from --set ent_coef=0.01): must be 0 for algo.kind = npg-cg",
        ),
        // A normaliser's clip while that normaliser is off (classic control's default).
        (
            vec!["--set", "obs_norm.clip=5"],
            "`obs_norm.clip` (from --set obs_norm.clip=5): is read only while the normaliser \
             runs, and obs_norm.enabled is null: off for the classic-control env CartPole-v1",
        ),
        (
            vec![
                "--set",
                "reward_norm.enabled=false",
                "--set",
                "reward_norm.clip=5",
            ],
            "`reward_norm.clip` (from --set reward_norm.clip=5): is read only while the \
             normaliser runs, and reward_norm.enabled is false",
        ),
    ]);
}

/// The same clip with its normaliser on runs.
#[test]
fn npg_a_normaliser_clip_runs_when_the_normaliser_is_on() {
    let dir = tempfile::tempdir().expect("tmp");
    let smoke = smoke();
    let sets = ["--set", "obs_norm.enabled=true", "--set", "obs_norm.clip=5"];
    let o = npg(
        dir.path(),
        &[&["--config", smoke.as_str()], &sets[..]].concat(),
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
}

/// Networks and batches beyond any machine's memory are refused before the run folder:
/// `hidden: [100000, 100000]` panicked in libtorch's allocator (exit 101, meta.json left
/// "running"), a huge `num_envs` built envs until the process was killed.
#[test]
fn npg_runs_larger_than_memory_are_refused_before_the_run() {
    if lab::device::memory::available().is_none() {
        eprintln!("skipped: no /proc/meminfo");
        return;
    }
    refused(&[
        (
            vec!["--set", "hidden=[1000000,1000000]"],
            "of memory but only",
        ),
        (
            vec!["--set", "critic.hidden=[1000000,1000000]"],
            "parameters (`critic.hidden`) ≥",
        ),
        (
            vec!["--set", "num_envs=1000000000000"],
            "batch: num_envs × rollout_len = 1000000000000 × 128 transitions ≥",
        ),
        // 10^6 × 10^6 Kronecker factor of the hidden layer, 8 TB (the weights are 40 MB).
        (
            vec!["--set", "algo.kind=acktr", "--set", "hidden=[1000000]"],
            "ACKTR's Kronecker factors of the actor's layers (`hidden`) ≥",
        ),
    ]);
}

/// Run `lab npg-rank1` on Hopper-v5 into `dir/name` with a tiny budget.
fn hopper(dir: &Path, name: &str, extra: &[&str]) -> (Output, PathBuf) {
    let out = dir.join(name);
    let mut args = vec![
        "--set",
        "env.id=Hopper-v5",
        "--set",
        "num_envs=1",
        "--set",
        "rollout_len=128",
        "--set",
        "env.max_episode_steps=60",
        "--set",
        "eval.episodes=1",
        "--set",
        "eval.every=2",
        "--set",
        "checkpoint_every=2",
        "--out",
        out.to_str().expect("utf-8"),
    ];
    args.extend(extra);
    (npg(dir, &args), out)
}

/// A MuJoCo run resumes: its threshold (+∞, no "solved" return) was written as `null` into
/// checkpoint.json, which could not be read back ("invalid type: null, expected f64"), so
/// no MuJoCo run could be continued. The continued run equals the uninterrupted one.
#[test]
fn npg_mujoco_runs_resume_from_their_checkpoint() {
    let dir = tempfile::tempdir().expect("tmp");
    let (o, full) = hopper(dir.path(), "full", &["--set", "total_steps=768"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let (o, half) = hopper(dir.path(), "half", &["--set", "total_steps=256"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let saved = json(&half.join("checkpoint.json"));
    assert_eq!(saved["tracker"]["threshold"], "inf", "{}", saved["tracker"]);
    let resume = format!("resume_from={}", half.display());
    let (o, cont) = hopper(
        dir.path(),
        "cont",
        &["--set", "total_steps=768", "--set", &resume],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    let timing = ["wall_s", "steps_per_s", "rollout_ms", "update_ms"];
    let rows = csv_without(&full.join("metrics.csv"), &timing);
    assert_eq!(rows.len(), 1 + 6, "header and 6 iterations");
    assert_eq!(rows, csv_without(&cont.join("metrics.csv"), &timing));
    assert_eq!(
        read(&full.join("episodes.csv")),
        read(&cont.join("episodes.csv"))
    );
    // A checkpoint written before the fix (threshold null) reads as +∞ too.
    let old = dir.path().join("old");
    std::fs::create_dir(&old).expect("mkdir");
    for f in ["config.yaml", "metrics.csv", "episodes.csv"] {
        std::fs::copy(half.join(f), old.join(f)).expect("copy");
    }
    let mut ckpt = saved.clone();
    ckpt["tracker"]["threshold"] = serde_json::Value::Null;
    std::fs::write(old.join("checkpoint.json"), ckpt.to_string()).expect("write");
    let resume = format!("resume_from={}", old.display());
    let (o, again) = hopper(
        dir.path(),
        "again",
        &["--set", "total_steps=768", "--set", &resume],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(rows, csv_without(&again.join("metrics.csv"), &timing));
}

/// Resuming with another `threshold` is refused: the checkpoint's threshold silently
/// replaced the config's (and `steps_to_threshold` so far was counted against it).
#[test]
fn npg_resume_with_another_threshold_is_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let half = dir.path().join("half");
    let smoke = smoke();
    let half_s = half.to_str().expect("utf-8");
    let o = npg(
        dir.path(),
        &[
            "--config",
            &smoke,
            "--set",
            "total_steps=1024",
            "--out",
            half_s,
        ],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    let resume = format!("resume_from={half_s}");
    let o = npg(
        dir.path(),
        &[
            "--config",
            &smoke,
            "--set",
            &resume,
            "--set",
            "threshold=100",
            "--out",
            "cont",
        ],
    );
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(
        stderr(&o).contains(
            "threshold: the checkpoint counted steps_to_threshold against 475, this config asks \
             for 100"
        ),
        "{}",
        text(&o)
    );
    assert!(!dir.path().join("cont").exists(), "no run folder left");
    // The run's own threshold continues.
    let o = npg(
        dir.path(),
        &["--config", &smoke, "--set", &resume, "--out", "cont2"],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
}

/// Ctrl-C / SIGTERM saves a checkpoint at the row the run stops after, so `--resume`
/// continues from there: with `checkpoint_every: 0` (only at the end) an interrupted run
/// had no checkpoint at all ("cannot read checkpoint.json"), and with a periodic one its rows
/// since that checkpoint were computed again. The continued run equals an uninterrupted one.
#[test]
fn npg_interrupted_run_resumes_from_the_row_it_stopped_after() {
    use std::process::{Command, Stdio};
    use std::time::Duration;
    let dir = tempfile::tempdir().expect("tmp");
    let smoke = smoke();
    let common = [
        "npg-rank1",
        "--config",
        &smoke,
        "--set",
        "eval.every=0",
        "--set",
        "checkpoint_every=0",
        "--quiet",
        "--threads",
        "1",
    ];
    let run = dir.path().join("int");
    let mut child = KillOnDrop(
        Command::new(LAB)
            .args(common)
            .args(["--set", "total_steps=100000000", "--out"])
            .arg(&run)
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn lab"),
    );
    let metrics = run.join("metrics.csv");
    wait_until("two metrics rows", Duration::from_secs(120), || {
        let rows = std::fs::read_to_string(&metrics)
            .map(|t| t.lines().count().saturating_sub(1))
            .unwrap_or(0);
        try_status(&run).as_deref() == Some("running") && rows >= 2
    });
    let status = child.terminate("the run to stop after SIGTERM");
    assert_eq!(status.code(), Some(143));
    assert_eq!(json(&run.join("meta.json"))["status"], "interrupted");
    let (_, rows) = read_csv(&metrics);
    let n = rows.len();
    let ckpt = run.join("checkpoint.json");
    assert!(ckpt.exists(), "an interrupted run leaves a checkpoint");
    assert_eq!(json(&ckpt)["iter"], n, "at the last row written");
    // Continue two more iterations; the same budget uninterrupted gives the same rows.
    let total = format!("total_steps={}", (n + 2) * 512);
    let cont = dir.path().join("cont");
    let o = lab(
        dir.path(),
        &[
            &common[..],
            &["--resume", run.to_str().expect("utf-8"), "--set", &total],
            &["--out", cont.to_str().expect("utf-8")],
        ]
        .concat(),
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    let full = dir.path().join("full");
    let o = lab(
        dir.path(),
        &[
            &common[..],
            &["--set", &total, "--out", full.to_str().expect("utf-8")],
        ]
        .concat(),
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    let timing = ["wall_s", "steps_per_s", "rollout_ms", "update_ms"];
    let want = csv_without(&full.join("metrics.csv"), &timing);
    assert_eq!(want.len(), 1 + n + 2);
    assert_eq!(want, csv_without(&cont.join("metrics.csv"), &timing));
    assert_eq!(
        read(&full.join("episodes.csv")),
        read(&cont.join("episodes.csv"))
    );
}
