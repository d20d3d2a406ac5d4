//! `lab plot RUN_OR_STUDY --x COL --y COL [--y COL]... [--logy] [-o FILE]`: one line per cell
//! (and y column), the mean across seeds with a shaded standard-error band, as PNG and SVG.
pub mod axis;
pub mod defaults;
pub mod legend;
pub mod marker;
pub mod output;
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

/// `lab plot`: in a study with an axis its subcommand's default plots split by (an
/// environment, say), one figure per value of that axis, as `lab report` draws them.
pub fn command(args: &PlotArgs, plots_for: crate::report::PlotsFor) -> Result<()> {
    if args.y.is_empty() {
        return Err(usage("lab plot: give at least one --y COLUMN"));
    }
    if let Some((i, y)) = args
        .y
        .iter()
        .enumerate()
        .find(|(i, y)| args.y[..*i].contains(y))
    {
        return Err(usage(format!(
            "lab plot: --y {y} is given twice (--y number {}); give each column once",
            i + 1
        )));
    }
    if let Some(file) = &args.output {
        // Before any run is read, and naming the file as given (a split adds `_<part>`).
        render::format_of(file).map_err(|e| usage(format!("lab plot -o {e}")))?;
    }
    let collection = runs::collect(&args.path)?;
    for note in &collection.notes {
        eprintln!("note: {note}");
    }
    let split: Vec<&str> = plots_for(&collection.subcommand().unwrap_or_default())
        .iter()
        .flat_map(|p| p.split.iter().copied())
        .collect();
    let groups = split_cells(&collection, &split);
    if args.output.is_some() {
        for (part, _) in &groups {
            for file in plot_files(args, part.as_deref()) {
                output::check_free(&file, args.force)?;
            }
        }
    }
    for (part, cells) in groups {
        let sub = Collection {
            root: collection.root.clone(),
            study: collection.study.clone(),
            cells,
            notes: Vec::new(),
        };
        let mut fig = figure(&sub, &args.x, &args.y, args.logy)?;
        if let Some(p) = &part {
            fig.title = format!("{} [{p}]", fig.title);
        }
        for f in plot_files(args, part.as_deref()) {
            let aside = match args.output {
                Some(_) => output::keep_aside(&f)?,
                None => None,
            };
            let saved = render::save(&fig, &f);
            output::settle_aside(&f, aside, saved.is_ok());
            saved?;
            warn_left_out(&fig, &f.display().to_string());
            println!("plot: {}", f.display());
        }
    }
    Ok(())
}

/// `-o FILE` (with `_<part>` before the extension for a part of a split), else PNG and SVG in
/// `plots/` below the runs.
fn plot_files(args: &PlotArgs, part: Option<&str>) -> Vec<PathBuf> {
    let tag = |stem: &str| match part {
        Some(p) => file_stem(&format!("{stem}_{p}"), &[]),
        None => stem.to_string(),
    };
    match &args.output {
        Some(file) => {
            let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned());
            let ext = file.extension().map(|e| e.to_string_lossy().into_owned());
            match (part, stem) {
                (Some(_), Some(stem)) => {
                    let name = format!("{}.{}", tag(&stem), ext.unwrap_or_default());
                    vec![file.with_file_name(name)]
                }
                _ => vec![file.clone()],
            }
        }
        None => {
            let stem = match part {
                Some(p) => file_stem(&format!("{}_{p}", args.x), &args.y),
                None => file_stem(&args.x, &args.y),
            };
            let dir = args.path.join("plots");
            vec![
                dir.join(format!("{stem}.png")),
                dir.join(format!("{stem}.svg")),
            ]
        }
    }
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
                if let Some(line) = spec
                    .reference
                    .and_then(|k| reference_line(&sub_collection, k, &fig))
                {
                    fig.curves.push(line);
                }
                if let Some(p) = &part {
                    fig.title = format!("{} [{p}]", fig.title);
                }
                let files = [
                    dir.join(format!("{stem}.png")),
                    dir.join(format!("{stem}.svg")),
                ];
                for f in &files {
                    render::save(&fig, f)?;
                    warn_left_out(&fig, &f.display().to_string());
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

/// A horizontal line at summary scalar `key` across the figure's x range, when every completed
/// run in `collection` reports the same value.
fn reference_line(collection: &Collection, key: &str, fig: &Figure) -> Option<series::Curve> {
    let values: Vec<f64> = collection
        .cells
        .iter()
        .flat_map(|c| c.runs.iter().filter(|r| r.completed()))
        .filter_map(|r| r.metric(key))
        .collect();
    let first = *values.first()?;
    if values
        .iter()
        .any(|v| (v - first).abs() > 1e-12 * first.abs().max(1.0))
    {
        return None;
    }
    let xs = fig.curves.iter().flat_map(|c| c.x.iter().copied());
    let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    let label = format!("{key} = {first:.4}");
    (lo < hi).then(|| series::Curve::exact(&label, &[(lo, first), (hi, first)]))
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

/// `<ys>_vs_<x>` as a file name: letters and digits of any script stay (so columns `λ` and `μ`
/// do not both become `_` and overwrite each other's plot), anything else becomes `_`.
fn file_stem(x: &str, ys: &[String]) -> String {
    let raw = if ys.is_empty() {
        x.to_string()
    } else {
        format!("{}_vs_{x}", ys.join("+"))
    };
    raw.chars()
        .map(|c| {
            if c.is_alphanumeric() || "._+-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Build the figure: for each cell and y column, the mean curve over the cell's runs. Its
/// notes say what the band is and how many points a log axis left out.
pub fn figure(collection: &Collection, x: &str, ys: &[String], logy: bool) -> Result<Figure> {
    let mut curves = Vec::new();
    let many_cells = collection.cells.len() > 1;
    let (mut nonpositive, mut nonfinite, mut duplicate_x) = (0, 0, 0);
    let mut no_metrics: Vec<PathBuf> = Vec::new();
    for cell in &collection.cells {
        let (runs, note) = runs_to_plot(cell);
        for y in ys {
            let mut points = Vec::new();
            for run in &runs {
                match series::read_points(run, x, y, logy)? {
                    Some(p) => {
                        nonpositive += p.nonpositive;
                        nonfinite += p.nonfinite;
                        duplicate_x += p.duplicate_x;
                        points.push(p.points);
                    }
                    None if !no_metrics.contains(run) => no_metrics.push(run.clone()),
                    None => {}
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
    let points = |n: usize| format!("{n} point{}", if n == 1 { "" } else { "s" });
    if nonpositive > 0 {
        let n = points(nonpositive);
        notes.push(format!("log y axis: {n} with y <= 0 left out"));
    }
    if nonfinite > 0 {
        let n = points(nonfinite);
        notes.push(format!("{n} with NaN or infinite `{x}` or y left out"));
    }
    if duplicate_x > 0 {
        let n = points(duplicate_x);
        notes.push(format!(
            "{n} left out whose `{x}` repeats an earlier row's (the first row is drawn)"
        ));
    }
    if let Some(first) = no_metrics.first() {
        let n = no_metrics.len();
        notes.push(format!(
            "{n} run{} without metrics.csv left out ({}{})",
            if n == 1 { "" } else { "s" },
            first.display(),
            if n > 1 { ", ..." } else { "" }
        ));
    }
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

/// Say on stderr what the figure's notes say about left-out data.
fn warn_left_out(fig: &Figure, file: &str) {
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
