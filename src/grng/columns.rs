//! The CSV files of spec §6.3, columns in the spec's order.

/// `steps.csv`: every step; the Pearson measures every `train.diag_every` steps (blank
/// otherwise); optimizer diagnostics blank where the optimizer has none.
pub const STEPS: &[&str] = &[
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

/// `epochs.csv` of image tasks; LM tasks write `val_loss`, `val_bpc` in place of `test_loss`,
/// `test_acc` (see [`epochs`]).
pub const EPOCHS: &[&str] = &[
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

/// The `epochs.csv` header of an image (`lm` false) or language-model task.
pub fn epochs(lm: bool) -> Vec<&'static str> {
    EPOCHS
        .iter()
        .map(|&c| match (lm, c) {
            (true, "test_loss") => "val_loss",
            (true, "test_acc") => "val_bpc",
            _ => c,
        })
        .collect()
}

/// `summary.csv`: one row per run.
pub const SUMMARY: &[&str] = &[
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

/// `metrics.csv`: one row per evaluation, the file `lab report` / `lab plot` draw from. LM
/// tasks score `test_*` on the validation split and fill `val_bpc`.
pub const METRICS: &[&str] = &[
    "step",
    "epoch",
    "train_loss",
    "train_acc",
    "test_loss",
    "test_acc",
    "val_bpc",
    "avg_grad_norm",
    "avg_pearson_update_grad",
    "avg_pearson_consecutive",
    "wall_s",
];
