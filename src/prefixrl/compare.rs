//! Compute-matched comparison of prefixrl runs (spec §5.2, §7.9 compare.csv, §8): per run,
//! the final training reward (mean of the last 3 evals), the FLOPs where the EMA (span 5) of
//! the training reward first reaches a target (default: the baseline method's final), the
//! speed-up and final-reward ratio against the baseline method, the final held-out pass@1 and
//! entropy; then mean and std over seeds per method. `charge` re-draws the FLOPs axis with
//! the offline cost charged per [`ChargeOffline`], whatever the runs were configured with.
//! [`acceptance`] checks the §7.11 criteria; [`report`] is the `lab report` hook.
//!
//! Reading order: this file (reading runs, [`compare`]), `compare/accept.rs` (§7.11),
//! `compare/report.rs` (the report hook and compare.csv), `compare/plot.rs` (reward vs FLOPs).
mod accept;
mod curves;
pub mod plot;
mod report;
mod seeds;
mod stats;

use stats::summarize;
pub use stats::{mean, std};

pub use accept::{acceptance, headline, Criterion};
pub use report::{markdown, report, write_csv};

use super::algo;
use super::config::ChargeOffline;
use crate::error::usage;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// The text columns of eval.csv and metrics.csv; every other cell is a number or empty.
const TEXT_COLUMNS: [&str; 2] = ["run", "method"];

/// A CSV file of numbers (an empty cell reads as `None`) beside the [`TEXT_COLUMNS`].
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// Read `path`; a cell outside the text columns that is neither empty nor a number is
    /// refused naming file:line and column (read as empty, it would drop out of the curves).
    pub fn read(path: &Path) -> Result<Table> {
        let file = crate::input::open_result(path)
            .map_err(|e| usage(format!("reading {}: {e}", path.display())))?;
        let mut r = csv::Reader::from_reader(file);
        let header: Vec<String> = r.headers()?.iter().map(str::to_string).collect();
        let mut rows = Vec::new();
        for (i, rec) in r.records().enumerate() {
            let line = i + 2;
            let rec = rec.map_err(|e| usage(format!("{}:{line}: {e}", path.display())))?;
            let bad = rec.iter().zip(&header).find(|(cell, name)| {
                !cell.is_empty()
                    && !TEXT_COLUMNS.contains(&name.as_str())
                    && cell.parse::<f64>().is_err()
            });
            if let Some((cell, name)) = bad {
                return Err(usage(format!(
                    "{}:{line}: column `{name}` holds `{cell}`, not a number (damaged or \
                     edited?): restore the file or leave the run out",
                    path.display()
                )));
            }
            rows.push(rec.iter().map(str::to_string).collect());
        }
        Ok(Table { header, rows })
    }

    /// Column `name` as numbers; `None` when the file has no such column.
    pub fn col(&self, name: &str) -> Option<Vec<Option<f64>>> {
        let i = self.header.iter().position(|h| h == name)?;
        Some(
            self.rows
                .iter()
                .map(|r| r.get(i).and_then(|c| c.parse::<f64>().ok()))
                .collect(),
        )
    }

    /// The first row's text in column `name`.
    pub fn first_text(&self, name: &str) -> Option<String> {
        let i = self.header.iter().position(|h| h == name)?;
        self.rows.first().and_then(|r| r.get(i)).cloned()
    }
}

/// One run as the comparison reads it.
#[derive(Debug, Clone)]
pub struct RunData {
    pub dir: PathBuf,
    /// `rl.method` (eval.csv's `method`).
    pub method: String,
    /// The method plus the settings that tell runs of one method apart (`rl n=64`).
    pub label: String,
    pub seed: String,
    /// `rl.n`, `rl.alpha` and `traces.source` from the run's config.yaml, when readable.
    pub n: Option<f64>,
    pub alpha: Option<f64>,
    pub source: Option<String>,
    pub eval: Table,
    /// metrics.csv (empty when the run has none).
    pub metrics: Table,
    /// The offline FLOPs the run charged itself (metrics.csv `flops_offline`, last row).
    pub offline: f64,
    /// The FLOPs axis of each eval row under the comparison's charge (None: no flops_total).
    pub x: Vec<Option<f64>>,
}

impl RunData {
    /// Read `dir`'s eval.csv (required), metrics.csv and config.yaml (optional).
    pub fn read(dir: &Path) -> Result<RunData> {
        let eval = Table::read(&dir.join("eval.csv"))?;
        let metrics_path = dir.join("metrics.csv");
        let metrics = match metrics_path.exists() {
            true => Table::read(&metrics_path)?,
            false => Table::default(),
        };
        let offline = metrics
            .col("flops_offline")
            .and_then(|c| c.into_iter().flatten().last())
            .unwrap_or(0.0);
        // Every run writes its config.yaml: without it, runs that differ in rl.n, rl.alpha or
        // traces.source would be labelled, and averaged, as one.
        let config_path = dir.join("config.yaml");
        let config: serde_yaml_ng::Value = crate::input::read_result(&config_path)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_yaml_ng::from_str(&t).map_err(|e| e.to_string()))
            .map_err(|e| {
                usage(format!(
                    "{}: {e}; its rl.n, rl.alpha and traces.source tell it apart from other runs \
                     of its method: restore the file or leave the run out",
                    config_path.display()
                ))
            })?;
        let get = |a: &str, b: &str| config.get(a)?.get(b).cloned();
        let method = eval
            .first_text("method")
            .with_context(|| format!("{}: eval.csv has no rows", dir.display()))?;
        Ok(RunData {
            dir: dir.to_path_buf(),
            label: method.clone(),
            method,
            seed: eval.first_text("seed").unwrap_or_default(),
            n: get("rl", "n").and_then(|v| v.as_f64()),
            alpha: get("rl", "alpha").and_then(|v| v.as_f64()),
            source: get("traces", "source").and_then(|v| v.as_str().map(str::to_string)),
            x: Vec::new(),
            eval,
            metrics,
            offline,
        })
    }

    /// eval.csv column `name` (all `None` when missing).
    pub fn series(&self, name: &str) -> Vec<Option<f64>> {
        self.eval
            .col(name)
            .unwrap_or_else(|| vec![None; self.eval.rows.len()])
    }

    /// `(x, y)` of the eval rows where both exist.
    pub fn curve(&self, name: &str) -> (Vec<f64>, Vec<f64>) {
        let pairs = self.x.iter().zip(self.series(name));
        pairs.filter_map(|(x, y)| Some(((*x)?, y?))).unzip()
    }

    /// Mean of the last 3 values of column `name` (§7.9 "final").
    pub fn final_of(&self, name: &str) -> Option<f64> {
        let y: Vec<f64> = self.series(name).into_iter().flatten().collect();
        algo::final_mean(&y, 3)
    }
}

/// Whether `charge` puts the offline cost on a run of `method`.
fn charged(charge: ChargeOffline, method: &str) -> bool {
    match charge {
        ChargeOffline::Users => method != "rl",
        ChargeOffline::All => true,
        ChargeOffline::None => false,
    }
}

/// Read the runs, label them and lay out their FLOPs axes under `charge`. A run that charged
/// itself nothing but is charged now gets the rejection-sampling cost, taken as the smallest
/// positive offline charge among the runs (the traces are shared).
pub fn read_runs(dirs: &[PathBuf], charge: ChargeOffline) -> Result<Vec<RunData>> {
    let mut runs = dirs
        .iter()
        .map(|d| RunData::read(d))
        .collect::<Result<Vec<_>>>()?;
    let shared = runs
        .iter()
        .map(|r| r.offline)
        .filter(|&o| o > 0.0)
        .fold(None, |m: Option<f64>, o| Some(m.map_or(o, |m| m.min(o))));
    for r in runs.iter_mut() {
        let own = if r.offline > 0.0 {
            r.offline
        } else {
            shared.unwrap_or(0.0)
        };
        let add = if charged(charge, &r.method) { own } else { 0.0 };
        let offset = add - r.offline;
        r.x = r
            .series("flops_total")
            .into_iter()
            .map(|x| x.map(|x| x + offset))
            .collect();
    }
    label(&mut runs);
    seeds::refuse_same_seed(&runs)?;
    Ok(runs)
}

/// `label` = method, plus `key=value` for each of rl.n, rl.alpha, traces.source that differs
/// among the runs of that method.
fn label(runs: &mut [RunData]) {
    let text = |r: &RunData| {
        [
            ("n", r.n.map(|v| v.to_string())),
            ("alpha", r.alpha.map(|v| v.to_string())),
            ("source", r.source.clone()),
        ]
    };
    let labels: Vec<String> = runs
        .iter()
        .map(|r| {
            let same: Vec<&RunData> = runs.iter().filter(|o| o.method == r.method).collect();
            let mut label = r.method.clone();
            for (i, (key, v)) in text(r).into_iter().enumerate() {
                let varies = same.iter().any(|o| text(o)[i].1 != text(r)[i].1);
                if let (true, Some(v)) = (varies, v) {
                    label.push_str(&format!(" {key}={v}"));
                }
            }
            label
        })
        .collect();
    for (r, l) in runs.iter_mut().zip(labels) {
        r.label = l;
    }
}

/// One compare.csv row: a run (`seed` its seed) or a method's `mean` / `std` over seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareRow {
    pub method: String,
    pub seed: String,
    pub final_train_unpref: Option<f64>,
    pub flops_to_target: Option<f64>,
    pub speedup: Option<f64>,
    pub final_ratio: Option<f64>,
    pub final_heldout_pass1: Option<f64>,
    pub final_entropy: Option<f64>,
}

impl CompareRow {
    /// The numeric columns in compare.csv's order (`columns::compare`).
    pub fn values(&self) -> [Option<f64>; 6] {
        [
            self.final_train_unpref,
            self.flops_to_target,
            self.speedup,
            self.final_ratio,
            self.final_heldout_pass1,
            self.final_entropy,
        ]
    }

    /// The row of `method`/`seed` with the numeric columns `v` in [`CompareRow::values`]' order.
    pub fn from_values(method: &str, seed: &str, v: [Option<f64>; 6]) -> CompareRow {
        let [final_train_unpref, flops_to_target, speedup, final_ratio, final_heldout_pass1, final_entropy] =
            v;
        CompareRow {
            method: method.to_string(),
            seed: seed.to_string(),
            final_train_unpref,
            flops_to_target,
            speedup,
            final_ratio,
            final_heldout_pass1,
            final_entropy,
        }
    }
}

/// The comparison: per-run rows, then `mean` and `std` rows per method label.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub baseline: String,
    pub target: Option<f64>,
    pub runs: Vec<RunData>,
    pub rows: Vec<CompareRow>,
    /// Runs left out (continued by another run of the comparison).
    pub notes: Vec<String>,
}

/// EMA span of `flops_to_target` (§5.2).
pub const SPAN: usize = 5;

/// Compare the runs in `dirs` (module doc) against method label `baseline`.
pub fn compare(
    dirs: &[PathBuf],
    baseline: &str,
    target: Option<f64>,
    charge: ChargeOffline,
) -> Result<Comparison> {
    let (dirs, notes) = seeds::drop_continued(dirs);
    let runs = read_runs(&dirs, charge)?;
    let base: Vec<&RunData> = runs.iter().filter(|r| r.label == baseline).collect();
    if base.is_empty() {
        let labels: Vec<&str> = runs.iter().map(|r| r.label.as_str()).collect();
        return Err(usage(format!(
            "compare: no run of the baseline `{baseline}` among the runs (methods: {})",
            labels.join(", ")
        )));
    }
    let base_final = mean(base.iter().map(|r| r.final_of("train_unpref_pass1")));
    let target = target.or(base_final);
    // Rewards are ≥ 0, so a target ≤ 0 is met at every run's first evaluation: no FLOPs to
    // compare (FLOPs to target and speed-up stay empty; see `vacuous_target`).
    let usable = target.filter(|t| !vacuous_target(*t));
    let ftt = |r: &RunData| -> Result<Option<f64>> {
        let Some(t) = usable else { return Ok(None) };
        let (x, y) = r.curve("train_unpref_pass1");
        algo::flops_to_target(&x, &y, t, SPAN)
    };
    // The baseline of a run: the baseline run of the same seed, else the baseline's mean.
    let mut base_ftt = Vec::new();
    for b in &base {
        base_ftt.push((b.seed.clone(), ftt(b)?, b.final_of("train_unpref_pass1")));
    }
    let base_ftt_mean = mean(base_ftt.iter().map(|b| b.1));
    let mut rows = Vec::new();
    for r in &runs {
        let paired = base_ftt.iter().find(|b| b.0 == r.seed);
        let (b_ftt, b_final) = match paired {
            Some(b) => (b.1, b.2),
            None => (base_ftt_mean, base_final),
        };
        let f = ftt(r)?;
        let fin = r.final_of("train_unpref_pass1");
        rows.push(CompareRow {
            method: r.label.clone(),
            seed: r.seed.clone(),
            final_train_unpref: fin,
            flops_to_target: f,
            speedup: algo::speedup(b_ftt, f),
            final_ratio: algo::final_ratio(fin, b_final),
            final_heldout_pass1: r.final_of("heldout_pass1"),
            final_entropy: r.final_of("entropy_eval_unpref"),
        });
    }
    let summary = summarize(&rows);
    rows.extend(summary);
    Ok(Comparison {
        baseline: baseline.to_string(),
        target,
        runs,
        rows,
        notes,
    })
}

/// True for a training-reward target every run meets at its first evaluation (≤ 0: the
/// rewards are 0/1, their EMA starts at the first value).
pub fn vacuous_target(target: f64) -> bool {
    target <= 0.0
}
