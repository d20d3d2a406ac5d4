//! The CSV headers of spec §7.9 (metrics.csv, eval.csv, compare.csv) and of the toy and
//! calibration outputs, in one place so that writers and tests agree.

/// metrics.csv: one row per RL step (§7.9). The is_ratio_* columns are empty unless an IS method.
pub const METRICS: &[&str] = &[
    "run",
    "method",
    "seed",
    "step",
    "wall_s",
    "flops_offline",
    "flops_sample",
    "flops_train",
    "flops_total",
    "flops_eval_cum",
    "flops_diag_cum",
    "tokens_generated",
    "tokens_context",
    "tokens_trained",
    "n_groups_prefixed",
    "n_groups_unprefixed",
    "tok_share_prefixed",
    "reward_prefixed_mean",
    "reward_unprefixed_mean",
    "reward_all_mean",
    "frac_groups_all0",
    "frac_groups_all1",
    "frac_nonzero_adv",
    "adv_abs_mean",
    "loss",
    "grad_norm",
    "grad_var_micro",
    "lr",
    "entropy_mean",
    "entropy_prefixed",
    "entropy_unprefixed",
    "kl_base_mean",
    "completion_len_prefixed",
    "completion_len_unprefixed",
    "prefix_len_mean",
    "is_ratio_mean",
    "is_ratio_max",
    "is_ratio_min",
    "checker_errors",
];

/// eval.csv columns before the prefix panel (§7.9).
pub const EVAL_HEAD: &[&str] = &[
    "run",
    "method",
    "seed",
    "step",
    "flops_total",
    "train_unpref_pass1",
    "train_unpref_pass8",
    "heldout_pass1",
    "heldout_pass8",
    "heldout_pass64",
    "ood_pass1",
    "ood_pass8",
    "train_pref_pass1",
];

/// eval.csv columns after the prefix panel (§7.9); easy_pass1 tracks forgetting.
pub const EVAL_TAIL: &[&str] = &[
    "strategy_agree_unpref",
    "strategy_agree_base",
    "entropy_eval_unpref",
    "kl_base_eval",
    "easy_pass1",
];

/// The panel column of prefix fraction `f`: `panel_frac_0.4`.
pub fn panel_column(f: f64) -> String {
    format!("panel_frac_{f:.1}")
}

/// eval.csv's header for the panel fractions `eval.panel_fracs`.
pub fn eval(panel_fracs: &[f64]) -> Vec<String> {
    let panel = panel_fracs.iter().map(|&f| panel_column(f));
    EVAL_HEAD
        .iter()
        .map(|s| s.to_string())
        .chain(panel)
        .chain(EVAL_TAIL.iter().map(|s| s.to_string()))
        .collect()
}

/// compare.csv's header against method `baseline` (§7.9): final_train_unpref is the mean of the
/// last 3 evaluations.
pub fn compare(baseline: &str) -> Vec<String> {
    vec![
        "method".into(),
        "seed".into(),
        "final_train_unpref".into(),
        "flops_to_target".into(),
        format!("speedup_vs_{baseline}"),
        format!("final_ratio_vs_{baseline}"),
        "final_heldout_pass1".into(),
        "final_entropy".into(),
    ]
}

/// toy.csv: one row per checked quantity of the §4.2 toy tests.
pub const TOY: &[&str] = &["test", "quantity", "value", "expected", "passed"];

/// calibration.csv: one row per difficulty level (§7.4).
pub const CALIBRATION: &[&str] = &[
    "level",
    "n_problems",
    "pass1",
    "pass8",
    "pass64",
    "pass1024",
    "frac_solved_1024",
    "prefix_frac",
    "prefix_success",
    "verdict",
];
