//! `task: probe` of a directory that holds runs (a study, nested `cell/seed-k` directories):
//! every `task: train` run under it is probed as `probe.rs` probes one run, into one
//! `metrics.csv` row per run with its relative path, arch, condition and seed first, and one
//! samples file per run, `samples/<index>_eval_<step>.jsonl` (index = row order). Runs of
//! different data configs are each scored on their own data (loaded once per data config).
use super::columns;
use super::config::{EntropyConfig, Task};
use super::measure::Evaluator;
use super::probe::{load_model, protocol, read_summary, score, trained_config};
use super::setup::{self, Data};
use crate::error::usage;
use crate::experiment::Ctx;
use crate::run::Run;
use anyhow::{Context, Result};
use serde_json::json;
use std::path::{Path, PathBuf};

/// The text columns before the metrics columns.
pub const KEYS: [&str; 4] = ["checkpoint", "arch", "condition", "seed"];

pub fn run(cfg: &EntropyConfig, dir: &Path, run: &mut Run, ctx: &Ctx) -> Result<()> {
    let runs = train_runs(dir)?;
    if runs.is_empty() {
        return Err(usage(format!(
            "checkpoint.path {} is neither a run directory (no config.yaml) nor holds any \
             `lab entropy-probe` task train run",
            dir.display()
        )));
    }
    let mut cols: Vec<String> = KEYS.map(String::from).to_vec();
    let e = &cfg.eval;
    cols.extend(columns::metrics(
        e.word_metrics,
        &e.temperatures,
        e.top_p > 0.0,
    ));
    let mut eval: Option<Evaluator> = None;
    let mut data: Option<(String, Data)> = None;
    let mut names = Vec::new();
    for (i, (path, trained)) in runs.iter().enumerate() {
        run.check_interrupt()?;
        let key = serde_yaml_ng::to_string(&trained.data)?;
        let fresh = data.as_ref().is_none_or(|(k, _)| *k != key);
        if fresh {
            data = Some((key, setup::load(&trained.data)?));
        }
        let Some((_, d)) = data.as_ref() else {
            unreachable!("data was loaded above")
        };
        let model = load_model(path, trained, d, ctx)?;
        let summary = read_summary(&path.join("summary.json"))?;
        let (scored, proto) = protocol(cfg, trained, d)?;
        let ev = match eval.as_mut() {
            Some(ev) => {
                ev.rebind(proto, fresh.then_some(d));
                ev
            }
            None => eval.insert(Evaluator::with_columns(proto, d, run, &cols)?),
        };
        ev.set_samples_prefix(&format!("{i}_"));
        let mut row = score(ev, &scored, &*model, d, &summary)?;
        let name = relative(dir, path);
        row.text("checkpoint", &name)
            .text("arch", summary["arch"].as_str().unwrap_or(""))
            .text("condition", summary["condition"].as_str().unwrap_or(""))
            .text("seed", &trained.seed.to_string());
        ev.write(row)?;
        names.push(name);
    }
    let out = json!({ "checkpoint_dir": dir.display().to_string(), "checkpoints": names });
    run.write_summary(&out)
}

/// Every `task: train` run directory under `dir` (a directory with a `config.yaml` is a run
/// and is not searched further), sorted by path. Runs of other tasks (an earlier probe written
/// inside the study) and attempts set aside for the run that replaced them are skipped; a train
/// run without weights or summary is an error.
pub(super) fn train_runs(dir: &Path) -> Result<Vec<(PathBuf, EntropyConfig)>> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        if d.join("config.yaml").is_file() {
            let cfg = trained_config(&d);
            match cfg {
                Ok(cfg) => found.push((d, cfg)),
                Err(e) if is_other_task(&d) => drop(e),
                Err(e) => return Err(e),
            }
            continue;
        }
        let entries = std::fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))?;
        for entry in entries {
            let entry = entry?;
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            if !hidden && entry.file_type()?.is_dir() {
                if let Some(by) = replaced_by(&entry.path()) {
                    eprintln!(
                        "probe: skipping {}, an earlier attempt set aside for {}",
                        entry.path().display(),
                        by.display()
                    );
                    continue;
                }
                stack.push(entry.path());
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
}

/// The run that replaced `dir`, when `dir` is an earlier attempt a study's `--resume` or a
/// run's `--force` set aside as `<run>.replaced-<time>[-k]` and `<run>` exists beside it.
fn replaced_by(dir: &Path) -> Option<PathBuf> {
    let name = dir.file_name()?.to_str()?;
    let (run, _) = name.rsplit_once(".replaced-")?;
    let run = dir.with_file_name(run);
    run.is_dir().then_some(run)
}

/// A run config of another task than train (or of another subcommand).
fn is_other_task(dir: &Path) -> bool {
    let text = std::fs::read_to_string(dir.join("config.yaml")).unwrap_or_default();
    match serde_yaml_ng::from_str::<EntropyConfig>(&text) {
        Ok(cfg) => cfg.task != Task::Train,
        Err(_) => true,
    }
}

fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.display().to_string()
}
