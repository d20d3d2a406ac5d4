//! `lab entropy-probe` task train end to end (spec §6.4 smoke assertions, §6.5 items 21–22,
//! the input errors of §6.5 and the issue): every §4.7 column, finite cells, the controller's
//! files, determinism, probe = the end of training, clear exit-2 errors.
use crate::common::*;
use lab::entropy::columns::{MAY_BE_EMPTY, METRICS};
use std::path::{Path, PathBuf};

pub fn smoke() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/entropy-probe/smoke.yaml");
    read(&path)
}

/// The smoke config without its study block: one run.
pub fn single(dir: &Path) -> PathBuf {
    let text = smoke();
    let body = text.split("\nstudy:").next().expect("smoke.yaml");
    let path = dir.join("single.yaml");
    std::fs::write(&path, body).expect("write config");
    path
}

/// `lab entropy-probe --config single.yaml --set ...` in `dir`.
pub fn lab_single(dir: &Path, sets: &[&str], out: Option<&str>) -> std::process::Output {
    lab_config(dir, &single(dir), sets, out)
}

/// `lab entropy-probe --config CFG --set ...` in `dir`.
pub fn lab_config(
    dir: &Path,
    cfg: &Path,
    sets: &[&str],
    out: Option<&str>,
) -> std::process::Output {
    let mut args = vec![
        "entropy-probe",
        "--quiet",
        "--config",
        cfg.to_str().unwrap(),
    ];
    for s in sets {
        args.extend(["--set", s]);
    }
    if let Some(out) = out {
        args.extend(["--out", out]);
    }
    lab(dir, &args)
}

pub fn run_single(dir: &Path, sets: &[&str], out: &str) -> PathBuf {
    let o = lab_single(dir, sets, Some(out));
    assert_eq!(code(&o), 0, "{}", text(&o));
    dir.join(out)
}

/// Run the smoke study (4 runs) in `dir`; its directory.
pub fn smoke_study(dir: &Path) -> PathBuf {
    let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/entropy-probe/smoke.yaml");
    let o = lab(
        dir,
        &[
            "entropy-probe",
            "--quiet",
            "--config",
            cfg.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    dir.join("results/entropy-probe/smoke")
}

#[test]
fn smoke_study_writes_every_column_and_the_controller_logs() {
    let dir = tempfile::tempdir().unwrap();
    let root = smoke_study(dir.path());
    for preset in ["bigram", "gpt-nano"] {
        for condition in ["plain", "feedback"] {
            let run = root.join(format!(
                "model.preset={preset},condition={condition}/seed-0"
            ));
            let (header, rows) = read_csv(&run.join("metrics.csv"));
            assert_eq!(
                header, METRICS,
                "{preset}/{condition}: columns in the §4.7 order"
            );
            let steps: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
            assert_eq!(steps, ["20", "40", "60"], "{preset}/{condition}");
            for row in &rows {
                assert_eq!(row.len(), header.len());
                for (name, cell) in header.iter().zip(row) {
                    if cell.is_empty() {
                        assert!(
                            MAY_BE_EMPTY.contains(&name.as_str()),
                            "{preset}/{condition} step {}: `{name}` is empty",
                            row[0]
                        );
                        continue;
                    }
                    let v: f64 = cell.parse().unwrap_or(f64::NAN);
                    assert!(v.is_finite(), "{preset}/{condition}: `{name}` = {cell}");
                }
            }
            let (_, ctrl) = read_csv(&run.join("ctrl.csv"));
            assert!(
                ctrl.len() >= 5,
                "{preset}/{condition}: {} ctrl rows",
                ctrl.len()
            );
            let last = rows.last().unwrap();
            let u = &last[col(&header, "ctrl_u")];
            assert_eq!(
                condition == "feedback",
                !u.is_empty(),
                "{preset}/{condition}: ctrl_u `{u}`"
            );
            let summary = json(&run.join("summary.json"));
            assert!(summary["stab_loss_jitter"].as_f64().is_some(), "{summary}");
            assert_eq!(summary["condition"], condition);
            let h = summary["h_ref"].as_f64().unwrap();
            assert!(
                h > 0.0 && h < 16f64.ln(),
                "h_ref {h} is the synthetic source's rate"
            );
            assert!(run.join("samples/eval_60.jsonl").is_file());
        }
    }
}

#[test]
fn same_seed_gives_identical_metrics_and_samples() {
    let dir = tempfile::tempdir().unwrap();
    let a = run_single(dir.path(), &["condition=feedback"], "a");
    let b = run_single(dir.path(), &["condition=feedback"], "b");
    let drop = ["wall_s"];
    assert_eq!(
        csv_without(&a.join("metrics.csv"), &drop),
        csv_without(&b.join("metrics.csv"), &drop)
    );
    for f in [
        "ctrl.csv",
        "steps.csv",
        "samples/eval_20.jsonl",
        "samples/eval_60.jsonl",
    ] {
        assert_eq!(read(&a.join(f)), read(&b.join(f)), "{f}");
    }
    let c = run_single(dir.path(), &["condition=feedback", "seed=1"], "c");
    assert_ne!(
        read(&a.join("steps.csv")),
        read(&c.join("steps.csv")),
        "seed must matter"
    );
}

/// §6.5 item 21: the mean sampled NLL estimates the mean entropy along the samples.
#[test]
fn sampled_nll_agrees_with_free_running_entropy() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_single(
        dir.path(),
        &["eval.final_samples=32", "eval.final_len=64"],
        "r",
    );
    let s = json(&run.join("summary.json"));
    let (h, nll) = (
        s["fr_entropy_t1"].as_f64().unwrap(),
        s["fr_nll_t1"].as_f64().unwrap(),
    );
    // 32 × 64 = 2048 draws of −ln p with a per-token sd below ln 16 (generous bound): the
    // standard error is below 2.78 / √2048 ≈ 0.061; 4 of them.
    assert!(
        (h - nll).abs() < 4.0 * 16f64.ln() / 2048f64.sqrt(),
        "entropy {h} vs nll {nll}"
    );
}

#[test]
fn probe_of_the_saved_weights_repeats_the_final_evaluation() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_single(dir.path(), &["condition=conventional"], "trained");
    let path = format!("checkpoint.path={}", run.display());
    let o = lab_single(dir.path(), &["task=probe", &path], Some("probed"));
    assert_eq!(code(&o), 0, "{}", text(&o));
    let (h1, trained) = read_csv(&run.join("metrics.csv"));
    let (h2, probed) = read_csv(&dir.path().join("probed/metrics.csv"));
    assert_eq!(h1, h2);
    let (last, row) = (trained.last().unwrap(), &probed[0]);
    let mut compared = 0;
    for (i, name) in h1.iter().enumerate() {
        if row[i].is_empty() || name == "wall_s" {
            continue;
        }
        // Same weights, prompts and sampling stream: samples-derived cells are equal exactly;
        // float sums may differ in the last bits (BLAS paths depend on memory alignment).
        let (a, b): (f64, f64) = (row[i].parse().unwrap(), last[i].parse().unwrap());
        let tol = 1e-7 * a.abs().max(b.abs()).max(1.0);
        assert!(
            (a - b).abs() <= tol,
            "`{name}`: probe {a} vs final evaluation {b}"
        );
        compared += 1;
    }
    assert!(compared >= 30, "only {compared} columns compared");
    assert_eq!(
        read(&run.join("samples/eval_60.jsonl")),
        read(&dir.path().join("probed/samples/eval_60.jsonl")),
        "the probe repeats the final evaluation's samples"
    );
}

#[test]
fn bad_inputs_exit_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("latin1.txt"), b"abc\xff\xfedef\n").unwrap();
    std::fs::write(dir.path().join("empty.txt"), b"").unwrap();
    std::fs::write(dir.path().join("blank.txt"), b"\n\n").unwrap();
    let cases: [(&[&str], &str); 13] = [
        (&["train.seq_len=64"], "train.seq_len"),
        (&["condition=calm"], "condition"),
        (&["data.split.train_tokens=50000"], "train_tokens"),
        (&["eval.greedy_samples=9"], "eval.greedy_samples"),
        (
            &["data.corpus={kind: file, path: missing.txt}"],
            "missing.txt",
        ),
        (&["task=probe"], "checkpoint.path"),
        (&["task=text"], "text.samples"),
        (&["controller.probe.len=0"], "controller.probe.len"),
        (&["controller.integral_limit=1"], "anti-windup"),
        (&["model.preset=gpt-huge"], "model.preset"),
        (
            &["data.corpus={kind: file, path: latin1.txt}"],
            "latin1.txt is not UTF-8",
        ),
        (&["data.corpus={kind: file, path: empty.txt}"], "is empty"),
        (
            &["task=text", "text.samples=blank.txt"],
            "blank.txt: no samples",
        ),
    ];
    for (sets, key) in cases {
        let o = lab_single(dir.path(), sets, None);
        assert_eq!(code(&o), 2, "{sets:?}: {}", text(&o));
        assert!(
            stderr(&o).contains(key),
            "{sets:?}: the message must name `{key}`: {}",
            stderr(&o)
        );
    }
    assert!(
        !dir.path().join("results").exists(),
        "exit 2 writes nothing"
    );
}

#[test]
fn a_diverging_run_stops_naming_the_step_and_keeps_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let o = lab_single(dir.path(), &["train.lr=1e30", "train.warmup=0"], Some("r"));
    assert_ne!(code(&o), 0, "{}", text(&o));
    assert!(stderr(&o).contains("at step"), "{}", stderr(&o));
    let (_, steps) = read_csv(&dir.path().join("r/steps.csv"));
    assert!(!steps.is_empty(), "the steps before the failure are kept");
    assert_eq!(status(&dir.path().join("r")), "failed");
}

/// The other two conditions run and do what their presets say: `noisy` trains with batch 4
/// at 3× the lr; `feedback_hold` holds the probe's entropy at the synthetic source's rate with
/// the entropy coefficient (its set-point is h_ref from the start, so every measurement after
/// warm-up has an error and a u).
#[test]
fn noisy_and_feedback_hold_follow_their_presets() {
    let dir = tempfile::tempdir().unwrap();
    let noisy = run_single(dir.path(), &["condition=noisy"], "noisy");
    let plain = run_single(dir.path(), &["condition=plain"], "plain");
    let (h, rows) = read_csv(&noisy.join("metrics.csv"));
    let (_, plain_rows) = read_csv(&plain.join("metrics.csv"));
    let tokens = |r: &Vec<String>| r[col(&h, "tokens_seen")].parse::<f64>().unwrap();
    assert_eq!(
        tokens(&rows[0]) * 2.0,
        tokens(&plain_rows[0]),
        "batch 4 vs 8"
    );
    let lr = |r: &Vec<String>| r[col(&h, "lr_eff")].parse::<f64>().unwrap();
    assert!((lr(&rows[2]) / lr(&plain_rows[2]) - 3.0).abs() < 1e-9);

    let hold = run_single(dir.path(), &["condition=feedback_hold"], "hold");
    let s = json(&hold.join("summary.json"));
    let (hc, ctrl) = read_csv(&hold.join("ctrl.csv"));
    let after_warmup: Vec<&Vec<String>> = ctrl
        .iter()
        .filter(|r| r[0].parse::<u64>().unwrap() > 10)
        .collect();
    assert!(!after_warmup.is_empty());
    for r in after_warmup {
        let setpoint: f64 = r[col(&hc, "setpoint")].parse().unwrap();
        assert_eq!(setpoint, s["h_ref"].as_f64().unwrap(), "hold targets h_ref");
        assert!(!r[col(&hc, "u")].is_empty());
    }
}

/// `eval.top_p` appends its two columns last; a nucleus of (almost) no mass keeps only the
/// most likely token, so its samples are the greedy ones (all prompts decoded greedily here).
#[test]
fn nucleus_columns_come_last_and_a_tiny_nucleus_is_greedy() {
    let dir = tempfile::tempdir().unwrap();
    let sets = [
        "eval.temperatures=[2]",
        "eval.top_p=1e-9",
        "eval.greedy_samples=4",
    ];
    let run = run_single(dir.path(), &sets, "p");
    let (header, rows) = read_csv(&run.join("metrics.csv"));
    let extra = [
        "fr_entropy_T2",
        "distinct_4_T2",
        "fr_entropy_top_p",
        "distinct_4_top_p",
    ];
    assert_eq!(&header[METRICS.len()..], extra);
    for row in &rows {
        let cell = |name: &str| -> f64 { row[col(&header, name)].parse().unwrap() };
        let (h, d) = (cell("fr_entropy_top_p"), cell("distinct_4_top_p"));
        assert!(
            (0.0..=16f64.ln() + 1e-9).contains(&h),
            "fr_entropy_top_p = {h}"
        );
        assert!((0.0..=1.0).contains(&d), "distinct_4_top_p = {d}");
        let greedy = cell("fr_entropy_greedy");
        assert!(
            (h - greedy).abs() <= 1e-9 * greedy.max(1.0),
            "{h} vs greedy {greedy}"
        );
        assert_eq!(d, cell("distinct_4_greedy"), "step {}", row[0]);
    }
    let nucleus = run_single(dir.path(), &["eval.top_p=0.9"], "q");
    let (h2, rows2) = read_csv(&nucleus.join("metrics.csv"));
    let h = |r: &[String]| -> f64 { r[col(&h2, "fr_entropy_top_p")].parse().unwrap() };
    assert!(
        rows2.iter().all(|r| h(r) > 0.0),
        "p = 0.9 samples more than the argmax"
    );
    for bad in ["eval.top_p=1.5", "eval.top_p=-0.1"] {
        let o = lab_single(dir.path(), &[bad], None);
        assert_eq!(code(&o), 2, "{bad}: {}", text(&o));
        assert!(stderr(&o).contains("eval.top_p"), "{}", stderr(&o));
    }
}

#[test]
fn optional_columns_come_last() {
    let dir = tempfile::tempdir().unwrap();
    let sets = ["eval.word_metrics=true", "eval.temperatures=[0.5, 2]"];
    let run = run_single(dir.path(), &sets, "w");
    let (header, rows) = read_csv(&run.join("metrics.csv"));
    assert_eq!(&header[..METRICS.len()], METRICS);
    let extra = [
        "w_distinct_1",
        "w_distinct_2",
        "w_seq_rep_4",
        "zipf_w",
        "fr_entropy_T0.5",
        "distinct_4_T0.5",
        "fr_entropy_T2",
        "distinct_4_T2",
    ];
    assert_eq!(&header[METRICS.len()..], extra);
    for name in &extra[4..] {
        let v: f64 = rows[2][col(&header, name)].parse().unwrap();
        assert!((0.0..=16f64.ln() + 1e-9).contains(&v), "{name} = {v}");
    }
    let last = rows.last().unwrap();
    let d1: f64 = last[col(&header, "w_distinct_1")].parse().unwrap();
    assert!(d1 > 0.0 && d1 <= 1.0, "w_distinct_1 = {d1}");
    assert!(json(&run.join("summary.json"))["w_distinct_1"]
        .as_f64()
        .is_some());
}
