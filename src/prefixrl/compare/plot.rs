//! The paper's headline figure (spec §5.1, §5.2): training reward (unprefixed pass@1 of the
//! periodic eval, `train_unpref_pass1`) against total FLOPs with the offline charge of the
//! comparison, one curve per method label (mean ± standard error over seeds), as PNG and SVG.
use super::Comparison;
use crate::plot::render::{self, Figure};
use crate::plot::series::{aggregate, Curve};
use anyhow::Result;
use std::path::{Path, PathBuf};

pub const NAME: &str = "reward_vs_flops";

/// The figure: labels in order of first appearance.
pub fn figure(c: &Comparison) -> Figure {
    let mut labels: Vec<&str> = Vec::new();
    for r in &c.runs {
        if !labels.contains(&r.label.as_str()) {
            labels.push(&r.label);
        }
    }
    let curves: Vec<Curve> = labels
        .iter()
        .filter_map(|l| {
            let runs: Vec<Vec<(f64, f64)>> = c
                .runs
                .iter()
                .filter(|r| r.label == *l)
                .map(|r| {
                    let (x, y) = r.curve("train_unpref_pass1");
                    x.into_iter().zip(y).collect()
                })
                .collect();
            aggregate(l, &runs)
        })
        .collect();
    Figure {
        title: "training reward (unprefixed pass@1) vs total FLOPs".into(),
        x_label: "FLOPs (offline + sampling + training)".into(),
        y_label: "train_unpref_pass1".into(),
        logx: false,
        logy: false,
        curves,
        notes: vec!["mean ± s.e. over seeds; offline FLOPs charged to the trace users".into()],
    }
}

/// Write `<NAME>.png` and `.svg` into `dir`; return the files and the report's line.
pub fn write(c: &Comparison, dir: &Path) -> Result<(Vec<PathBuf>, String)> {
    let fig = figure(c);
    if fig.curves.iter().all(|k| k.x.is_empty()) {
        let md = format!("{NAME}: not drawn: no run has train_unpref_pass1 with flops_total.\n");
        return Ok((Vec::new(), md));
    }
    let mut files = Vec::new();
    for ext in ["png", "svg"] {
        let path = dir.join(format!("{NAME}.{ext}"));
        render::save(&fig, &path)?;
        files.push(path);
    }
    Ok((files, format!("![{}]({NAME}.png)\n\n", fig.title)))
}
