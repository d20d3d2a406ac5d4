//! metrics.csv (spec §6.4 columns, in table order) and episodes.csv columns, and the row
//! builder whose cells may be text (algo, env) or empty (columns an algorithm does not fill);
//! rows are written by the shared `run::Metrics`.
use crate::run::fmt_num;

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

/// One CSV row under construction: every column starts empty.
pub struct Row {
    cells: Vec<String>,
}

impl Row {
    pub fn new() -> Self {
        Row {
            cells: vec![String::new(); COLUMNS.len()],
        }
    }

    fn index(name: &str) -> usize {
        COLUMNS
            .iter()
            .position(|c| *c == name)
            .unwrap_or_else(|| panic!("internal: unknown metrics column {name}"))
    }

    pub fn text(&mut self, name: &str, value: &str) -> &mut Self {
        self.cells[Row::index(name)] = value.to_string();
        self
    }

    pub fn num(&mut self, name: &str, value: f64) -> &mut Self {
        self.cells[Row::index(name)] = fmt_num(value);
        self
    }

    /// The cells, for [`crate::run::Metrics::cells`].
    pub fn cells(&self) -> &[String] {
        &self.cells
    }

    pub fn opt(&mut self, name: &str, value: Option<f64>) -> &mut Self {
        if let Some(v) = value {
            self.num(name, v);
        }
        self
    }
}

impl Default for Row {
    fn default() -> Self {
        Row::new()
    }
}
