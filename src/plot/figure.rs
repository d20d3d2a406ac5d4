//! The figure `lab plot` and a report's default plots draw from a collection of runs: one mean
//! curve per cell and y column, and notes on what was left out and why.
use super::render::Figure;
use super::series::{self, Read};
use crate::error::usage;
use crate::results::runs::{CellRuns, Collection};
use anyhow::Result;
use std::path::{Path, PathBuf};

/// Build the figure: for each cell and y column, the mean curve over the cell's runs. Its
/// notes say what the band is and what was left out: points a log axis cannot show, NaN or
/// repeated x rows, runs without metrics.csv or without one of the columns (a column that no
/// run has is an error naming the columns there are).
pub fn figure(collection: &Collection, x: &str, ys: &[String], logy: bool) -> Result<Figure> {
    let mut curves = Vec::new();
    let many_cells = collection.cells.len() > 1;
    let mut left = LeftOut::default();
    for cell in &collection.cells {
        let (runs, note) = runs_to_plot(cell);
        for y in ys {
            let mut points = Vec::new();
            for run in &runs {
                let read = series::read_points(run, x, y, logy)?;
                points.extend(left.add(run, read));
            }
            let label = curve_label(&cell.name, y, many_cells, ys.len() > 1, &points, note);
            curves.extend(series::aggregate(&label, &points));
        }
    }
    if curves.is_empty() {
        return Err(nothing_to_plot(collection, x, ys, logy, &left));
    }
    let mut notes = Vec::new();
    if curves.iter().any(|c| c.runs.iter().any(|&n| n > 1)) {
        let mut band =
            "Line: mean across runs; band: ± s.e. (standard error of that mean)".to_string();
        if curves
            .iter()
            .any(|c| c.runs.windows(2).any(|w| w[1] < w[0]))
        {
            band.push_str("; n=k: from there on only k runs reach that x");
        }
        notes.push(band);
    }
    notes.extend(left.notes(x));
    Ok(Figure {
        title: title(collection, x, ys),
        x_label: x.to_string(),
        y_label: ys.join(", "),
        logx: false,
        logy,
        curves,
        notes,
    })
}

/// What the runs' metrics.csv files had that the figure cannot draw.
#[derive(Default)]
struct LeftOut {
    nonpositive: usize,
    nonfinite: usize,
    too_large: usize,
    duplicate_x: usize,
    /// Whether any run had both columns.
    any_columns: bool,
    no_metrics: Vec<PathBuf>,
    /// Runs without a column: (run, column, message).
    no_column: Vec<(PathBuf, String, String)>,
}

impl LeftOut {
    /// Count what `read` left out of `run`; its points, if it has the columns.
    fn add(&mut self, run: &Path, read: Read) -> Option<Vec<(f64, f64)>> {
        match read {
            Read::Points(p) => {
                self.any_columns = true;
                self.nonpositive += p.nonpositive;
                self.nonfinite += p.nonfinite;
                self.too_large += p.too_large;
                self.duplicate_x += p.duplicate_x;
                return Some(p.points);
            }
            Read::NoFile if !self.no_metrics.iter().any(|r| r == run) => {
                self.no_metrics.push(run.to_path_buf());
            }
            Read::NoColumn { column, why }
                if !(self.no_column.iter()).any(|(r, c, _)| r == run && *c == column) =>
            {
                self.no_column.push((run.to_path_buf(), column, why));
            }
            _ => {}
        }
        None
    }

    fn notes(&self, x: &str) -> Vec<String> {
        let mut notes = Vec::new();
        if self.nonpositive > 0 {
            let n = points(self.nonpositive);
            notes.push(format!("log y axis: {n} with y <= 0 left out"));
        }
        if self.nonfinite > 0 {
            let n = points(self.nonfinite);
            notes.push(format!("{n} with NaN or infinite `{x}` or y left out"));
        }
        if self.too_large > 0 {
            let n = points(self.too_large);
            let max = series::DRAWABLE;
            notes.push(format!(
                "{n} with `{x}` or y beyond ±{max:e} left out (too large to draw)"
            ));
        }
        if self.duplicate_x > 0 {
            let n = points(self.duplicate_x);
            notes.push(format!(
                "{n} left out whose `{x}` repeats an earlier row's (the first row is drawn)"
            ));
        }
        let runs: Vec<&Path> = self.no_metrics.iter().map(PathBuf::as_path).collect();
        notes.extend(runs_note(&runs, "without metrics.csv"));
        let mut columns: Vec<&String> = Vec::new();
        for (_, column, _) in &self.no_column {
            if !columns.contains(&column) {
                columns.push(column);
            }
        }
        for column in columns {
            let lacking: Vec<&Path> = (self.no_column.iter())
                .filter(|(_, c, _)| c == column)
                .map(|(r, ..)| r.as_path())
                .collect();
            notes.extend(runs_note(&lacking, &format!("without a `{column}` column")));
        }
        notes
    }
}

/// `k runs <what> left out (first, ...)`, or nothing for no runs.
fn runs_note(runs: &[&Path], what: &str) -> Option<String> {
    let first = runs.first()?;
    let n = runs.len();
    Some(format!(
        "{n} run{} {what} left out ({}{})",
        if n == 1 { "" } else { "s" },
        first.display(),
        if n > 1 { ", ..." } else { "" }
    ))
}

fn points(n: usize) -> String {
    format!("{n} point{}", if n == 1 { "" } else { "s" })
}

/// Why there is no curve: no run has a column (the first such run's message, which lists the
/// columns it has), or no row has numbers in both, saying what was left out.
fn nothing_to_plot(
    collection: &Collection,
    x: &str,
    ys: &[String],
    logy: bool,
    left: &LeftOut,
) -> anyhow::Error {
    if let (false, Some((_, _, why))) = (left.any_columns, left.no_column.first()) {
        return usage(why.clone());
    }
    let notes = left.notes(x);
    let why = if notes.is_empty() {
        String::new()
    } else {
        format!(" ({})", notes.join("; "))
    };
    usage(format!(
        "nothing to plot in {}: no run has numeric `{x}` and `{}` values{}{why}",
        collection.root.display(),
        ys.join("`/`"),
        if logy { " (> 0 for --logy)" } else { "" }
    ))
}

/// Say on stderr what the figure's notes say about left-out data.
pub(super) fn warn_left_out(fig: &Figure, file: &str) {
    for note in fig.notes.iter().filter(|n| n.contains("left out")) {
        eprintln!("note: {file}: {note}");
    }
}

/// Completed runs; a cell without any is drawn from its unfinished runs, marked as such.
fn runs_to_plot(cell: &CellRuns) -> (Vec<PathBuf>, &'static str) {
    let done: Vec<PathBuf> = cell
        .runs
        .iter()
        .filter(|r| r.completed())
        .map(|r| r.dir.clone())
        .collect();
    if done.is_empty() {
        (
            cell.runs.iter().map(|r| r.dir.clone()).collect(),
            " (failed)",
        )
    } else {
        (done, "")
    }
}

fn curve_label(
    cell: &str,
    y: &str,
    many_cells: bool,
    many_ys: bool,
    runs: &[Vec<(f64, f64)>],
    note: &str,
) -> String {
    let base = match (many_cells, many_ys) {
        (true, true) => format!("{cell}: {y}"),
        (true, false) => cell.to_string(),
        (false, _) => y.to_string(),
    };
    let n = runs.iter().filter(|r| !r.is_empty()).count();
    let seeds = if n == 1 {
        "1 run".to_string()
    } else {
        format!("{n} runs")
    };
    format!("{base}{note} ({seeds})")
}

fn title(collection: &Collection, x: &str, ys: &[String]) -> String {
    let what = match &collection.study {
        Some(s) => format!("{} study {}", s.subcommand, s.name),
        None => collection
            .root
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| collection.root.display().to_string()),
    };
    format!("{} vs {x} — {what}", ys.join(", "))
}
