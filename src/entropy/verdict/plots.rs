//! Spec §7.3 plots 1, 2, 4 and 5 of a study, each an SVG and a PNG of panels (one row per
//! quantity, one column per architecture) and its data as CSV: per condition one colour, the
//! line the mean over seeds and the band their min–max at each step.
//! - `loss`: `train_loss`, `val_loss`;
//! - `entropy`: `fr_entropy_t1`, `tf_entropy_val`, with `h_ref` as a dashed grey line;
//! - `repetition`: `seq_rep_4_greedy`, `loop_frac_greedy`, `distinct_4`, `copy_rate_32_t1`;
//! - `controller` (runs whose controller acts): `ctrl_stat_filt`, `ctrl_drift`, `ctrl_u`,
//!   `lr_eff` from ctrl.csv (and steps.csv), the set-point dashed in the panel of the quantity
//!   it is compared with (`ctrl_drift` in drift mode, `ctrl_stat_filt` otherwise).
use super::plot_data::{self, StudyRun, Table, CTRL_COLUMNS};
use crate::plot::render::{self, Figure};
use crate::plot::series::{aggregate_min_max, Curve, Style};
use anyhow::Result;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The palette index of reference lines (grey in Tableau 10).
const GREY: usize = 7;

/// One §7.3 step plot.
pub struct StepPlot {
    pub name: &'static str,
    pub what: &'static str,
    /// The panel rows; the CSV has these columns (the controller plot also `ctrl_setpoint`).
    pub columns: &'static [&'static str],
    pub controller: bool,
}

pub const STEP_PLOTS: [StepPlot; 4] = [
    StepPlot {
        name: "loss",
        what: "train and val loss",
        columns: &["train_loss", "val_loss"],
        controller: false,
    },
    StepPlot {
        name: "entropy",
        what: "generative and teacher-forced entropy, h_ref dashed",
        columns: &["fr_entropy_t1", "tf_entropy_val"],
        controller: false,
    },
    StepPlot {
        name: "repetition",
        what: "repetition, diversity and copying",
        columns: &[
            "seq_rep_4_greedy",
            "loop_frac_greedy",
            "distinct_4",
            "copy_rate_32_t1",
        ],
        controller: false,
    },
    StepPlot {
        name: "controller",
        what: "the feedback controller (runs whose controller acts), set-point dashed",
        columns: &["ctrl_stat_filt", "ctrl_drift", "ctrl_u", "lr_eff"],
        controller: true,
    },
];

/// Write every step plot into `dir`; return the files and the report's lines about them.
pub fn write(runs: &[StudyRun], dir: &Path) -> Result<(Vec<PathBuf>, String)> {
    let mut files = Vec::new();
    let mut md = String::new();
    for plot in &STEP_PLOTS {
        let (f, line) = write_one(plot, runs, dir)?;
        files.extend(f);
        let _ = writeln!(md, "{line}\n");
    }
    Ok((files, md))
}

fn write_one(plot: &StepPlot, runs: &[StudyRun], dir: &Path) -> Result<(Vec<PathBuf>, String)> {
    let name = plot.name;
    let mut tables: Vec<(&StudyRun, Table)> = Vec::new();
    for run in runs {
        if plot.controller && run.controller_mode.is_none() {
            continue;
        }
        let table = if plot.controller {
            plot_data::controller_table(&run.dir)?
        } else {
            plot_data::read_table(&run.dir.join("metrics.csv"), plot.columns)?
        };
        tables.push((run, table));
    }
    let csv = dir.join(format!("{name}.csv"));
    let (columns, extra): (Vec<&str>, &[&str]) = if plot.controller {
        let mut c: Vec<&str> = CTRL_COLUMNS.iter().map(|c| c.0).collect();
        c.push("lr_eff");
        (c, &[])
    } else if name == "entropy" {
        (plot.columns.to_vec(), &["h_ref"])
    } else {
        (plot.columns.to_vec(), &[])
    };
    plot_data::write_long_csv(&csv, &columns, extra, &tables)?;
    let link = format!("(data: [{name}.csv]({name}.csv))");
    let figs = panels(plot, &tables, &columns);
    if figs.iter().all(|f| f.curves.is_empty()) {
        let md = format!("{name}: not drawn: no run has these columns {link}.");
        return Ok((vec![csv], md));
    }
    let archs = archs(&tables).len();
    let mut files = vec![csv];
    for ext in ["png", "svg"] {
        let path = dir.join(format!("{name}.{ext}"));
        render::save_grid(&figs, archs, &path)?;
        files.push(path);
    }
    let md = format!("![{name}: {}]({name}.png)\n\n{link}", plot.what);
    Ok((files, md))
}

fn archs<'a>(tables: &'a [(&StudyRun, Table)]) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for (r, _) in tables {
        if !out.contains(&r.record.arch.as_str()) {
            out.push(&r.record.arch);
        }
    }
    out
}

/// One figure per (quantity, architecture), row by row.
fn panels(plot: &StepPlot, tables: &[(&StudyRun, Table)], columns: &[&str]) -> Vec<Figure> {
    let mut conditions: Vec<&str> = Vec::new();
    for (r, _) in tables {
        if !conditions.contains(&r.record.condition.as_str()) {
            conditions.push(&r.record.condition);
        }
    }
    let archs = archs(tables);
    let mut figs = Vec::new();
    for &quantity in plot.columns {
        let col = columns.iter().position(|c| *c == quantity).unwrap_or(0);
        for &arch in &archs {
            let in_arch: Vec<&(&StudyRun, Table)> = tables
                .iter()
                .filter(|(r, _)| r.record.arch == arch)
                .collect();
            let mut curves = Vec::new();
            for (ci, &cond) in conditions.iter().enumerate() {
                let runs: Vec<&(&StudyRun, Table)> = in_arch
                    .iter()
                    .copied()
                    .filter(|(r, _)| r.record.condition == cond)
                    .collect();
                curves.extend(condition_curve(cond, ci, &runs, col, false));
                if plot.controller && setpoint_goes_with(&runs, quantity) {
                    let sp = columns.iter().position(|c| *c == "ctrl_setpoint");
                    curves.extend(sp.and_then(|i| condition_curve(cond, ci, &runs, i, true)));
                }
            }
            if plot.name == "entropy" {
                curves.extend(h_ref_line(&in_arch, &curves));
            }
            figs.push(figure(quantity, arch, curves));
        }
    }
    figs
}

/// Mean and min–max band over the runs of one condition; a dashed set-point when `setpoint`.
fn condition_curve(
    cond: &str,
    color: usize,
    runs: &[&(&StudyRun, Table)],
    col: usize,
    setpoint: bool,
) -> Option<Curve> {
    let pts: Vec<Vec<(f64, f64)>> = runs
        .iter()
        .map(|(_, t)| plot_data::points(t, col))
        .collect();
    let n = pts.iter().filter(|p| !p.is_empty()).count();
    let label = match (setpoint, n) {
        (true, _) => format!("set-point, {cond}"),
        (false, 1) => format!("{cond} (1 run)"),
        (false, _) => format!("{cond} ({n} runs)"),
    };
    let mut curve = aggregate_min_max(&label, &pts)?;
    curve.style = Style {
        color: Some(color),
        dashed: setpoint,
        ..Style::default()
    };
    Some(curve)
}

/// Whether the runs' set-point is compared with `quantity`: the drift in drift mode, the
/// filtered statistic in hold and track modes.
fn setpoint_goes_with(runs: &[&(&StudyRun, Table)], quantity: &str) -> bool {
    let drift = runs
        .first()
        .and_then(|(r, _)| r.controller_mode.as_deref())
        .map(|m| m == "drift");
    match drift {
        Some(true) => quantity == "ctrl_drift",
        Some(false) => quantity == "ctrl_stat_filt",
        None => false,
    }
}

/// `h_ref` across the panel: its value when every run has the same, else the mean over runs.
fn h_ref_line(runs: &[&(&StudyRun, Table)], curves: &[Curve]) -> Option<Curve> {
    let values: Vec<f64> = runs
        .iter()
        .filter_map(|(r, _)| r.record.metrics.get("h_ref").copied())
        .collect();
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    let mean = crate::results::stats::mean(&values);
    let label = if values.is_empty() {
        return None;
    } else if hi - lo <= 1e-12 * hi.abs().max(1.0) {
        format!("h_ref = {mean:.4}")
    } else {
        format!(
            "h_ref, mean of {} runs = {mean:.4} ({lo:.4}–{hi:.4})",
            values.len()
        )
    };
    let xs = curves.iter().flat_map(|c| c.x.iter().copied());
    let (x0, x1) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    let mut line = Curve::exact(&label, &[(x0, mean), (x1, mean)]);
    line.style = Style {
        color: Some(GREY),
        dashed: true,
        ..Style::default()
    };
    (x0 <= x1).then_some(line)
}

fn figure(quantity: &str, arch: &str, curves: Vec<Curve>) -> Figure {
    let mut notes = Vec::new();
    if curves.iter().any(|c| c.runs.iter().any(|&n| n > 1)) {
        notes.push("line: mean over seeds; band: min–max over seeds".into());
    }
    if curves.is_empty() {
        notes.push(format!("no run of {arch} reports {quantity}"));
    }
    Figure {
        title: format!("{quantity} — {arch}"),
        x_label: "step".into(),
        y_label: quantity.into(),
        logx: false,
        logy: false,
        curves,
        notes,
    }
}
