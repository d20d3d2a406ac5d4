//! `lab npg-rank1` end to end (spec §6.5): the smoke config's metrics.csv schema and
//! invariants, determinism of a seed, the `pg` baseline, and usage errors (exit 2).
use lab::npg::log::COLUMNS;
use lab::run::is_timing_column;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn lab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lab"))
        .arg("npg-rank1")
        .args(args)
        .args(["--quiet", "--threads", "1"])
        .output()
        .expect("run lab")
}

fn run_to(dir: &Path, config: &str, extra: &[&str]) -> PathBuf {
    let out = dir.join("run");
    let mut args = vec![
        "--config",
        config,
        "--out",
        out.to_str().expect("utf-8 path"),
        "--force",
    ];
    args.extend(extra);
    let o = lab(&args);
    assert!(
        o.status.success(),
        "lab failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

fn smoke() -> String {
    format!(
        "{}/configs/npg-rank1/smoke.yaml",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).expect("csv");
    let header = r
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect();
    let rows = r
        .records()
        .map(|x| x.expect("row").iter().map(String::from).collect())
        .collect();
    (header, rows)
}

fn col(header: &[String], name: &str) -> usize {
    header.iter().position(|h| h == name).expect("column")
}

fn without_timing(header: &[String], rows: &[Vec<String>]) -> Vec<Vec<String>> {
    let keep: Vec<usize> = (0..header.len())
        .filter(|&i| !is_timing_column(&header[i]))
        .collect();
    rows.iter()
        .map(|r| keep.iter().map(|&i| r[i].clone()).collect())
        .collect()
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
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(a.join("meta.json")).expect("meta"))
            .expect("meta.json");
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
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(a.join("summary.json")).expect("summary"))
            .expect("json");
    assert_eq!(summary["env_steps"], 4096);
    let (ep_header, episodes) = read_csv(&a.join("episodes.csv"));
    assert_eq!(ep_header[0], "env_steps");
    assert!(!episodes.is_empty());
    // Same config and seed on CPU: identical metrics apart from timings.
    let dir2 = tempfile::tempdir().expect("tmp");
    let b = run_to(dir2.path(), &smoke(), &[]);
    let (_, rows_b) = read_csv(&b.join("metrics.csv"));
    assert_eq!(
        without_timing(&header, &rows),
        without_timing(&header, &rows_b)
    );
    // A different seed gives a different run.
    let dir3 = tempfile::tempdir().expect("tmp");
    let c = run_to(
        dir3.path(),
        &smoke(),
        &["--seed", "1", "--set", "total_steps=1024"],
    );
    let (_, rows_c) = read_csv(&c.join("metrics.csv"));
    assert_ne!(
        without_timing(&header, &rows[..2]),
        without_timing(&header, &rows_c)
    );
}

/// A run continued from its checkpoint ends with the same metrics as an uninterrupted run.
#[test]
fn resume_gives_the_same_metrics_as_an_uninterrupted_run() {
    let (full, half, cont) = (
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
    );
    let a = run_to(full.path(), &smoke(), &[]);
    let b = run_to(half.path(), &smoke(), &["--set", "total_steps=2048"]);
    let resume = format!("resume_from={}", b.display());
    let c = run_to(cont.path(), &smoke(), &["--set", &resume]);
    let (header, rows_a) = read_csv(&a.join("metrics.csv"));
    let (_, rows_c) = read_csv(&c.join("metrics.csv"));
    assert_eq!(
        without_timing(&header, &rows_a),
        without_timing(&header, &rows_c)
    );
    let episodes = |d: &Path| std::fs::read_to_string(d.join("episodes.csv")).expect("episodes");
    assert_eq!(episodes(&a), episodes(&c));
    let summary = |d: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(d.join("summary.json")).expect("summary"))
            .expect("json")
    };
    assert_eq!(
        summary(&a)["final_eval_mean"],
        summary(&c)["final_eval_mean"]
    );
    assert_eq!(summary(&a)["final_ma100"], summary(&c)["final_ma100"]);
    // `--resume RUN_DIR` does the same from the run's own config.yaml.
    let again = tempfile::tempdir().expect("tmp");
    let d = again.path().join("run");
    let (b_dir, d_dir) = (b.to_str().expect("utf-8"), d.to_str().expect("utf-8"));
    let o = lab(&[
        "--resume",
        b_dir,
        "--set",
        "total_steps=4096",
        "--out",
        d_dir,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (_, rows_d) = read_csv(&d.join("metrics.csv"));
    assert_eq!(
        without_timing(&header, &rows_a),
        without_timing(&header, &rows_d)
    );
    let o = Command::new(env!("CARGO_BIN_EXE_lab"))
        .args(["decompose", "--resume", b_dir])
        .current_dir(again.path())
        .output()
        .expect("run lab");
    assert_eq!(o.status.code(), Some(2), "decompose keeps no checkpoints");
    // Resuming a finished run, or with another algorithm, is a usage error.
    let o = lab(&[
        "--config",
        &smoke(),
        "--set",
        &format!("resume_from={}", a.display()),
        "--out",
        cont.path().join("x").to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(2));
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
    for algo in ["pg", "a2c", "npg-cg", "trpo", "ppo", "npg-exact"] {
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
fn unimplemented_algorithms_and_bad_values_exit_2() {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = write_config(dir.path(), "algo: {kind: acktr}\n");
    let o = lab(&[
        "--config",
        &cfg,
        "--out",
        dir.path().join("r").to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not implemented yet"));
    let o = lab(&[
        "--set",
        "algo.damping=0",
        "--out",
        dir.path().join("r2").to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("algo.damping"));
    let o = lab(&[
        "--set",
        "env.id=Hopper-v9",
        "--out",
        dir.path().join("r3").to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(2));
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
    let (header, t1) = read_csv(&run_to(d1.path(), &smoke(), &torch).join("metrics.csv"));
    let (_, t2) = read_csv(&run_to(d2.path(), &smoke(), &torch).join("metrics.csv"));
    let (_, n1) = read_csv(&run_to(d3.path(), &smoke(), &one).join("metrics.csv"));
    assert_eq!(without_timing(&header, &t1), without_timing(&header, &t2));
    let (t, n) = (
        &without_timing(&header, &t1)[0],
        &without_timing(&header, &n1)[0],
    );
    for (a, b) in t.iter().zip(n) {
        match (a.parse::<f64>(), b.parse::<f64>()) {
            (Ok(x), Ok(y)) => assert!((x - y).abs() <= 1e-9 * x.abs().max(1.0), "{x} vs {y}"),
            _ => assert_eq!(a, b),
        }
    }
}
