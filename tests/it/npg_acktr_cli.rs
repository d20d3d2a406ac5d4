//! `acktr` end to end (npg spec §3.7, §6.5): CartPole-v1 learning, determinism and resume
//! from a checkpoint, the tch backend on a Gaussian policy, rejected keys.
use crate::common::*;
use std::path::{Path, PathBuf};

fn run(dir: &Path, extra: &[&str]) -> PathBuf {
    let cfg = format!(
        "{}/configs/npg-rank1/acktr.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = dir.join("run");
    let mut args = vec![
        "npg-rank1",
        "--config",
        &cfg,
        "--out",
        out.to_str().expect("utf-8"),
        "--force",
    ];
    args.extend(extra);
    args.extend(["--quiet", "--threads", "1"]);
    let o = lab(dir, &args);
    assert!(o.status.success(), "lab failed: {}", text(&o));
    out
}

/// 30 iterations of 4 × 128 steps on CartPole-v1 (seed 0): the training return grows severalfold
/// over the first iterations', the same seed gives the same metrics, and a run resumed from
/// its checkpoint (K-FAC factors, inverses, momentum) continues exactly.
#[test]
fn cartpole_learns_deterministically_and_resumes_exactly() {
    let dirs: Vec<_> = (0..4).map(|_| tempfile::tempdir().expect("tmp")).collect();
    // Evaluations every 7 iterations, so the half run's last (evaluated) iteration 7 is one
    // of the full run's too; it stops at minibatch step 28, between two inverse refreshes.
    let steps = ["--set", "total_steps=15360", "--set", "eval.every=7"];
    let a = run(dirs[0].path(), &steps);
    let b = run(dirs[1].path(), &steps);
    assert_eq!(untimed(&a), untimed(&b), "same seed, same metrics");
    let (header, rows) = read_csv(&a.join("metrics.csv"));
    assert_eq!(rows.len(), 30);
    let cell = |r: &Vec<String>, name: &str| r[col(&header, name)].parse::<f64>().ok();
    let first = cell(&rows[0], "ep_return_mean").expect("episodes in iteration 1");
    let last = cell(&rows[29], "ep_return_ma100").expect("ma100");
    assert!(
        last > 3.0 * first,
        "ma100 {last} vs first iteration {first}"
    );
    for r in &rows {
        assert_eq!(r[0], "acktr");
        let step = cell(r, "step_size").expect("step_size");
        assert!(step > 0.0 && step <= 0.25, "ν·η in (0, η]: {step}");
        assert!(cell(r, "g_dot_d").expect("vᵀ∇L") > 0.0);
        assert!(cell(r, "clip_frac_update").is_some() && cell(r, "lr") == Some(0.25));
    }
    let half = run(
        dirs[2].path(),
        &["--set", "total_steps=3584", "--set", "eval.every=7"],
    );
    let resume = format!("resume_from={}", half.display());
    let cont = run(dirs[3].path(), &[&steps[..], &["--set", &resume]].concat());
    assert_eq!(
        untimed(&a),
        untimed(&cont),
        "resumed run equals the uninterrupted one"
    );
}

#[test]
fn torch_backend_runs_acktr_on_a_gaussian_policy() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = run(
        dir.path(),
        &[
            "--set",
            "env.id=Pendulum-v1",
            "--set",
            "backend=torch",
            "--set",
            "total_steps=1024",
        ],
    );
    let (header, rows) = read_csv(&out.join("metrics.csv"));
    assert_eq!(rows.len(), 2);
    for r in &rows {
        for name in ["g_norm", "g_dot_d", "d_norm", "step_size", "approx_kl"] {
            let x: f64 = r[col(&header, name)].parse().expect(name);
            assert!(x.is_finite(), "{name}");
        }
    }
}

#[test]
fn bad_acktr_values_are_rejected_naming_the_key() {
    let dir = tempfile::tempdir().expect("tmp");
    for (set, key) in [
        ("algo.damping=-0.01", "algo.damping"),
        ("algo.kl_clip=0", "algo.kl_clip"),
        ("algo.kl_clip=-1", "algo.kl_clip"),
        ("algo.momentum=1", "algo.momentum"),
        ("algo.stat_decay=1.5", "algo.stat_decay"),
        ("algo.inverse_every=0", "algo.inverse_every"),
    ] {
        let o = lab(
            dir.path(),
            &[
                "npg-rank1",
                "--set",
                "algo.kind=acktr",
                "--set",
                set,
                "--out",
                "r",
                "--quiet",
            ],
        );
        assert_eq!(code(&o), 2, "{set}: {}", text(&o));
        assert!(
            stderr(&o).contains(&format!("`{key}`")),
            "{set}: {}",
            stderr(&o)
        );
    }
}
