//! Spec §7.3 plot 3, `stability_vs_entropy`: `stab_loss_jitter` (x) against the final
//! `fr_entropy_t1` (y), one dot per run, one colour per condition and one marker per
//! architecture, Spearman ρ over all runs in the title (H5's statistic), and the points as CSV.
use super::extra::{ENTROPY, JITTER};
use super::RunRecord;
use crate::plot::render::{self, Figure};
use crate::plot::series::{Curve, Marker, Style};
use crate::results::format::fixed;
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

/// The scatter: one colour per condition and one marker per architecture (both in order of
/// first appearance), one curve per (condition, architecture) that has runs.
pub fn figure(pts: &[(&RunRecord, f64, f64)]) -> Figure {
    let order = |key: fn(&RunRecord) -> &str| {
        let mut seen: Vec<&str> = Vec::new();
        for (r, ..) in pts {
            if !seen.contains(&key(r)) {
                seen.push(key(r));
            }
        }
        seen
    };
    let conditions = order(|r| &r.condition);
    let archs = order(|r| &r.arch);
    let mut curves = Vec::new();
    for (ci, c) in conditions.iter().enumerate() {
        for (ai, a) in archs.iter().enumerate() {
            let xy: Vec<(f64, f64)> = pts
                .iter()
                .filter(|(r, ..)| r.condition == *c && r.arch == *a)
                .map(|(_, x, y)| (*x, *y))
                .collect();
            if xy.is_empty() {
                continue;
            }
            let label = if archs.len() > 1 {
                format!("{c}, {a}")
            } else {
                c.to_string()
            };
            let mut curve = Curve::scatter(&label, &xy);
            curve.style = Style {
                color: Some(ci),
                marker: Marker::ALL[ai % Marker::ALL.len()],
                dashed: false,
            };
            curves.push(curve);
        }
    }
    let (x, y): (Vec<f64>, Vec<f64>) = pts.iter().map(|(_, x, y)| (*x, *y)).unzip();
    let rho = spearman(&x, &y).map_or("undefined".into(), |r| fixed(r, 3));
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
        notes: vec![
            "one dot per run; colour: condition, marker: architecture; ρ over all runs".into(),
        ],
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
