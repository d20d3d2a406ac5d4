//! H2's "`fr_entropy_t1` keeps falling after validation loss bottoms out" (spec §1), per run
//! from its metrics.csv trajectory.
//!
//! Definition. Take the evaluations (metrics.csv rows) that report `step`, `val_loss` and
//! `fr_entropy_t1`, in step order. The validation minimum is the first row with the smallest
//! `val_loss`. When that is the last row the run has not reached its minimum (*not reached*:
//! nothing after it to look at). Otherwise, over the rows from the minimum to the last:
//! - `change` = `fr_entropy_t1`(last) − `fr_entropy_t1`(at the minimum);
//! - `slope` = least-squares slope of `fr_entropy_t1` against step, per 1000 steps;
//! - `falling` = how many of the intervals between consecutive evaluations it fell in.
//!
//! The run *falls* after the minimum when `change` < 0 and `slope` < 0.
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::path::Path;

/// The per-run numbers, as they appear in sweep.csv.
pub const VAL_MIN_STEP: &str = "val_min_step";
pub const EVALS_AFTER: &str = "evals_after_val_min";
pub const CHANGE: &str = "fr_entropy_t1_change_after_val_min";
pub const SLOPE: &str = "fr_entropy_t1_slope_after_val_min";
pub const FALLING: &str = "fr_entropy_t1_falling_evals_after_val_min";

/// What happens to `fr_entropy_t1` after the validation minimum of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct AfterMinimum {
    pub val_min_step: f64,
    /// Evaluations after the minimum (0: not reached).
    pub evals_after: usize,
    pub change: Option<f64>,
    /// Per 1000 steps.
    pub slope: Option<f64>,
    pub falling: usize,
}

impl AfterMinimum {
    /// Whether it falls (change and slope both < 0); None when the minimum is not reached.
    pub fn falls(&self) -> Option<bool> {
        Some(self.change? < 0.0 && self.slope? < 0.0)
    }
}

/// From (step, val_loss, fr_entropy_t1) rows in any order; None without rows.
pub fn after_minimum(rows: &[(f64, f64, f64)]) -> Option<AfterMinimum> {
    let mut rows = rows.to_vec();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    let first_min = rows
        .iter()
        .enumerate()
        .min_by(|(i, a), (j, b)| a.1.total_cmp(&b.1).then(i.cmp(j)))?
        .0;
    let later = &rows[first_min..];
    let evals_after = later.len() - 1;
    let reached = evals_after > 0;
    Some(AfterMinimum {
        val_min_step: later[0].0,
        evals_after,
        change: reached.then(|| later[evals_after].2 - later[0].2),
        slope: reached.then(|| 1000.0 * slope(later)),
        falling: later.windows(2).filter(|w| w[1].2 < w[0].2).count(),
    })
}

/// Least-squares slope of the third entry against the first (at least 2 distinct steps).
fn slope(rows: &[(f64, f64, f64)]) -> f64 {
    let n = rows.len() as f64;
    let mx = rows.iter().map(|r| r.0).sum::<f64>() / n;
    let my = rows.iter().map(|r| r.2).sum::<f64>() / n;
    let sxy: f64 = rows.iter().map(|r| (r.0 - mx) * (r.2 - my)).sum();
    let sxx: f64 = rows.iter().map(|r| (r.0 - mx) * (r.0 - mx)).sum();
    sxy / sxx
}

/// The rows of a metrics.csv that report all three numbers (none without the file or columns).
pub fn read(path: &Path) -> Result<Vec<(f64, f64, f64)>> {
    if !path.is_file() {
        return Ok(Vec::new());
    }
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let header = reader
        .headers()
        .with_context(|| format!("reading {}", path.display()))?
        .clone();
    unique_columns(&header, path)?;
    let index = |name: &str| header.iter().position(|h| h == name);
    let (Some(s), Some(v), Some(h)) = (index("step"), index("val_loss"), index("fr_entropy_t1"))
    else {
        return Ok(Vec::new());
    };
    let mut rows = Vec::new();
    for rec in reader.records() {
        let rec = rec.with_context(|| format!("reading {}", path.display()))?;
        let num = |i: usize| {
            rec.get(i)?
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
        };
        if let (Some(s), Some(v), Some(h)) = (num(s), num(v), num(h)) {
            rows.push((s, v, h));
        }
    }
    Ok(rows)
}

/// Refuse a CSV header that names a column twice: which of the two holds the metric is
/// unknown (the final row and the trajectory would each take another one), so the run is left
/// out with a note naming the file and the column (the shared rule of `lab report`).
pub fn unique_columns(header: &csv::StringRecord, path: &Path) -> Result<()> {
    let names: Vec<String> = header.iter().map(String::from).collect();
    if let Some((name, i, j)) = crate::results::columns::doubled(&names) {
        anyhow::bail!(
            "{}: the header names column `{name}` twice (columns {i} and {j}); remove one",
            path.display()
        );
    }
    Ok(())
}

/// The numbers of [`after_minimum`] under the names above (change and slope only if reached).
pub fn scalars(a: &AfterMinimum) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    out.insert(VAL_MIN_STEP.into(), a.val_min_step);
    out.insert(EVALS_AFTER.into(), a.evals_after as f64);
    out.insert(FALLING.into(), a.falling as f64);
    if let (Some(c), Some(s)) = (a.change, a.slope) {
        out.insert(CHANGE.into(), c);
        out.insert(SLOPE.into(), s);
    }
    out
}

/// Back from a run record's metrics: None if the run has no trajectory numbers.
pub fn from_metrics(m: &BTreeMap<String, f64>) -> Option<AfterMinimum> {
    Some(AfterMinimum {
        val_min_step: *m.get(VAL_MIN_STEP)?,
        evals_after: *m.get(EVALS_AFTER)? as usize,
        change: m.get(CHANGE).copied(),
        slope: m.get(SLOPE).copied(),
        falling: m.get(FALLING).copied().unwrap_or(0.0) as usize,
    })
}
