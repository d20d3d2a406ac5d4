//! `lab plot RUN_OR_STUDY --x COL --y COL [--y COL]... [--logy] [-o FILE]`: one line per cell
//! (and y column), the mean across seeds with a shaded standard-error band, as PNG and SVG.
pub mod defaults;
pub mod render;
pub mod series;

use crate::cli::PlotArgs;
use crate::error::usage;
use crate::results::runs::{self, CellRuns, Collection};
use anyhow::Result;
use render::Figure;
use std::path::{Path, PathBuf};

/// A plot `report` tried to draw: its title and the files written, or why it was not drawn.
pub struct PlotOutcome {
    pub title: String,
    pub files: std::result::Result<Vec<PathBuf>, String>,
}

/// `lab plot`.
pub fn command(args: &PlotArgs) -> Result<()> {
    if args.y.is_empty() {
        return Err(usage("lab plot: give at least one --y COLUMN"));
    }
    let collection = runs::collect(&args.path)?;
    let fig = figure(&collection, &args.x, &args.y, args.logy)?;
    let files = match &args.output {
        Some(file) => vec![file.clone()],
        None => {
            let stem = file_stem(&args.x, &args.y);
            let dir = args.path.join("plots");
            vec![
                dir.join(format!("{stem}.png")),
                dir.join(format!("{stem}.svg")),
            ]
        }
    };
    for f in &files {
        render::save(&fig, f)?;
        println!("plot: {}", f.display());
    }
    Ok(())
}

/// Draw the default plots `specs` (a subcommand's declared list) into `dir` as PNG and SVG.
pub fn default_plots(
    collection: &Collection,
    specs: &[defaults::DefaultPlot],
    dir: &Path,
) -> Vec<PlotOutcome> {
    let mut out = Vec::new();
    for spec in specs {
        let ys = [spec.y.to_string()];
        for (part, cells) in split_cells(collection, spec.split) {
            let title = match &part {
                Some(p) => format!("{} vs {} ({p})", spec.y, spec.x),
                None => format!("{} vs {}", spec.y, spec.x),
            };
            let stem = match &part {
                Some(p) => file_stem(&format!("{}_{p}", spec.x), &ys),
                None => file_stem(spec.x, &ys),
            };
            let sub_collection = Collection {
                root: collection.root.clone(),
                study: collection.study.clone(),
                cells,
                notes: Vec::new(),
            };
            let files = figure(&sub_collection, spec.x, &ys, spec.logy).and_then(|mut fig| {
                if let Some(p) = &part {
                    fig.title = format!("{} [{p}]", fig.title);
                }
                let files = [
                    dir.join(format!("{stem}.png")),
                    dir.join(format!("{stem}.svg")),
                ];
                for f in &files {
                    render::save(&fig, f)?;
                }
                Ok(files.to_vec())
            });
            out.push(PlotOutcome {
                title,
                files: files.map_err(|e| format!("{e:#}")),
            });
        }
    }
    out
}

/// The cells grouped by the value of the first study axis named in `keys`, the split-by
/// setting dropped from each cell's name; one unnamed group when there is no such axis.
fn split_cells(collection: &Collection, keys: &[&str]) -> Vec<(Option<String>, Vec<CellRuns>)> {
    let axis = collection
        .study
        .as_ref()
        .and_then(|s| s.grid.iter().find(|a| keys.contains(&a.key.as_str())));
    let Some(axis) = axis.filter(|a| a.values.len() > 1) else {
        return vec![(None, collection.cells.clone())];
    };
    let mut groups: Vec<(Option<String>, Vec<CellRuns>)> = Vec::new();
    for value in &axis.values {
        let value = crate::results::record::value_text(value);
        let tag = format!("{}={value}", axis.key);
        let cells = collection
            .cells
            .iter()
            .filter(|c| {
                c.settings
                    .iter()
                    .any(|(k, v)| *k == axis.key && *v == value)
            })
            .map(|c| {
                let mut c = c.clone();
                let rest: Vec<&str> = c.name.split(',').filter(|p| *p != tag).collect();
                c.name = if rest.is_empty() {
                    tag.clone()
                } else {
                    rest.join(",")
                };
                c
            })
            .collect();
        groups.push((Some(value), cells));
    }
    groups
}

fn file_stem(x: &str, ys: &[String]) -> String {
    let raw = format!("{}_vs_{x}", ys.join("+"));
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._+-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Build the figure: for each cell and y column, the mean curve over the cell's runs.
pub fn figure(collection: &Collection, x: &str, ys: &[String], logy: bool) -> Result<Figure> {
    let mut curves = Vec::new();
    let many_cells = collection.cells.len() > 1;
    for cell in &collection.cells {
        let (runs, note) = runs_to_plot(cell);
        for y in ys {
            let mut points = Vec::new();
            for run in &runs {
                if let Some(p) = series::read_points(run, x, y, logy)? {
                    points.push(p);
                }
            }
            let label = curve_label(&cell.name, y, many_cells, ys.len() > 1, &points, note);
            curves.extend(series::aggregate(&label, &points));
        }
    }
    if curves.is_empty() {
        return Err(usage(format!(
            "nothing to plot in {}: no run has numeric `{x}` and `{}` values{}",
            collection.root.display(),
            ys.join("`/`"),
            if logy { " (> 0 for --logy)" } else { "" }
        )));
    }
    Ok(Figure {
        title: title(collection, x, ys),
        x_label: x.to_string(),
        y_label: ys.join(", "),
        logx: false,
        logy,
        curves,
    })
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
        Some(s) => format!("{} study `{}`", s.subcommand, s.name),
        None => collection
            .root
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| collection.root.display().to_string()),
    };
    format!("{} vs {x} — {what}", ys.join(", "))
}
