//! Studies: a config with a `study:` block runs every grid cell × seed as its own child
//! process (`--jobs N` at a time) under `results/<sub>/<study>/<cell>/seed-<k>/`, records the
//! plan in `study.json` and resumes with `--resume`. The launcher (`experiment`) types each
//! cell's config and writes the closing report; this module knows no subcommand.
//! `--executor slurm` runs the same runs as one Slurm job array instead (see [`slurm`]).
mod inputs;
mod lock;
pub mod memory;
pub mod plan;
pub mod runner;
pub mod slurm;
mod slurm_follow;
mod slurm_job;
mod slurm_poll;

use crate::cli::{Executor, RunArgs};
use crate::config::Loaded;
use crate::error::{usage, Interrupted};
use crate::results::record::{Cell, StudyRecord, CELL_CONFIG, RECORD_FILE};
use anyhow::{Context, Result};
pub use memory::MemoryNeed;
use plan::StudyBlock;
use std::fs;
use std::path::{Path, PathBuf};

/// The most runs (cells × seeds) one study may plan: each is a process and a folder, and the
/// grid is listed in memory before anything runs.
pub const MAX_RUNS: usize = 100_000;

/// A planned study: where it goes, its record (study.json), each cell's config as YAML and
/// each cell's estimated memory (when its subcommand gives one).
pub struct Study {
    pub dir: PathBuf,
    pub record: StudyRecord,
    pub configs: Vec<String>,
    pub needs: Vec<Option<MemoryNeed>>,
    /// The `study.slurm:` block (empty when not given).
    pub slurm: slurm::SlurmBlock,
}

/// Plan the study of subcommand `sub` described by `block` over the merged config `loaded`
/// (the block removed). `default_seed` gives the config's seed when the block lists none;
/// `check` types and validates one cell's config, so mistakes stop the study before it starts,
/// and gives the cell's estimated memory.
pub fn plan(
    sub: &str,
    args: &RunArgs,
    loaded: &Loaded,
    block: StudyBlock,
    default_seed: &dyn Fn() -> Result<u64>,
    check: &dyn Fn(&Loaded) -> Result<Option<MemoryNeed>>,
) -> Result<Study> {
    if block.seeds.is_some() && args.seed.is_some() {
        return Err(usage(
            "--seed conflicts with `study.seeds`; drop one of them",
        ));
    }
    let seeds = match &block.seeds {
        Some(s) if s.is_empty() => return Err(usage("`study.seeds`: list at least one seed")),
        Some(s) if (1..s.len()).any(|i| s[..i].contains(&s[i])) => {
            return Err(usage(format!(
                "`study.seeds`: {s:?} lists a seed twice; each seed is one run directory"
            )))
        }
        Some(s) => s.clone(),
        None => vec![default_seed()?],
    };
    let slurm = slurm::SlurmBlock::parse(block.slurm.as_ref(), args)?;
    let axes = plan::block_axes(&block)?;
    // Checked before the cells are listed: a grid of a few long axes multiplies to more cells
    // than memory holds, and listing them would abort the program.
    match plan::run_count(&axes, seeds.len()) {
        Some(n) if n <= MAX_RUNS => {}
        n => {
            let shown = n.map_or_else(|| "more than 10^19".into(), |n| n.to_string());
            let sizes: Vec<String> = axes
                .iter()
                .map(|a| format!("{} ({})", a.key, a.values.len()))
                .collect();
            return Err(usage(format!(
                "`study`: {shown} runs planned ({} seeds x {}), more than the {MAX_RUNS} one \
                 study may hold; split it into several studies",
                seeds.len(),
                sizes.join(" x ")
            )));
        }
    }
    let cells = plan::cells(&axes);
    let (configs, needs) = cell_configs(loaded, &cells, check)?;
    let name = plan::study_name(args.name.as_deref(), &block, args.config.as_deref())?;
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("results").join(sub).join(&name));
    let record = StudyRecord {
        subcommand: sub.into(),
        name,
        seeds,
        grid: axes,
        inputs: match args.print_config {
            true => Vec::new(),
            false => inputs::fingerprint(&cells, &configs),
        },
        cells,
    };
    Ok(Study {
        dir,
        record,
        configs,
        needs,
        slurm,
    })
}

/// Create (or, with `--resume`, check) the study directory, hold its lock and run every
/// unfinished run: `--jobs` at a time here, or as a Slurm job array (`--executor slurm`).
pub fn execute(study: &Study, args: &RunArgs) -> Result<runner::Outcome> {
    lock::StudyLock::check(&study.dir)?;
    if args.executor == Executor::Slurm {
        slurm::check_client()?;
    }
    // Slurm jobs still queued would run into a study started over, or race a local resume.
    if args.force || (args.resume_study() && args.executor == Executor::Local) {
        if let Ok(Some(old)) = StudyRecord::read(&study.dir) {
            slurm_follow::refuse_if_queued(&study.dir, &old)?;
        }
    }
    let _lock = prepare_dir(&study.dir, args, &study.record, &study.configs)?;
    match args.executor {
        Executor::Local => runner::execute(&study.dir, &study.record, &study.needs, args),
        Executor::Slurm => slurm::execute(&study.dir, &study.record, &study.slurm, args),
    }
}

/// `lab status DIR [--cancel]`: where each run of a study is, or cancel its Slurm jobs.
pub fn status_command(dir: &Path, cancel: bool) -> Result<()> {
    slurm_follow::command(dir, cancel)
}

/// Each cell's full config as YAML, typed and validated now so mistakes stop the study early,
/// and its estimated memory.
fn cell_configs(
    loaded: &Loaded,
    cells: &[Cell],
    check: &dyn Fn(&Loaded) -> Result<Option<MemoryNeed>>,
) -> Result<(Vec<String>, Vec<Option<MemoryNeed>>)> {
    let mut out = Vec::new();
    let mut needs = Vec::new();
    for cell in cells {
        let mut value = loaded.value.clone();
        let mut origins = Vec::new();
        for s in &cell.settings {
            let shown = s
                .value
                .as_str()
                .map_or_else(|| s.value.to_string(), str::to_string);
            if let Some(merge) = &s.merge {
                let merge: serde_yaml_ng::Value = serde_json::from_value(merge.clone())?;
                let how = format!("study case `{}: {shown}`", s.key);
                for path in leaf_paths(&merge, "") {
                    origins.push((path, how.clone()));
                }
                crate::config::merge(&mut value, merge);
                continue;
            }
            origins.push((s.key.clone(), format!("study axis `{}` = {shown}", s.key)));
            let v: serde_yaml_ng::Value = serde_json::from_value(s.value.clone())?;
            crate::config::set_path(&mut value, &s.key, v)
                .map_err(|why| usage(format!("`study.grid.{}`: {why}", s.key)))?;
        }
        let mut cell_loaded = Loaded {
            value: value.clone(),
            ..loaded.clone()
        };
        cell_loaded.layers.cell = origins;
        match check(&cell_loaded) {
            Ok(need) => needs.push(need),
            Err(e) => return Err(usage(format!("study cell `{}`: {e:#}", cell.name))),
        }
        out.push(serde_yaml_ng::to_string(&value)?);
    }
    Ok((out, needs))
}

/// The dotted paths of the leaves of a mapping (a case's settings).
fn leaf_paths(v: &serde_yaml_ng::Value, at: &str) -> Vec<String> {
    match v.as_mapping() {
        Some(m) if !m.is_empty() => m
            .iter()
            .filter_map(|(k, v)| k.as_str().map(|k| (crate::config::join(at, k), v)))
            .flat_map(|(path, v)| leaf_paths(v, &path))
            .collect(),
        _ => vec![at.to_string()],
    }
}

/// Create the study dir (or check it matches on `--resume`), take its lock and write
/// study.json and cell.yaml. The lock is taken before anything is written: of two studies
/// started into one folder at once, only the one that created it writes there (the other
/// would otherwise overwrite the winner's cell.yaml, and the winner's runs run its config).
fn prepare_dir(
    dir: &Path,
    args: &RunArgs,
    record: &StudyRecord,
    configs: &[String],
) -> Result<lock::StudyLock> {
    crate::run::name_fits(dir, "study", args.out.is_some())?;
    crate::run::no_run_above(dir, "study", args.out.is_some())?;
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
        let held = lock::StudyLock::take(dir)?;
        check_same_study(dir, &old, record, configs)?;
        return Ok(held);
    }
    if dir.exists() {
        if !dir.is_dir() {
            return Err(usage(format!(
                "study directory {}: a file is in the way (not a folder); lab never replaces \
                 it, pick another --name/--out",
                dir.display()
            )));
        }
        if args.force && old.is_none() {
            return Err(usage(format!(
                "refusing to --force over {}: it is not a study directory (no {RECORD_FILE}); \
                 pick another --name/--out",
                dir.display()
            )));
        }
        if !args.force {
            return Err(usage(format!(
                "study directory {} already exists; --resume to finish it, --force to start over, \
                 or pick another --name/--out",
                dir.display()
            )));
        }
        // Held until the old study is moved aside: a `--resume` started meanwhile (while a
        // dying run is waited for) refuses instead of running in a folder about to move.
        let mut old_lock = lock::StudyLock::take(dir)?;
        if let Some(old) = &old {
            for cell in &old.cells {
                for &seed in &old.seeds {
                    runner::refuse_if_written(&dir.join(StudyRecord::run_dir(&cell.name, seed)))?;
                }
            }
        }
        if let Some(aside) = crate::run::set_aside(dir)? {
            old_lock.moved_to(&aside);
        }
    }
    crate::run::no_file_above(dir, "study", args.out.is_some())?;
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    // create_dir (not _all): fails if another `lab` created the folder since the check above.
    match fs::create_dir(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(usage(format!(
                "study directory {} was just created by another process (another `lab` \
                 starting the same study?); --resume to finish it, or pick another --name/--out",
                dir.display()
            )))
        }
        created => created.with_context(|| format!("creating {}", dir.display()))?,
    }
    let held = lock::StudyLock::take(dir)?;
    crate::run::write_json(&dir.join(RECORD_FILE), record)?;
    for (cell, yaml) in record.cells.iter().zip(configs) {
        let cell_dir = dir.join(&cell.name);
        fs::create_dir_all(&cell_dir)?;
        crate::run::write_atomic(&cell_dir.join(CELL_CONFIG), yaml.as_bytes())?;
    }
    Ok(held)
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
    if let Some(why) = changed_case(old, new) {
        return Err(usage(format!(
            "--resume: the study in {}: {why}; restore the case to finish the study, or use \
             --force to start over or another --name",
            dir.display()
        )));
    }
    if old.cells != new.cells || old.seeds != new.seeds {
        return Err(changed("grid or seed list"));
    }
    for (cell, yaml) in new.cells.iter().zip(configs) {
        let written =
            crate::input::read_result(&dir.join(&cell.name).join(CELL_CONFIG)).unwrap_or_default();
        if written != *yaml {
            return Err(changed(&format!("config (cell `{}`)", cell.name)));
        }
    }
    let finished = |cell: &str| {
        (old.seeds.iter()).all(|&s| runner::completed(&dir.join(StudyRecord::run_dir(cell, s))))
    };
    inputs::check_unchanged(dir, &old.inputs, &new.inputs, finished)
}

/// Where the same cells (names) of a case axis now merge other keys or values: a case file or
/// mapping edited since the study started (reported before as "another grid or seed list").
fn changed_case(old: &StudyRecord, new: &StudyRecord) -> Option<String> {
    let names = |r: &StudyRecord| r.cells.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
    if old.seeds != new.seeds || names(old) != names(new) {
        return None;
    }
    let pairs = old.cells.iter().zip(&new.cells);
    let mut settings = pairs.flat_map(|(o, n)| o.settings.iter().zip(&n.settings));
    let (was, now) = settings.find(|(o, n)| o.merge != n.merge)?;
    let yaml = |v: Option<&serde_json::Value>| serde_yaml_ng::to_value(v).unwrap_or_default();
    let diff: Vec<String> =
        crate::config::differences(&yaml(was.merge.as_ref()), &yaml(now.merge.as_ref()))
            .into_iter()
            .filter(|(k, ..)| !k.is_empty()) // an absent or empty merge has no keys
            .map(|(k, then, now)| {
                let shown = |v: String| {
                    if v == "absent" {
                        "(unset)".to_string()
                    } else {
                        v
                    }
                };
                format!("{k}: {} → {}", shown(then), shown(now))
            })
            .collect();
    Some(format!(
        "case `{}: {}` sets other values than when the study started ({}): its file or \
         mapping was edited",
        was.key,
        crate::results::record::value_text(&was.value),
        diff.join(", ")
    ))
}

/// Print where the results are and turn failed or unfinished runs into the exit status
/// (after the launcher wrote the closing report).
pub fn conclude(dir: &Path, outcome: &runner::Outcome) -> Result<()> {
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
