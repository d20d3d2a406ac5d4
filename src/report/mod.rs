//! `lab report DIR`: per cell, mean ± standard error and a 95% bootstrap CI across seeds of every
//! numeric summary.json entry, failed runs with their errors, and the subcommand's default plots,
//! written to `DIR/report.md` and `DIR/summary.csv`, plus whatever section and files the
//! subcommand's own report hook adds.
pub mod markdown;
mod own;

use crate::results::runs::{self, CellRuns, Collection};
use crate::results::stats::{self, Stats};
use anyhow::Result;
use std::path::{Path, PathBuf};

/// Files written by [`write`].
pub struct ReportPaths {
    pub markdown: PathBuf,
    pub csv: PathBuf,
    pub plots: Vec<PathBuf>,
    /// Files the subcommand's report hook wrote.
    pub extra: Vec<PathBuf>,
    /// Why the subcommand's report hook failed (the report notes it), if it did.
    pub hook_failed: Option<anyhow::Error>,
}

/// What a subcommand adds to its report: a markdown section (placed after the header) and the
/// files it wrote.
pub struct ReportExtra {
    pub markdown: String,
    pub files: Vec<PathBuf>,
}

/// A subcommand's own part of `lab report`: given the runs and the report's directory, write
/// its files there and return its section.
pub type ReportHook = fn(&Collection, &Path) -> Result<ReportExtra>;

/// One cell's statistics for one metric (None: no completed run has it).
pub struct MetricStats {
    pub metric: String,
    pub stats: Option<Stats>,
}

/// Statistics over the completed runs of a cell, one entry per metric name.
pub fn cell_stats(cell: &CellRuns, metrics: &[String]) -> Vec<MetricStats> {
    metrics
        .iter()
        .map(|m| {
            let values: Vec<f64> = cell
                .runs
                .iter()
                .filter(|r| r.completed())
                .filter_map(|r| r.metric(m))
                .collect();
            MetricStats {
                metric: m.clone(),
                stats: stats::summarize(&values),
            }
        })
        .collect()
}

pub use crate::plot::defaults::PlotsFor;

/// The report hook each subcommand declares, by subcommand name (from the subcommand list).
pub type HookFor<'a> = &'a dyn Fn(&str) -> Option<ReportHook>;

/// `lab report DIR`. A failed report hook fails the command (exit 1, or 2 for a usage error)
/// after the rest of the report is written, so no script goes on with the hook's files of an
/// earlier report.
pub fn command(dir: &Path, plots_for: PlotsFor, hook_for: HookFor) -> Result<()> {
    let paths = write(dir, plots_for, hook_for)?;
    println!("report: {}", paths.markdown.display());
    println!("table:  {}", paths.csv.display());
    for p in &paths.plots {
        println!("plot:   {}", p.display());
    }
    for p in &paths.extra {
        println!("file:   {}", p.display());
    }
    match paths.hook_failed {
        Some(e) => Err(e.context(format!(
            "{} was written with a note in place of this part",
            paths.markdown.display()
        ))),
        None => Ok(()),
    }
}

/// Read the runs under `dir` and write report.md, summary.csv, the default plots of the runs'
/// subcommand and what its report hook adds. A failing hook leaves a note, not a failed report.
/// A report.md or summary.csv there that no report wrote (a grng run's own summary.csv) is
/// refused before anything is written.
pub fn write(dir: &Path, plots_for: PlotsFor, hook_for: HookFor) -> Result<ReportPaths> {
    let mut collection = runs::collect(dir)?;
    own::check(dir)?;
    let plottable = without_doubled_columns(&mut collection);
    for note in &collection.notes {
        eprintln!("note: {note}");
    }
    let metrics = collection.metric_names();
    let csv = dir.join("summary.csv");
    write_csv(&csv, &collection, &metrics)?;
    let subcommand = collection.subcommand().unwrap_or_default();
    let specs = plots_for(&subcommand);
    let plots = crate::plot::default_plots(&plottable, specs, &dir.join("plots"));
    let (extra, hook_failed) = run_hook(hook_for(&subcommand), &subcommand, &collection, dir);
    let md = markdown::render(&collection, &metrics, &plots, dir, &extra.markdown);
    let markdown = dir.join("report.md");
    crate::run::write_atomic(&markdown, md.as_bytes())?;
    let plots = plots.into_iter().filter_map(|p| p.files.ok()).flatten();
    Ok(ReportPaths {
        markdown,
        csv,
        plots: plots.collect(),
        extra: extra.files,
        hook_failed,
    })
}

/// The runs to draw the default plots from: those whose metrics.csv names no column twice.
/// Such a file made the whole plot fail for every run before (or, where the doubled column
/// was not drawn, passed unnoticed); now its run is left out of the plots (its summary.json
/// numbers stay in the tables) with a note in `c` naming the file and both columns.
fn without_doubled_columns(c: &mut Collection) -> Collection {
    let mut cells = c.cells.clone();
    for cell in &mut cells {
        cell.runs.retain(|run| {
            let why = crate::results::columns::doubled_in_file(&run.dir.join("metrics.csv"));
            if let Some(why) = &why {
                c.notes.push(format!(
                    "{why}; that run is left out of the plots (its summary.json numbers are kept)"
                ));
            }
            why.is_none()
        });
    }
    Collection {
        root: c.root.clone(),
        study: c.study.clone(),
        cells,
        notes: Vec::new(),
    }
}

/// The subcommand's report hook, if it has one; a failure becomes a note in the report and is
/// handed back with the error.
fn run_hook(
    hook: Option<ReportHook>,
    subcommand: &str,
    c: &Collection,
    dir: &Path,
) -> (ReportExtra, Option<anyhow::Error>) {
    let empty = || ReportExtra {
        markdown: String::new(),
        files: Vec::new(),
    };
    match hook.map(|hook| hook(c, dir)) {
        None => (empty(), None),
        Some(Ok(extra)) => (extra, None),
        Some(Err(e)) => {
            let why = format!("{e:#}").replace('\n', " ");
            let note = ReportExtra {
                markdown: format!(
                    "**Note:** the `lab {subcommand}` part of this report could not be written: \
                     {why}.\n\n"
                ),
                files: Vec::new(),
            };
            let e = e.context(format!("the `lab {subcommand}` part of the report failed"));
            (note, Some(e))
        }
    }
}

/// Long format: one row per cell × metric, grid values as their own columns; `runs` counts the
/// completed runs that report the metric (a metric may itself be called `n`).
fn write_csv(path: &Path, collection: &Collection, metrics: &[String]) -> Result<()> {
    let keys = grid_keys(collection);
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["cell".to_string()];
    header.extend(keys.iter().cloned());
    header.extend(
        [
            "completed",
            "failed",
            "metric",
            "runs",
            "mean",
            "se",
            "ci95_low",
            "ci95_high",
        ]
        .map(String::from),
    );
    w.write_record(&header)?;
    for cell in &collection.cells {
        let completed = cell.runs.iter().filter(|r| r.completed()).count();
        let failed = cell.runs.len() - completed;
        for m in cell_stats(cell, metrics) {
            let mut row = vec![cell.name.clone()];
            row.extend(keys.iter().map(|k| setting(cell, k)));
            row.extend([completed.to_string(), failed.to_string(), m.metric]);
            match m.stats {
                Some(s) => row.extend([
                    s.n.to_string(),
                    num(s.mean),
                    num(s.se),
                    num(s.ci_low),
                    num(s.ci_high),
                ]),
                None => row.extend(["0", "", "", "", ""].map(String::from)),
            }
            w.write_record(&row)?;
        }
    }
    crate::run::write_atomic(path, &w.into_inner()?)
}

/// The study's axes, or outside a study the config keys that tell split cells apart.
fn grid_keys(collection: &Collection) -> Vec<String> {
    if let Some(s) = &collection.study {
        return s.grid.iter().map(|a| a.key.clone()).collect();
    }
    let mut keys: Vec<String> = Vec::new();
    for (k, _) in collection.cells.iter().flat_map(|c| &c.settings) {
        if !keys.contains(k) {
            keys.push(k.clone());
        }
    }
    keys
}

fn setting(cell: &CellRuns, key: &str) -> String {
    cell.settings
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// Full precision for the CSV (as metrics.csv prints numbers); NaN (no standard error from one
/// seed) as an empty field.
fn num(v: f64) -> String {
    if v.is_finite() {
        crate::run::fmt_num(v)
    } else {
        String::new()
    }
}
