//! The files and columns of spec §4.7, in the spec's order.

/// `metrics.csv`: one row per evaluation: the §4.7 columns, then `alert` (§7.5 item 3).
pub const METRICS: &[&str] = &[
    "step",
    "epoch",
    "tokens_seen",
    "wall_s",
    "lr_eff",
    "train_loss",
    "train_fit_loss",
    "val_loss",
    "val_ppl",
    "tf_entropy_train",
    "tf_entropy_val",
    "overconf_gap_val",
    "fr_entropy_t1",
    "fr_nll_t1",
    "fr_entropy_greedy",
    "top1_mass_fr",
    "gen_ref_nll_t1",
    "rev_kl_proxy",
    "uni_entropy_gen",
    "uni_entropy_data",
    "bi_cond_entropy_gen",
    "bi_cond_entropy_data",
    "kl_uni_fwd",
    "kl_uni_rev",
    "kl_bi_fwd",
    "kl_bi_rev",
    "js_uni",
    "distinct_1",
    "distinct_2",
    "distinct_3",
    "distinct_4",
    "distinct_4_greedy",
    "seq_rep_1_t1",
    "seq_rep_4_t1",
    "seq_rep_4_greedy",
    "rep_16",
    "rep_64",
    "wrep_64",
    "hits_at_1",
    "loop_frac_greedy",
    "loop_period_greedy",
    "loop_frac_t1",
    "longest_repeat_t1",
    "longest_repeat_greedy",
    "copy_rate_32_t1",
    "copy_rate_32_greedy",
    "coverage_4",
    "top10_share_4",
    "self_bleu4",
    "mauve_ngram",
    "loss_jitter",
    "loss_jitter_rel",
    "grad_norm_mean",
    "grad_norm_cv",
    "clip_frac",
    "update_ratio_mean",
    "update_cos_mean",
    "param_norm",
    "gen_stat_std",
    "ctrl_stat",
    "ctrl_stat_filt",
    "ctrl_setpoint",
    "ctrl_error",
    "ctrl_integral",
    "ctrl_u",
    "ctrl_drift",
    "alert",
];

/// The `metrics.csv` header: [`METRICS`], then the optional word-level columns, the columns
/// of each extra temperature and those of nucleus sampling, when asked for.
pub fn metrics(word_metrics: bool, temperatures: &[f64], top_p: bool) -> Vec<String> {
    let mut cols: Vec<String> = METRICS.iter().map(|c| c.to_string()).collect();
    if word_metrics {
        cols.extend(crate::entropy::metrics::WordMetrics::COLUMNS.map(String::from));
    }
    for t in temperatures {
        cols.push(format!("fr_entropy_T{t}"));
        cols.push(format!("distinct_4_T{t}"));
    }
    if top_p {
        cols.extend(["fr_entropy_top_p".into(), "distinct_4_top_p".into()]);
    }
    cols
}

/// Columns that may be empty in a healthy run: optional metrics, ones that need an event
/// (a greedy loop, a clip) or an active controller.
pub const MAY_BE_EMPTY: &[&str] = &[
    "loop_period_greedy",
    "self_bleu4",
    "mauve_ngram",
    "ctrl_setpoint",
    "ctrl_error",
    "ctrl_integral",
    "ctrl_u",
    "kl_bi_fwd",
    "kl_bi_rev",
    "bi_cond_entropy_gen",
    "bi_cond_entropy_data",
    "update_cos_mean",
    "alert",
];

/// `steps.csv`: one light row per training step.
pub const STEPS: &[&str] = &[
    "step",
    "loss",
    "lr_eff",
    "grad_norm",
    "update_ratio",
    "clipped",
    "ctrl_u",
];

/// `ctrl.csv`: one row per controller measurement.
pub const CTRL: &[&str] = &[
    "step",
    "stat",
    "stat_filt",
    "setpoint",
    "error",
    "integral",
    "u",
    "drift",
];
