//! metrics.csv (spec §6.4 columns, in table order) and episodes.csv columns. Rows are built
//! and written by the shared `run::Metrics` (`new_row`, `write`); cells an algorithm does not
//! fill stay empty.

pub const COLUMNS: &[&str] = &[
    "algo",
    "env",
    "seed",
    "iter",
    "env_steps",
    "wall_s",
    "sps",
    "rollout_ms",
    "update_ms",
    "ep_count",
    "ep_return_mean",
    "ep_return_min",
    "ep_return_max",
    "ep_len_mean",
    "ep_return_ma100",
    "eval_return_mean",
    "eval_return_std",
    "eval_len_mean",
    "pg_loss",
    "v_loss",
    "entropy",
    "approx_kl",
    "explained_var",
    "g_norm",
    "u_norm_sq",
    "u_logstd_sq",
    "u_dot_g",
    "cos_ug",
    "sm_c",
    "d_norm",
    "g_dot_d",
    "step_size",
    "update_norm",
    "clip_frac_update",
    "cos_to_exact",
    "cg_iters",
    "cg_residual",
    "ls_steps",
    "ls_accepted",
    "clipfrac",
    "lr",
];

/// Columns that hold wall-clock timings (dropped when comparing runs for determinism).
pub const TIMING_COLUMNS: &[&str] = &["wall_s", "sps", "rollout_ms", "update_ms"];

pub const EPISODE_COLUMNS: &[&str] = &[
    "env_steps",
    "env",
    "return",
    "length",
    "terminated",
    "truncated",
];
