//! metrics.csv (spec §6.4 columns, in table order) and episodes.csv. Unlike the shared
//! `run::Metrics`, cells may be text (algo, env) or empty (columns an algorithm does not
//! fill); a non-finite number is written and then reported as an error.
use crate::run::fmt_num;
use anyhow::{Context, Result};
use std::fs::File;
use std::path::Path;

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

pub struct CsvLog {
    writer: csv::Writer<File>,
    columns: Vec<String>,
}

impl CsvLog {
    pub fn create(path: &Path, columns: &[&str]) -> Result<CsvLog> {
        let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let mut writer = csv::Writer::from_writer(file);
        writer.write_record(columns)?;
        writer.flush()?;
        Ok(CsvLog {
            writer,
            columns: columns.iter().map(|c| c.to_string()).collect(),
        })
    }

    /// Write and flush one row; then fail on a non-finite number, naming its column.
    pub fn write(&mut self, cells: &[String]) -> Result<()> {
        anyhow::ensure!(cells.len() == self.columns.len(), "internal: row width");
        self.writer.write_record(cells)?;
        self.writer.flush()?;
        let bad = ["NaN", "inf", "-inf"];
        if let Some(i) = cells.iter().position(|c| bad.contains(&c.as_str())) {
            anyhow::bail!(
                "non-finite value in column `{}` of {}; stopping (rows so far are kept)",
                self.columns[i],
                cells.first().map(String::as_str).unwrap_or("")
            );
        }
        Ok(())
    }

    pub fn write_row(&mut self, row: &Row) -> Result<()> {
        self.write(&row.cells)
    }
}
