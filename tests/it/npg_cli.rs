//! `lab npg-rank1` end to end (spec §6.5): the smoke config's metrics.csv schema and
//! invariants, determinism of a seed, the `pg` baseline, and usage errors (exit 2).
use crate::common::*;
use lab::npg::log::COLUMNS;
use lab::run::is_timing_column;
use std::path::{Path, PathBuf};
use std::process::Output;

/// `lab npg-rank1 ARGS --quiet --threads 1` in `dir`.
pub fn npg(dir: &Path, args: &[&str]) -> Output {
    let all = [&["npg-rank1"], args, &["--quiet", "--threads", "1"]].concat();
    lab(dir, &all)
}

pub fn run_to(dir: &Path, config: &str, extra: &[&str]) -> PathBuf {
    let out = dir.join("run");
    let mut args = vec![
        "--config",
        config,
        "--out",
        out.to_str().expect("utf-8 path"),
        "--force",
    ];
    args.extend(extra);
    let o = npg(dir, &args);
    assert!(o.status.success(), "lab failed: {}", text(&o));
    out
}

pub fn smoke() -> String {
    format!(
        "{}/configs/npg-rank1/smoke.yaml",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn smoke_run_has_the_spec_schema_and_is_deterministic() {
    let dir = tempfile::tempdir().expect("tmp");
    let a = run_to(dir.path(), &smoke(), &[]);
    let (header, rows) = read_csv(&a.join("metrics.csv"));
    assert_eq!(header, COLUMNS, "metrics.csv columns in §6.4 order");
    let timing: Vec<&str> = COLUMNS
        .iter()
        .copied()
        .filter(|c| is_timing_column(c))
        .collect();
    assert_eq!(timing, ["wall_s", "steps_per_s", "rollout_ms", "update_ms"]);
    assert_eq!(rows.len(), 8);
    let meta = json(&a.join("meta.json"));
    assert_eq!(meta["threads"], 1, "--threads 1");
    assert_eq!(
        meta["torch_threads"], 1,
        "the config's torch_threads is recorded"
    );
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row[col(&header, "env_steps")], (512 * (i + 1)).to_string());
        for cell in &row[2..] {
            assert!(
                cell.is_empty() || cell.parse::<f64>().is_ok_and(f64::is_finite),
                "cell {cell}"
            );
        }
        let num = |name: &str| row[col(&header, name)].parse::<f64>().expect(name);
        assert!(num("u_norm_sq") >= 0.0 && num("g_dot_d") >= 0.0 && num("d_norm") > 0.0);
    }
    assert!(rows
        .iter()
        .any(|r| !r[col(&header, "eval_return_mean")].is_empty()));
    let summary = json(&a.join("summary.json"));
    assert_eq!(summary["env_steps"], 4096);
    let (ep_header, episodes) = read_csv(&a.join("episodes.csv"));
    assert_eq!(ep_header[0], "env_steps");
    assert!(!episodes.is_empty());
    // Same config and seed on CPU: identical metrics apart from timings.
    let dir2 = tempfile::tempdir().expect("tmp");
    let b = run_to(dir2.path(), &smoke(), &[]);
    assert_eq!(untimed(&a).len(), 1 + 8, "header and 8 rows");
    assert_eq!(untimed(&a), untimed(&b));
    // A different seed gives a different run.
    let dir3 = tempfile::tempdir().expect("tmp");
    let c = run_to(
        dir3.path(),
        &smoke(),
        &["--seed", "1", "--set", "total_steps=1024"],
    );
    let (first_two, other_seed) = (untimed(&a)[1..3].to_vec(), untimed(&c));
    assert_eq!(other_seed.len(), 1 + 2, "header and 2 rows");
    assert_ne!(first_two, other_seed[1..]);
}

fn write_config(dir: &Path, text: &str) -> String {
    let p = dir.join("cfg.yaml");
    std::fs::write(&p, text).expect("write config");
    p.to_str().expect("utf-8").to_string()
}

/// Every implemented algorithm on the smoke settings (its algo block from
/// configs/npg-rank1/<algo>.yaml), with the columns each one fills.
#[test]
fn every_algorithm_runs_the_smoke_setting() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = env!("CARGO_MANIFEST_DIR");
    for algo in ["pg", "a2c", "npg-cg", "trpo", "ppo", "acktr", "npg-exact"] {
        let block = std::fs::read_to_string(format!("{root}/configs/npg-rank1/{algo}.yaml"))
            .expect("algo config");
        let cfg = write_config(dir.path(), &format!("{block}total_steps: 1024\neval: {{every: 2, episodes: 1, mode: deterministic, seed_offset: 10000}}\n"));
        let out = run_to(dir.path(), &cfg, &[]);
        let (header, rows) = read_csv(&out.join("metrics.csv"));
        assert_eq!(rows.len(), 2, "{algo}");
        let filled = |r: &Vec<String>, name: &str| !r[col(&header, name)].is_empty();
        for r in &rows {
            assert_eq!(r[0], algo);
            assert!(
                filled(r, "g_norm") && filled(r, "approx_kl") && !filled(r, "u_norm_sq"),
                "{algo}"
            );
            assert_eq!(
                filled(r, "cg_iters"),
                algo == "npg-cg" || algo == "trpo",
                "{algo}"
            );
            assert_eq!(filled(r, "ls_accepted"), algo == "trpo", "{algo}");
            assert_eq!(filled(r, "clipfrac"), algo == "ppo", "{algo}");
            if algo == "npg-cg" || algo == "trpo" {
                let kl: f64 = r[col(&header, "approx_kl")].parse().expect("kl");
                assert!(kl < 0.02, "{algo}: approx_kl {kl}");
            }
        }
    }
}

#[test]
fn bad_values_exit_2() {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = write_config(dir.path(), "algo: {kind: acktr, kl_clip: 0}\n");
    let cases = [
        (vec!["--config", &cfg, "--out", "r"], "`algo.kl_clip`"),
        (
            vec!["--set", "algo.damping=0", "--out", "r2"],
            "algo.damping",
        ),
        (
            vec!["--set", "env.id=Hopper-v9", "--out", "r3"],
            "`env.id` (from --set env.id=Hopper-v9): unknown environment",
        ),
        // A fieldless step rule (fixed, adam) refuses a stray key like the others do.
        (
            vec![
                "--set",
                "algo.step_rule={kind: fixed, max_kl: 0.01}",
                "--out",
                "r4",
            ],
            "unknown key `algo.step_rule.max_kl`",
        ),
        (
            vec![
                "--set",
                "algo.step_rule={kind: adam, foo: 1}",
                "--out",
                "r5",
            ],
            "unknown key `algo.step_rule.foo`",
        ),
    ];
    for (args, message) in cases {
        let o = npg(dir.path(), &args);
        assert_eq!(code(&o), 2, "{args:?}: {}", text(&o));
        assert!(stderr(&o).contains(message), "want {message}: {}", text(&o));
    }
}

/// The exact Fisher is checked before the first rollout: a continuous action space, an actor
/// above the key in force, and a Fisher larger than memory (a 2.3M-parameter actor's F is
/// 42 TB) are usage errors naming the key, with no run folder left (it aborted on allocation).
#[test]
fn exact_fisher_runs_are_checked_before_training() {
    let dir = tempfile::tempdir().expect("tmp");
    let exact = format!(
        "{}/configs/npg-rank1/npg-exact.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let cases = [
        (
            vec!["--set", "env.id=Pendulum-v1"],
            "algo.kind = npg-exact needs a discrete action space",
        ),
        (
            vec!["--set", "hidden=[64,64]"],
            "the actor has 4610 parameters, more than algo.max_params = 3000",
        ),
        (
            vec![
                "--set",
                "hidden=[1500,1500]",
                "--set",
                "algo.max_params=100000000",
            ],
            "algo.kind = npg-exact: the exact Fisher of the 2262002-parameter actor",
        ),
    ];
    let smoke = smoke();
    let cos = (
        vec!["--set", "cos_to_exact_every=1", "--set", "hidden=[64,64]"],
        "cos_to_exact_every: the actor has 4610 parameters, more than cos_to_exact_max_params",
    );
    let configs = [&exact, &exact, &exact, &smoke];
    for (i, (sets, message)) in cases.into_iter().chain([cos]).enumerate() {
        let out = format!("r{i}");
        let mut args = vec!["--config", configs[i]];
        args.extend(sets);
        args.extend(["--set", "total_steps=512", "--out", &out]);
        let o = npg(dir.path(), &args);
        assert_eq!(code(&o), 2, "{args:?}: {}", text(&o));
        assert!(stderr(&o).contains(message), "want {message}: {}", text(&o));
        assert!(!dir.path().join(&out).exists(), "{args:?} left {out}");
    }
}

/// `backend: torch` still runs deterministically, and its first iteration equals the native
/// backend's to rounding (same init, same RNG streams; spec §1.12).
#[test]
fn torch_backend_is_deterministic_and_agrees_with_native() {
    let one = ["--set", "total_steps=512"];
    let torch = [&one[..], &["--set", "backend=torch"]].concat();
    let (d1, d2, d3) = (
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
    );
    let t1 = untimed(&run_to(d1.path(), &smoke(), &torch));
    let t2 = untimed(&run_to(d2.path(), &smoke(), &torch));
    let n1 = untimed(&run_to(d3.path(), &smoke(), &one));
    assert_eq!(t1.len(), 1 + 1, "header and one row");
    assert_eq!(t1, t2);
    assert_eq!(n1[0], t1[0], "same columns");
    let (t, n) = (&t1[1], &n1[1]);
    assert_eq!(t.len(), n.len());
    for (a, b) in t.iter().zip(n) {
        match (a.parse::<f64>(), b.parse::<f64>()) {
            (Ok(x), Ok(y)) => assert!((x - y).abs() <= 1e-9 * x.abs().max(1.0), "{x} vs {y}"),
            _ => assert_eq!(a, b),
        }
    }
}
