//! Spec §7.3 plot 3, `stability_vs_entropy`: `stab_loss_jitter` (x) against the final
//! `fr_entropy_t1` (y), one dot per run, one colour per condition, Spearman ρ over all runs in
//! the title (H5's statistic), and the same points as CSV.
use super::extra::{ENTROPY, JITTER};
use super::RunRecord;
use crate::plot::render::{self, Figure};
use crate::plot::series::Curve;
use crate::results::paired::spearman;
use crate::run::fmt_num;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

pub const NAME: &str = "stability_vs_entropy";

/// The runs that report both numbers: (record, jitter, entropy).
fn points(records: &[RunRecord]) -> Vec<(&RunRecord, f64, f64)> {
    records
        .iter()
        .filter_map(|r| Some((r, *r.metrics.get(JITTER)?, *r.metrics.get(ENTROPY)?)))
        .collect()
}

/// Write `<NAME>.csv` (always) and `<NAME>.png`/`.svg` (when a run reports both numbers) into
/// `dir`; return the files and the report's lines about them.
pub fn write(records: &[RunRecord], dir: &Path) -> Result<(Vec<PathBuf>, String)> {
    let pts = points(records);
    let csv = dir.join(format!("{NAME}.csv"));
    write_csv(&csv, &pts)?;
    let link = format!("(data: [{NAME}.csv]({NAME}.csv))");
    if pts.is_empty() {
        let md = format!("{NAME}: not drawn: no run reports both {JITTER} and {ENTROPY} {link}.\n");
        return Ok((vec![csv], md));
    }
    let fig = figure(&pts);
    let mut files = vec![csv];
    for ext in ["png", "svg"] {
        let path = dir.join(format!("{NAME}.{ext}"));
        render::save(&fig, &path)?;
        files.push(path);
    }
    let md = format!("![{}]({NAME}.png)\n\n{link}\n", fig.title);
    Ok((files, md))
}

/// The scatter: conditions in order of first appearance, each its own colour.
pub fn figure(pts: &[(&RunRecord, f64, f64)]) -> Figure {
    let mut conditions: Vec<&str> = Vec::new();
    for (r, ..) in pts {
        if !conditions.contains(&r.condition.as_str()) {
            conditions.push(&r.condition);
        }
    }
    let curves = conditions
        .iter()
        .map(|c| {
            let xy: Vec<(f64, f64)> = pts
                .iter()
                .filter(|(r, ..)| r.condition == *c)
                .map(|(_, x, y)| (*x, *y))
                .collect();
            Curve::scatter(c, &xy)
        })
        .collect();
    let (x, y): (Vec<f64>, Vec<f64>) = pts.iter().map(|(_, x, y)| (*x, *y)).unzip();
    let rho = spearman(&x, &y).map_or("undefined".into(), |r| format!("{r:.3}"));
    Figure {
        title: format!(
            "{JITTER} vs final {ENTROPY}: Spearman ρ = {rho} (n = {})",
            pts.len()
        ),
        x_label: JITTER.into(),
        y_label: format!("final {ENTROPY} (nats/token)"),
        logx: false,
        logy: false,
        curves,
        notes: vec!["one dot per run, all architectures".into()],
    }
}

fn write_csv(path: &Path, pts: &[(&RunRecord, f64, f64)]) -> Result<()> {
    let mut w =
        csv::Writer::from_path(path).with_context(|| format!("writing {}", path.display()))?;
    w.write_record(["arch", "condition", "seed", JITTER, ENTROPY])?;
    for (r, x, y) in pts {
        let seed = r.seed.to_string();
        w.write_record([&r.arch, &r.condition, &seed, &fmt_num(*x), &fmt_num(*y)])?;
    }
    w.flush()?;
    Ok(())
}
