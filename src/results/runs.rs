//! Find the runs under a directory and group them into cells: a study dir (with study.json)
//! gives its cells in grid order; any other dir groups run dirs (those with meta.json) by parent.
use super::by_config;
use super::record::{value_text, StudyRecord};
use super::summary::{self, Entries};
use crate::error::usage;
use anyhow::{Context, Result};
use serde_yaml_ng::Value;
use std::path::{Path, PathBuf};

/// One run directory as read from disk.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub dir: PathBuf,
    pub status: String,
    pub error: Option<String>,
    pub subcommand: Option<String>,
    /// Finite numeric (and boolean, as 0/1) entries of summary.json, in file order.
    pub summary: Vec<(String, f64)>,
    /// Entries of summary.json that are numbers but not finite (left out of `summary`).
    pub non_finite: Vec<(String, f64)>,
    /// Text entries of summary.json (a note names those where a number was expected).
    pub texts: Vec<(String, String)>,
}

impl RunInfo {
    fn unreadable(dir: &Path) -> RunInfo {
        RunInfo {
            dir: dir.to_path_buf(),
            status: "unreadable".into(),
            error: None,
            subcommand: None,
            summary: Vec::new(),
            non_finite: Vec::new(),
            texts: Vec::new(),
        }
    }
    pub fn completed(&self) -> bool {
        self.status == "completed"
    }
    pub fn metric(&self, name: &str) -> Option<f64> {
        self.summary
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| *v)
    }
}

/// Runs that belong together (one grid cell, all seeds).
#[derive(Debug, Clone)]
pub struct CellRuns {
    pub name: String,
    /// Grid key → value text (empty outside a study).
    pub settings: Vec<(String, String)>,
    pub runs: Vec<RunInfo>,
    /// Planned run dirs that have no meta.json (never started).
    pub missing: Vec<PathBuf>,
}

/// Everything under one directory given to `report`, `plot` or `compare`.
#[derive(Debug)]
pub struct Collection {
    pub root: PathBuf,
    pub study: Option<StudyRecord>,
    pub cells: Vec<CellRuns>,
    /// What a reader should know about the grouping (runs of one folder split by config).
    pub notes: Vec<String>,
}

impl Collection {
    /// The subcommand that produced these runs (from study.json or the first meta.json).
    pub fn subcommand(&self) -> Option<String> {
        if let Some(s) = &self.study {
            return Some(s.subcommand.clone());
        }
        self.cells
            .iter()
            .flat_map(|c| &c.runs)
            .find_map(|r| r.subcommand.clone())
    }

    /// Each subcommand of the runs (unknown ones left out) with its number of runs, in
    /// first-seen order; more than one for a folder that mixes them.
    pub fn subcommand_counts(&self) -> Vec<(String, usize)> {
        let mut out: Vec<(String, usize)> = Vec::new();
        for sub in self
            .cells
            .iter()
            .flat_map(|c| &c.runs)
            .flat_map(|r| &r.subcommand)
        {
            match out.iter_mut().find(|(s, _)| s == sub) {
                Some((_, n)) => *n += 1,
                None => out.push((sub.clone(), 1)),
            }
        }
        out
    }

    /// Summary metric names in first-seen order over all runs.
    pub fn metric_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for run in self.cells.iter().flat_map(|c| &c.runs) {
            for (k, _) in &run.summary {
                if !names.contains(k) {
                    names.push(k.clone());
                }
            }
        }
        names
    }
}

/// Read every run under `root` (a study dir, a dir of runs, or one run dir).
pub fn collect(root: &Path) -> Result<Collection> {
    if root.exists() && !root.is_dir() {
        return Err(usage(format!(
            "{}: not a directory (give a run or study directory, not a file in it)",
            root.display()
        )));
    }
    if !root.is_dir() {
        return Err(usage(format!("{}: no such directory", root.display())));
    }
    let study = StudyRecord::read(root)?;
    let mut notes = Vec::new();
    let cells = match &study {
        Some(record) => {
            notes.extend(super::strays::note(root, record));
            study_cells(root, record)?
        }
        None => {
            let cells = discovered_cells(root, &mut notes)?;
            by_config::split(cells, &mut notes)
        }
    };
    notes.extend(summary::unusable_notes(cells.iter().flat_map(|c| &c.runs)));
    if cells
        .iter()
        .all(|c| c.runs.is_empty() && c.missing.is_empty())
    {
        let why = notes.iter().map(|n| format!("; {n}")).collect::<String>();
        return Err(usage(format!(
            "{}: no lab runs found (no meta.json below it){why}",
            root.display()
        )));
    }
    Ok(Collection {
        root: root.to_path_buf(),
        study,
        cells,
        notes,
    })
}

fn study_cells(root: &Path, record: &StudyRecord) -> Result<Vec<CellRuns>> {
    let mut cells = Vec::new();
    for cell in &record.cells {
        let mut group = CellRuns {
            name: cell.name.clone(),
            settings: cell
                .settings
                .iter()
                .map(|s| (s.key.clone(), value_text(&s.value)))
                .collect(),
            runs: Vec::new(),
            missing: Vec::new(),
        };
        for &seed in &record.seeds {
            let dir = root.join(StudyRecord::run_dir(&cell.name, seed));
            if dir.join("meta.json").exists() {
                group.runs.push(read_run(&dir)?);
            } else {
                group.missing.push(dir);
            }
        }
        cells.push(group);
    }
    Ok(cells)
}

/// How far below the folder given to report/plot runs are looked for (a study's runs are 2
/// levels below the study, 4 below `results/`).
const SEARCH_DEPTH: usize = 4;

/// Outside a study: every dir with a meta.json (up to [`SEARCH_DEPTH`] levels down) is a run;
/// runs with the same parent form a cell named after that parent (the root itself may be a
/// single run). A note says where folders went deeper than the search.
fn discovered_cells(root: &Path, notes: &mut Vec<String>) -> Result<Vec<CellRuns>> {
    let mut dirs = Vec::new();
    let mut deeper = Vec::new();
    find_runs(root, 0, &mut dirs, &mut deeper)?;
    if let Some(first) = deeper.first() {
        notes.push(format!(
            "folders more than {SEARCH_DEPTH} levels below {} were not searched for runs ({}{}); \
             report a folder closer to them",
            root.display(),
            first.display(),
            if deeper.len() > 1 { ", ..." } else { "" }
        ));
    }
    dirs.sort();
    let mut cells: Vec<CellRuns> = Vec::new();
    for dir in dirs {
        let name = cell_label(root, &dir);
        let run = read_run(&dir)?;
        match cells.iter_mut().find(|c| c.name == name) {
            Some(cell) => cell.runs.push(run),
            None => cells.push(CellRuns {
                name,
                settings: Vec::new(),
                runs: vec![run],
                missing: Vec::new(),
            }),
        }
    }
    Ok(cells)
}

fn cell_label(root: &Path, run: &Path) -> String {
    let parent = if run == root {
        run
    } else {
        run.parent().unwrap_or(run)
    };
    match parent.strip_prefix(root) {
        Ok(rel) if !rel.as_os_str().is_empty() => rel.display().to_string(),
        _ => root
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| root.display().to_string()),
    }
}

/// Run dirs below `dir` into `out`; folders left unsearched at the depth limit into `deeper`.
fn find_runs(
    dir: &Path,
    depth: usize,
    out: &mut Vec<PathBuf>,
    deeper: &mut Vec<PathBuf>,
) -> Result<()> {
    // Any meta.json, so one that is not a file (a FIFO) is a run listed as unreadable.
    if dir.join("meta.json").exists() {
        out.push(dir.to_path_buf());
        return Ok(());
    }
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    for entry in entries.flatten() {
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        if depth >= SEARCH_DEPTH {
            deeper.push(entry.path());
        } else {
            find_runs(&entry.path(), depth + 1, out, deeper)?;
        }
    }
    Ok(())
}

/// Read meta.json (status, error) and summary.json (numbers) of one run dir. A meta.json that
/// cannot be parsed (a run killed while writing it) makes the run `unreadable`, not an error.
pub fn read_run(dir: &Path) -> Result<RunInfo> {
    let meta = match read_yaml_like(&dir.join("meta.json")) {
        Ok(Some(meta)) if meta.is_mapping() => meta,
        // Valid JSON but not a run's record (a list, a string): as unreadable as a torn file.
        Ok(Some(_)) => {
            let mut info = RunInfo::unreadable(dir);
            let path = dir.join("meta.json");
            info.error = Some(format!("{}: not a JSON object", path.display()));
            return Ok(info);
        }
        Ok(None) => {
            let msg = format!("{}: not a lab run (no meta.json)", dir.display());
            return Err(usage(msg));
        }
        Err(e) => {
            let mut info = RunInfo::unreadable(dir);
            info.error = Some(format!("{e:#}"));
            return Ok(info);
        }
    };
    let text = |k: &str| meta.get(k).and_then(Value::as_str).map(str::to_string);
    let mut status = text("status").unwrap_or_else(|| "unknown".into());
    if status == "running" && writer_is_dead(&meta) {
        status = "dead".into();
    }
    let mut error = text("error");
    let summary = match read_summary(dir, status == "completed") {
        Ok(summary) => summary,
        // A completed run without its numbers is broken; any other run keeps its status,
        // its error saying what is wrong with the summary too.
        Err(why) => {
            if status == "completed" {
                status = "broken".into();
            }
            error = Some(match error {
                Some(e) => format!("{e}; {why}"),
                None => why,
            });
            Entries::default()
        }
    };
    Ok(RunInfo {
        dir: dir.to_path_buf(),
        status,
        error,
        subcommand: text("subcommand"),
        summary: summary.numbers,
        non_finite: summary.non_finite,
        texts: summary.texts,
    })
}

/// Why a run whose meta.json says `completed` is not a whole result (its summary.json is
/// missing or damaged, so `report` lists it `broken`); None when its summary reads. `--resume`
/// and `lab status` ask this too, so none of them calls a run done that the report does not.
pub fn broken_completed(dir: &Path) -> Option<String> {
    read_summary(dir, true).err()
}

/// The numbers of a run's summary.json (none when an unfinished run has none), or why they
/// cannot be read: every run's summary is a JSON object, so anything else is a damaged file,
/// and every `completed` run wrote one.
fn read_summary(dir: &Path, completed: bool) -> std::result::Result<Entries, String> {
    let path = dir.join("summary.json");
    let value = match read_yaml_like(&path) {
        // Every run that completes writes one: a completed run without it lost its numbers.
        Ok(None) if completed => {
            return Err(format!(
                "{}: missing, though the run completed (deleted or moved?)",
                path.display()
            ))
        }
        Ok(None) => return Ok(Entries::default()),
        Ok(Some(v)) => v,
        Err(e) => return Err(format!("{e:#}")),
    };
    if !value.is_mapping() {
        let what = match &value {
            Value::Sequence(_) => "an array",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Bool(_) => "a boolean",
            Value::Null => "nothing (an empty file or null)",
            _ => "not an object",
        };
        return Err(format!(
            "{}: not a summary: a JSON object of results was expected, the file holds {what}",
            path.display()
        ));
    }
    Ok(summary::entries(&value))
}

/// A `running` run whose writing process is gone (killed, out of memory, machine rebooted):
/// known only on the machine that wrote it; elsewhere, or for runs from before `pid` was
/// recorded, it stays `running`.
fn writer_is_dead(meta: &Value) -> bool {
    let pid = meta.get("pid").and_then(Value::as_u64);
    let host = meta.get("host").and_then(Value::as_str);
    crate::run::writer_alive(host, pid) == Some(false)
}

/// Parse a JSON file keeping key order (JSON is YAML, and YAML mappings keep order).
fn read_yaml_like(path: &Path) -> Result<Option<Value>> {
    if !path.exists() {
        return Ok(None);
    }
    let text =
        crate::input::read_result(path).with_context(|| format!("reading {}", path.display()))?;
    let value = serde_yaml_ng::from_str(&text)
        .map_err(|e| usage(format!("{}: unreadable JSON: {e}", path.display())))?;
    Ok(Some(value))
}
