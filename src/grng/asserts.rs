//! The smoke config's `assert:` block (spec §6.4): checks on a finished run's CSVs that make
//! the run fail (exit 1, `meta.json` status `failed`) with a message naming the assertion and
//! the numbers. Read back from the files, so they check what was written.
//! - `finite: true`: the run did not diverge and every logged number is finite;
//! - `loss_decrease_frac: f`: mean batch loss of the last 5 steps ≤ (1 − f) × that of the
//!   first 5 (not checked, with a note, on runs of fewer than 10 steps);
//! - `csv_columns: exact`: the headers of steps.csv, epochs.csv and summary.csv are §6.3's.
use super::columns;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Deserialize, Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CsvColumns {
    /// Exactly the §6.3 headers, in order.
    Exact,
}

#[derive(Deserialize, Serialize, Debug, Clone, Default, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AssertSection {
    pub finite: bool,
    /// Fraction in [0, 1) by which the loss must fall (null: not checked).
    pub loss_decrease_frac: Option<f64>,
    /// null: not checked.
    pub csv_columns: Option<CsvColumns>,
}

/// Steps averaged at each end for `loss_decrease_frac`.
const WINDOW: usize = 5;

/// A CSV's header and rows.
fn read(path: &Path) -> Result<(Vec<String>, Vec<Vec<String>>)> {
    let file = crate::input::open_result(path);
    let mut r =
        csv::Reader::from_reader(file.with_context(|| format!("reading {}", path.display()))?);
    let header = r.headers()?.iter().map(String::from).collect();
    let mut rows = Vec::new();
    for row in r.records() {
        rows.push(row?.iter().map(String::from).collect());
    }
    Ok((header, rows))
}

/// Check `a` against the run in `dir` (an LM task when `lm`); the first failure is the error.
pub fn check(a: &AssertSection, dir: &Path, lm: bool) -> Result<()> {
    let (steps_h, steps) = read(&dir.join("steps.csv"))?;
    let (epochs_h, epochs) = read(&dir.join("epochs.csv"))?;
    let (summary_h, summary) = read(&dir.join("summary.csv"))?;
    if a.csv_columns == Some(CsvColumns::Exact) {
        let files = [
            ("steps.csv", &steps_h, columns::STEPS.to_vec()),
            ("epochs.csv", &epochs_h, columns::epochs(lm)),
            ("summary.csv", &summary_h, columns::SUMMARY.to_vec()),
        ];
        for (file, have, want) in files {
            if have != &want {
                bail!("assert.csv_columns (exact) failed: {file} has columns {have:?}, §6.3 says {want:?}");
            }
        }
    }
    if a.finite {
        check_finite(&steps_h, &steps, &epochs_h, &epochs, &summary_h, &summary)?;
    }
    if let Some(frac) = a.loss_decrease_frac {
        check_decrease(&steps_h, &steps, frac)?;
    }
    Ok(())
}

fn column(header: &[String], name: &str, file: &str) -> Result<usize> {
    header
        .iter()
        .position(|h| h == name)
        .with_context(|| format!("{file} has no `{name}` column"))
}

fn check_finite(
    steps_h: &[String],
    steps: &[Vec<String>],
    epochs_h: &[String],
    epochs: &[Vec<String>],
    summary_h: &[String],
    summary: &[Vec<String>],
) -> Result<()> {
    let diverged = column(summary_h, "diverged", "summary.csv")?;
    if summary.iter().any(|r| r[diverged] == "1") {
        let last = steps.len();
        bail!(
            "assert.finite failed: the run diverged (a non-finite loss or update at step {last})"
        );
    }
    let files = [
        ("steps.csv", steps_h, steps),
        ("epochs.csv", epochs_h, epochs),
    ];
    for (file, header, rows) in files {
        for (i, row) in rows.iter().enumerate() {
            for (name, cell) in header.iter().zip(row) {
                if let Ok(v) = cell.parse::<f64>() {
                    if !v.is_finite() {
                        bail!(
                            "assert.finite failed: {file} row {} has {name} = {cell}",
                            i + 1
                        );
                    }
                }
            }
        }
    }
    Ok(())
}

fn check_decrease(header: &[String], rows: &[Vec<String>], frac: f64) -> Result<()> {
    if rows.len() < 2 * WINDOW {
        eprintln!(
            "note: assert.loss_decrease_frac not checked: {} steps, it compares the first {WINDOW} \
             with the last {WINDOW}",
            rows.len()
        );
        return Ok(());
    }
    let at = column(header, "batch_loss", "steps.csv")?;
    let mean = |rows: &[Vec<String>]| -> Result<f64> {
        let mut sum = 0.0;
        for r in rows {
            sum += r[at].parse::<f64>().with_context(|| {
                format!(
                    "assert.loss_decrease_frac failed: batch_loss `{}` is not a number",
                    r[at]
                )
            })?;
        }
        Ok(sum / rows.len() as f64)
    };
    let first = mean(&rows[..WINDOW])?;
    let last = mean(&rows[rows.len() - WINDOW..])?;
    let bound = (1.0 - frac) * first;
    if last.is_nan() || last > bound {
        bail!(
            "assert.loss_decrease_frac ({frac}) failed: mean batch loss of the last {WINDOW} steps \
             {last:.6} > {:.2} x {first:.6} (the first {WINDOW} steps' mean) = {bound:.6}",
            1.0 - frac
        );
    }
    Ok(())
}
