//! `lab grng` end to end (spec §6.3, §6.4): the smoke config's CSVs and their exact headers,
//! determinism, divergence, the other tasks on tiny budgets, config errors.
use crate::common::*;
use std::path::{Path, PathBuf};

/// `lab grng` on the smoke config with `sets`; asserts exit 0.
fn smoke_run(dir: &Path, out: &str, sets: &[&str]) -> PathBuf {
    let o = grng_smoke(dir, out, sets);
    assert_eq!(code(&o), 0, "{}", text(&o));
    dir.join(out)
}

const STEPS: &[&str] = &[
    "run_id",
    "optimizer",
    "task",
    "model",
    "seed",
    "epoch",
    "step",
    "lr",
    "batch_loss",
    "gr_penalty",
    "grad_norm",
    "grad_norm_reg",
    "update_norm",
    "damping_eff",
    "kl_clip_scale",
    "newton_iters",
    "newton_resid_max",
    "lazy_guard_fallbacks",
    "pearson_update_grad",
    "pearson_consecutive",
    "time_step_ms",
    "time_fwd_bwd_ms",
    "time_curv_ms",
    "time_precond_ms",
    "nonfinite_skipped",
];
const EPOCHS: &[&str] = &[
    "run_id",
    "optimizer",
    "task",
    "model",
    "seed",
    "epoch",
    "train_loss",
    "train_acc",
    "test_loss",
    "test_acc",
    "avg_grad_norm",
    "avg_pearson_update_grad",
    "avg_pearson_consecutive",
    "sharpness_top_eig",
    "wall_time_s",
    "steps",
];
const SUMMARY: &[&str] = &[
    "run_id",
    "optimizer",
    "task",
    "model",
    "seed",
    "final_test_acc",
    "best_test_acc",
    "final_test_loss",
    "steps_to_target",
    "time_to_target_s",
    "total_time_s",
    "mean_step_ms",
    "peak_rss_mb",
    "diverged",
    "config_json",
];

fn num(row: &[String], header: &[String], name: &str) -> f64 {
    let cell = &row[col(header, name)];
    cell.parse()
        .unwrap_or_else(|_| panic!("{name} = `{cell}` is not a number"))
}

#[test]
fn smoke_run_writes_the_spec_csvs_with_finite_values_and_a_falling_loss() {
    let dir = tempfile::tempdir().unwrap();
    let run = smoke_run(dir.path(), "smoke", &[]);
    let (h, rows) = read_csv(&run.join("steps.csv"));
    assert_eq!(h, STEPS, "steps.csv columns exactly as §6.3");
    assert_eq!(rows.len(), 30);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(num(row, &h, "step"), (i + 1) as f64);
        assert_eq!(row[col(&h, "optimizer")], "adamw");
        assert_eq!(row[col(&h, "task")], "shapes-smoke");
        assert_eq!(row[col(&h, "model")], "mlp");
        for name in ["batch_loss", "grad_norm", "update_norm", "lr"] {
            assert!(num(row, &h, name).is_finite(), "step {}: {name}", i + 1);
        }
        assert!(num(row, &h, "update_norm") > 0.0);
        // §5.3 measures on diagnostic steps only (diag_every 5); consecutive from step 5 on.
        let diag = (i + 1).is_multiple_of(5);
        for name in ["pearson_update_grad", "pearson_consecutive"] {
            let cell = &row[col(&h, name)];
            assert_eq!(!cell.is_empty(), diag, "step {}: {name} = `{cell}`", i + 1);
            if diag {
                assert!((-1.0..=1.0).contains(&num(row, &h, name)));
            }
        }
        assert!(
            row[col(&h, "kl_clip_scale")].is_empty(),
            "AdamW has no KL clip"
        );
    }
    // Early on AdamW's update points down the probe-set gradient.
    assert!(num(&rows[4], &h, "pearson_update_grad") > 0.2);
    let loss = |r: &[Vec<String>]| r.iter().map(|x| num(x, &h, "batch_loss")).sum::<f64>() / 5.0;
    let (first, last) = (loss(&rows[..5]), loss(&rows[25..]));
    assert!(last <= 0.8 * first, "loss {first} -> {last}");
    // summary.json's Figure-1 averages (§5.3): the means over the steps that logged each value.
    let mean_of = |name: &str| {
        let v: Vec<f64> = (rows.iter())
            .filter(|r| !r[col(&h, name)].is_empty())
            .map(|r| num(r, &h, name))
            .collect();
        (v.iter().sum::<f64>() / v.len() as f64, v.len())
    };
    let figure1 = [
        ("avg_grad_norm", mean_of("grad_norm"), 30),
        ("avg_pearson_update_grad", mean_of("pearson_update_grad"), 6),
        ("avg_pearson_consecutive", mean_of("pearson_consecutive"), 6),
    ];

    let (h, rows) = read_csv(&run.join("epochs.csv"));
    assert_eq!(h, EPOCHS);
    assert_eq!(
        rows.len(),
        2,
        "16 steps of 32 per epoch: 2 epochs (the second cut at step 30)"
    );
    assert_eq!(num(&rows[1], &h, "steps"), 30.0);
    for row in &rows {
        for name in [
            "train_loss",
            "train_acc",
            "test_loss",
            "test_acc",
            "avg_grad_norm",
        ] {
            assert!(num(row, &h, name).is_finite(), "{name}");
        }
        assert!(
            row[col(&h, "sharpness_top_eig")].is_empty(),
            "optional, not computed"
        );
    }
    // 30 steps fit the 512 training images well above chance (0.25); the MLP generalizes
    // poorly on shapes at any budget, so the test accuracy is not asserted.
    assert!(num(&rows[1], &h, "train_acc") > 0.45);
    assert!(num(&rows[1], &h, "train_loss") < num(&rows[0], &h, "train_loss"));

    let (h, rows) = read_csv(&run.join("summary.csv"));
    assert_eq!(h, SUMMARY);
    assert_eq!(rows.len(), 1);
    assert_eq!(num(&rows[0], &h, "diverged"), 0.0);
    assert!(num(&rows[0], &h, "peak_rss_mb") > 1.0);
    let cfg: serde_json::Value = serde_json::from_str(&rows[0][col(&h, "config_json")]).unwrap();
    assert_eq!(cfg["task"], "shapes-smoke");
    let s = json(&run.join("summary.json"));
    assert_eq!(s["steps"], 30);
    assert_eq!(s["diverged"], false);
    assert_eq!(s["run_id"].as_str().unwrap().len(), 12);
    for (key, (want, n), logged) in figure1 {
        assert_eq!(n, logged, "{key}: steps that logged it");
        let got = s[key]
            .as_f64()
            .unwrap_or_else(|| panic!("summary.json lacks {key}"));
        assert!(
            (got - want).abs() <= 1e-9 * want.abs(),
            "{key}: {got} vs {want}"
        );
    }
    let (_, metrics) = read_csv(&run.join("metrics.csv"));
    assert_eq!(
        metrics.len(),
        2,
        "metrics.csv: one row per evaluation, for lab report"
    );
}

#[test]
fn same_config_and_seed_give_identical_metrics_and_another_seed_does_not() {
    let dir = tempfile::tempdir().unwrap();
    // assert=null: 12 steps are too few for the smoke config's loss-decrease check.
    let a = smoke_run(dir.path(), "a", &["train.steps=12", "assert=null"]);
    let b = smoke_run(dir.path(), "b", &["train.steps=12", "assert=null"]);
    let c = smoke_run(
        dir.path(),
        "c",
        &["train.steps=12", "seed=1", "assert=null"],
    );
    let keep = |h: &str| !h.ends_with("_ms") && !h.ends_with("_s") && h != "peak_rss_mb";
    for file in ["steps.csv", "epochs.csv", "summary.csv", "metrics.csv"] {
        assert_eq!(
            csv_keep(&a.join(file), keep),
            csv_keep(&b.join(file), keep),
            "{file}"
        );
    }
    assert_ne!(
        csv_keep(&a.join("steps.csv"), keep),
        csv_keep(&c.join("steps.csv"), keep)
    );
}

#[test]
fn a_diverging_run_stops_honestly_and_keeps_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    // assert=null: the smoke config's `finite` check would fail the run (grng_assert.rs).
    let o = grng_smoke(dir.path(), "big", &["optimizer.lr=1e30", "assert=null"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("warning: the run diverged at step") && err.contains("assert: {finite: true}"),
        "{err}"
    );
    let run = dir.path().join("big");
    let (h, rows) = read_csv(&run.join("steps.csv"));
    assert!(rows.len() < 30, "stopped early after {} steps", rows.len());
    let last = rows.last().unwrap();
    assert!(last[col(&h, "batch_loss")].is_empty() || last[col(&h, "update_norm")].is_empty());
    let s = json(&run.join("summary.json"));
    assert_eq!(s["diverged"], true);
    let (sh, srow) = read_csv(&run.join("summary.csv"));
    assert_eq!(num(&srow[0], &sh, "diverged"), 1.0);
    assert_eq!(status(&run), "completed");
}

#[test]
fn digits_cnn_and_char_lm_tasks_run_on_tiny_budgets() {
    let dir = tempfile::tempdir().unwrap();
    let run = smoke_run(
        dir.path(),
        "mlp",
        &["task=mlp-digits", "train.epochs=1", "train.steps=null"],
    );
    let (h, rows) = read_csv(&run.join("epochs.csv"));
    assert_eq!(
        num(&rows[0], &h, "steps"),
        45.0,
        "ceil(1437 / 32) steps in one epoch"
    );
    assert!(
        num(&rows[0], &h, "test_acc") > 0.5,
        "digits learnt a little"
    );
    let run = smoke_run(dir.path(), "cnn", &["task=cnn-digits", "train.steps=3"]);
    let (h, rows) = read_csv(&run.join("steps.csv"));
    assert_eq!((rows.len(), rows[0][col(&h, "model")].as_str()), (3, "cnn"));
    let sets = [
        "task=charlm-grammar",
        "train.steps=4",
        "train.eval_every=2",
        "data.seq_len=16",
        "train.batch=4",
        "train.diag_every=2",
    ];
    let run = smoke_run(dir.path(), "lm", &sets);
    let (h, rows) = read_csv(&run.join("epochs.csv"));
    assert_eq!(
        &h[8..10],
        ["val_loss", "val_bpc"],
        "LM tasks report val loss and bits/char"
    );
    assert_eq!(rows.len(), 2, "an evaluation every 2 of 4 steps");
    let bpc = num(&rows[1], &h, "val_bpc");
    assert!(bpc > 0.5 && bpc < 8.0, "{bpc}");
    assert!((bpc - num(&rows[1], &h, "val_loss") / std::f64::consts::LN_2).abs() < 1e-9);
}

#[test]
fn schedules_and_pearson_match_their_definitions() {
    use lab::grng::config::Schedule;
    use lab::grng::diag::pearson;
    // MultiStep (§3.1): ×0.1 from 50 % of the steps, ×0.01 from 75 %.
    let multi: Vec<f64> = [0, 49, 50, 74, 75, 99]
        .iter()
        .map(|&s| Schedule::Multistep.lr_at(1.0, s, 100))
        .collect();
    assert_eq!(multi, [1.0, 1.0, 0.1, 0.1, 0.01, 0.01]);
    assert_eq!(Schedule::Constant.lr_at(0.3, 77, 100), 0.3);
    assert_eq!(Schedule::Cosine.lr_at(2.0, 0, 100), 2.0);
    assert!((Schedule::Cosine.lr_at(2.0, 50, 100) - 1.0).abs() < 1e-12);
    // Pearson (§5.3) is invariant to shift and positive scale, flips sign with the vector.
    let _g = torch_lock();
    let u = tch::Tensor::from_slice(&[1.0f64, 4.0, 2.0, 8.0, 5.0]);
    let v = tch::Tensor::from_slice(&[2.0f64, 1.0, 3.0, 7.0, 4.0]);
    assert!((pearson(&u, &(&u * 3.0 + 7.0)).unwrap() - 1.0).abs() < 1e-12);
    assert!((pearson(&u, &(-&u)).unwrap() + 1.0).abs() < 1e-12);
    // By hand: ū = 4, v̄ = 3.4; Σ(u−ū)(v−v̄) = 20, Σ(u−ū)² = 30, Σ(v−v̄)² = 21.2.
    let want = 20.0 / (30.0f64 * 21.2).sqrt();
    assert!((pearson(&u, &v).unwrap() - want).abs() < 1e-12);
    assert_eq!(
        pearson(&u, &tch::Tensor::ones([5], tch::kind::FLOAT_CPU)),
        None
    );
}
