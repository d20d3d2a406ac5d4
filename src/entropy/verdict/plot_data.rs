//! The per-run step series behind the §7.3 step plots: columns of a run's metrics.csv, or of its
//! ctrl.csv joined with steps.csv's `lr_eff`, and the long CSV each plot writes beside itself.
use super::RunRecord;
use crate::run::fmt_num;
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A completed run: its directory and its record (arch, condition, seed, final numbers).
pub struct StudyRun {
    pub dir: PathBuf,
    pub record: RunRecord,
    /// The controller's mode when it acts (`drift`, `hold`, `track`), else None.
    pub controller_mode: Option<String>,
}

/// One run's rows: step and one value per requested column (None: empty or absent).
pub type Table = Vec<(f64, Vec<Option<f64>>)>;

/// Columns `columns` of CSV `path` against its `step` column, in file order; rows without a
/// numeric step are skipped; an absent file or column gives empty cells.
pub fn read_table(path: &Path, columns: &[&str]) -> Result<Table> {
    if !path.is_file() {
        return Ok(Vec::new());
    }
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let header = reader
        .headers()
        .with_context(|| format!("reading {}", path.display()))?
        .clone();
    super::trajectory::unique_columns(&header, path)?;
    let index = |name: &str| header.iter().position(|h| h == name);
    let Some(step) = index("step") else {
        return Ok(Vec::new());
    };
    let cols: Vec<Option<usize>> = columns.iter().map(|c| index(c)).collect();
    let mut rows = Vec::new();
    for rec in reader.records() {
        let rec = rec.with_context(|| format!("reading {}", path.display()))?;
        let num = |i: usize| {
            let x = rec.get(i)?.trim().parse::<f64>().ok()?;
            x.is_finite().then_some(x)
        };
        if let Some(s) = num(step) {
            rows.push((s, cols.iter().map(|c| c.and_then(num)).collect()));
        }
    }
    Ok(rows)
}

/// The controller columns of ctrl.csv under their metrics.csv names (§4.7).
pub const CTRL_COLUMNS: [(&str, &str); 4] = [
    ("ctrl_stat_filt", "stat_filt"),
    ("ctrl_drift", "drift"),
    ("ctrl_setpoint", "setpoint"),
    ("ctrl_u", "u"),
];

/// ctrl.csv's rows with steps.csv's `lr_eff` at the same step appended (the columns of
/// [`CTRL_COLUMNS`], then `lr_eff`).
pub fn controller_table(dir: &Path) -> Result<Table> {
    let names: Vec<&str> = CTRL_COLUMNS.iter().map(|c| c.1).collect();
    let mut rows = read_table(&dir.join("ctrl.csv"), &names)?;
    let lr: BTreeMap<u64, Option<f64>> = read_table(&dir.join("steps.csv"), &["lr_eff"])?
        .into_iter()
        .map(|(s, v)| (s as u64, v[0]))
        .collect();
    for (step, values) in &mut rows {
        values.push(lr.get(&(*step as u64)).copied().flatten());
    }
    Ok(rows)
}

/// Write `arch,condition,seed,step,<columns>` (plus `extra` per-run columns from the record),
/// one row per (run, step).
pub fn write_long_csv(
    path: &Path,
    columns: &[&str],
    extra: &[&str],
    tables: &[(&StudyRun, Table)],
) -> Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["arch", "condition", "seed", "step"];
    header.extend(columns);
    header.extend(extra);
    w.write_record(&header)?;
    let cell = |v: Option<f64>| v.map(fmt_num).unwrap_or_default();
    for (run, table) in tables {
        let r = &run.record;
        let tail: Vec<String> = extra
            .iter()
            .map(|k| cell(r.metrics.get(*k).copied()))
            .collect();
        for (step, values) in table {
            let mut row = vec![r.arch.clone(), r.condition.clone(), r.seed.to_string()];
            row.push(fmt_num(*step));
            row.extend(values.iter().map(|v| cell(*v)));
            row.extend(tail.iter().cloned());
            w.write_record(&row)?;
        }
    }
    crate::run::write_atomic(path, &w.into_inner()?)
}

/// The (step, value) points of column `i` of a table.
pub fn points(table: &Table, i: usize) -> Vec<(f64, f64)> {
    let mut pts: Vec<(f64, f64)> = table
        .iter()
        .filter_map(|(s, v)| Some((*s, v.get(i).copied().flatten()?)))
        .collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    pts.dedup_by(|later, earlier| later.0 == earlier.0);
    pts
}
