//! `lab plot RUN_OR_STUDY --x COL --y COL [--y COL]... [--logy] [-o FILE]`: one line per cell
//! (and y column), the mean across seeds with a shaded standard-error band, as PNG and SVG.
pub mod axis;
pub mod defaults;
mod figure;
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

pub use figure::figure;
use figure::warn_left_out;
use std::path::{Path, PathBuf};

/// A plot `report` tried to draw: its title and the files written, or why it was not drawn.
pub struct PlotOutcome {
    pub title: String,
    pub files: std::result::Result<Vec<PathBuf>, String>,
}

/// `lab plot`: in a study with an axis its subcommand's default plots split by (an
/// environment, say), one figure per value of that axis, as `lab report` draws them.
pub fn command(args: &PlotArgs, plots_for: defaults::PlotsFor) -> Result<()> {
    // Column names match with surrounding spaces trimmed (metrics.csv headers are trimmed too).
    let mut args = args.clone();
    args.x = args.x.trim().to_string();
    args.y = args.y.iter().map(|y| y.trim().to_string()).collect();
    let args = &args;
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
