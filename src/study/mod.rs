//! Studies: a config with a `study:` block runs every grid cell × seed as its own child
//! process (`--jobs N` at a time) under `results/<sub>/<study>/<cell>/seed-<k>/`, records the
//! plan in `study.json`, resumes with `--resume`, and ends with `lab report` on the study dir.
mod lock;
pub mod plan;
pub mod runner;

use crate::cli::RunArgs;
use crate::config::Loaded;
use crate::error::{usage, Interrupted};
use crate::experiment::Experiment;
use anyhow::{Context, Result};
use plan::{Axis, Cell, StudyBlock};
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::{Path, PathBuf};

/// `study.json`: what a study consists of, so `report`, `plot` and `--resume` know its cells.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct StudyRecord {
    pub subcommand: String,
    pub name: String,
    pub seeds: Vec<u64>,
    pub grid: Vec<Axis>,
    pub cells: Vec<Cell>,
}

pub const RECORD_FILE: &str = "study.json";
/// The merged config each cell's runs start from (no `study:` block, seed set per run).
pub const CELL_CONFIG: &str = "cell.yaml";

impl StudyRecord {
    pub fn read(dir: &Path) -> Result<Option<StudyRecord>> {
        let path = dir.join(RECORD_FILE);
        if !path.exists() {
            return Ok(None);
        }
        let text = fs::read_to_string(&path)?;
        let record = serde_json::from_str(&text)
            .map_err(|e| usage(format!("{}: not a lab study record: {e}", path.display())))?;
        Ok(Some(record))
    }

    /// Run directory of `cell` with `seed`, relative to the study dir.
    pub fn run_dir(cell: &str, seed: u64) -> PathBuf {
        Path::new(cell).join(format!("seed-{seed}"))
    }
}

/// Run the study described by `block` over the merged config `loaded` (the block removed).
pub fn run<E: Experiment>(args: &RunArgs, loaded: Loaded, block: StudyBlock) -> Result<()> {
    if block.seeds.is_some() && args.seed.is_some() {
        return Err(usage(
            "--seed conflicts with `study.seeds`; drop one of them",
        ));
    }
    let seeds = match &block.seeds {
        Some(s) if s.is_empty() => return Err(usage("`study.seeds`: list at least one seed")),
        Some(s) => s.clone(),
        None => vec![loaded.typed::<E>()?.seed()],
    };
    let axes = plan::block_axes(&block)?;
    let cells = plan::cells(&axes);
    let configs = cell_configs::<E>(&loaded, &cells)?;
    let name = plan::study_name(args.name.as_deref(), &block, args.config.as_deref())?;
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("results").join(E::NAME).join(&name));
    let record = StudyRecord {
        subcommand: E::NAME.into(),
        name,
        seeds,
        grid: axes,
        cells,
    };
    lock::StudyLock::check(&dir)?;
    prepare_dir(&dir, args, &record, &configs)?;
    let _lock = lock::StudyLock::take(&dir)?;
    let outcome = runner::execute(&dir, &record, args)?;
    finish(&dir, &outcome, args.quiet)
}

/// Each cell's full config as YAML, typed and validated now so mistakes stop the study early.
fn cell_configs<E: Experiment>(loaded: &Loaded, cells: &[Cell]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for cell in cells {
        let mut value = loaded.value.clone();
        for s in &cell.settings {
            if let Some(merge) = &s.merge {
                crate::config::merge(&mut value, serde_json::from_value(merge.clone())?);
                continue;
            }
            let v: serde_yaml_ng::Value = serde_json::from_value(s.value.clone())?;
            crate::config::set_path(&mut value, &s.key, v)
                .map_err(|why| usage(format!("`study.grid.{}`: {why}", s.key)))?;
        }
        let cell_loaded = Loaded {
            value: value.clone(),
            ..loaded.clone()
        };
        let check = cell_loaded
            .typed::<E>()
            .and_then(|cfg| cell_loaded.validate(&cfg));
        if let Err(e) = check {
            return Err(usage(format!("study cell `{}`: {e:#}", cell.name)));
        }
        out.push(serde_yaml_ng::to_string(&value)?);
    }
    Ok(out)
}

/// Create the study dir (or check it matches on `--resume`) and write study.json and cell.yaml.
fn prepare_dir(dir: &Path, args: &RunArgs, record: &StudyRecord, configs: &[String]) -> Result<()> {
    let old = if dir.exists() {
        StudyRecord::read(dir)?
    } else {
        None
    };
    if args.resume_study() {
        let old = old.ok_or_else(|| {
            usage(format!(
                "--resume: {} is not a study directory (no {RECORD_FILE}); run without --resume first",
                dir.display()
            ))
        })?;
        return check_same_study(dir, &old, record, configs);
    }
    if dir.exists() {
        if !args.force || old.is_none() {
            return Err(usage(format!(
                "study directory {} already exists; --resume to finish it, --force to start over, \
                 or pick another --name/--out",
                dir.display()
            )));
        }
        fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    crate::run::write_json(&dir.join(RECORD_FILE), record)?;
    for (cell, yaml) in record.cells.iter().zip(configs) {
        let cell_dir = dir.join(&cell.name);
        fs::create_dir_all(&cell_dir)?;
        fs::write(cell_dir.join(CELL_CONFIG), yaml)?;
    }
    Ok(())
}

/// `--resume` only continues the same study: same subcommand, cells, seeds and cell configs.
fn check_same_study(
    dir: &Path,
    old: &StudyRecord,
    new: &StudyRecord,
    configs: &[String],
) -> Result<()> {
    let changed = |what: &str| {
        usage(format!(
            "--resume: the study in {} was started with another {what}; \
             use --force to start over or another --name",
            dir.display()
        ))
    };
    if old.subcommand != new.subcommand {
        return Err(changed("subcommand"));
    }
    if old.cells != new.cells || old.seeds != new.seeds {
        return Err(changed("grid or seed list"));
    }
    for (cell, yaml) in new.cells.iter().zip(configs) {
        let written =
            fs::read_to_string(dir.join(&cell.name).join(CELL_CONFIG)).unwrap_or_default();
        if written != *yaml {
            return Err(changed(&format!("config (cell `{}`)", cell.name)));
        }
    }
    Ok(())
}

/// Write the report, print where things are, and turn failures into the exit status.
fn finish(dir: &Path, outcome: &runner::Outcome, quiet: bool) -> Result<()> {
    match crate::report::write(dir) {
        Ok(paths) if !quiet => println!("report: {}", paths.markdown.display()),
        Ok(_) => {}
        Err(e) => eprintln!("warning: could not write the study report: {e:#}"),
    }
    println!("results: {}", dir.display());
    for f in &outcome.failed {
        eprintln!("failed: {}: {}", f.run.display(), f.message);
    }
    if outcome.interrupted {
        eprintln!(
            "study interrupted: {} of {} runs finished; rerun with --resume to do the rest",
            outcome.finished, outcome.planned
        );
        return Err(Interrupted.into());
    }
    if !outcome.failed.is_empty() {
        anyhow::bail!(
            "{} of {} runs failed (listed above and in {})",
            outcome.failed.len(),
            outcome.planned,
            dir.join("report.md").display()
        );
    }
    Ok(())
}
