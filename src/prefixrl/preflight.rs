//! Checks made before a run directory exists ([`crate::experiment::Experiment::check_inputs`]),
//! so a refused run leaves nothing behind:
//! - `inputs.resume` (spec §8 "resuming with a different hash is refused"): the config must be
//!   the one in the old run's `config.yaml`, but for [`MAY_CHANGE`] keys; otherwise the
//!   continued CSVs would mix rows of two configs under one config.yaml. Refused with exit 2
//!   naming every key that differs.
//! - the base model: stages after pretrain build the model from `base/model.yaml`, so `model.*`
//!   keys that the user changed from the default and that differ from the base's are refused
//!   (exit 2 naming them) instead of being silently ignored.
//! - `eval.checkpoint` of stage eval: it must name a weights file or a readable checkpoint
//!   (a damaged checkpoint.json failed the run with exit 1 after its directory was made).
//! - the base model's weights, where the stages load another run's `base/`: they must load
//!   (names, shapes, dtypes, finite values); a damaged file failed the stage that loaded it with
//!   exit 1 and left a failed run directory.
use super::config::{PrefixrlConfig, Stage, TraceSource};
use super::inputs::{self, Artifact};
use super::stages::load::{load_base, BASE_DIR, MODEL_FILE, WEIGHTS_FILE};
use crate::config::differences;
use crate::error::usage;
use crate::experiment::Experiment;
use crate::nn::ModelConfig;
use anyhow::Result;
use serde_yaml_ng::Value;
use std::path::PathBuf;

/// Keys a resumed run may set differently from the run it continues: `rl.steps` (to train
/// further), and keys that change neither the rows nor what they mean (threads, checkpoint
/// period, memory chunking of the same update).
pub const MAY_CHANGE: [&str; 5] = [
    "inputs.resume",
    "rl.steps",
    "torch_threads",
    "ckpt_every",
    "rl.micro_batches",
];

/// The checks of the module doc.
pub fn check(cfg: &PrefixrlConfig) -> Result<()> {
    check_resume(cfg)?;
    check_base_model(cfg)?;
    check_base_weights(cfg)?;
    match (&cfg.eval.checkpoint, cfg.stage) {
        (Some(path), Stage::Eval) => super::stages::eval::from_path(path).map(|_| ()),
        _ => Ok(()),
    }
}

/// `inputs.resume`: the run's config.yaml must equal `cfg` but for [`MAY_CHANGE`].
pub fn check_resume(cfg: &PrefixrlConfig) -> Result<()> {
    let Some(dir) = &cfg.inputs.resume else {
        return Ok(());
    };
    inputs::check_run("inputs.resume", dir, false)?;
    let path = dir.join("config.yaml");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        usage(format!(
            "inputs.resume: cannot read {}: {e}",
            path.display()
        ))
    })?;
    let old: PrefixrlConfig = serde_yaml_ng::from_str(&text).map_err(|e| {
        usage(format!(
            "inputs.resume: {} is not a prefixrl config this lab reads ({e}); start a new run",
            path.display()
        ))
    })?;
    let allowed = &MAY_CHANGE[1..];
    crate::config::resume::check("inputs.resume", &path, (&old, cfg), &MAY_CHANGE, allowed)
}

/// The run directory whose `base/` the stages of `cfg` load, if any (under `stage: all`: the
/// one adopted from `inputs.base` or the `inputs.resume` run; none when pretrain makes it).
fn base_run(cfg: &PrefixrlConfig) -> Option<PathBuf> {
    if cfg.stage == Stage::All {
        let resumed = cfg.inputs.resume.as_ref().map(|d| d.to_path_buf());
        return cfg
            .inputs
            .base
            .clone()
            .or(resumed.filter(|d| d.join(BASE_DIR).is_dir()));
    }
    if inputs::needs(cfg.stage, cfg).contains(&Artifact::Base) {
        return cfg.inputs.base.clone();
    }
    None
}

/// The `model:` section of the embedded default config.
fn default_model() -> Result<ModelConfig> {
    #[derive(serde::Deserialize)]
    struct Only {
        #[serde(deserialize_with = "super::config_model::deserialize")]
        model: ModelConfig,
    }
    let only: Only = serde_yaml_ng::from_str(PrefixrlConfig::DEFAULT_YAML)?;
    Ok(only.model)
}

/// `model.*` keys changed from the default must match the base model the stages load.
pub fn check_base_model(cfg: &PrefixrlConfig) -> Result<()> {
    let mut runs: Vec<(String, PathBuf)> = Vec::new();
    if let Some(dir) = base_run(cfg) {
        runs.push((Artifact::Base.key().to_string(), dir));
    }
    if let TraceSource::Model(dir) = &cfg.traces.source {
        if matches!(cfg.stage, Stage::Collect | Stage::All) {
            runs.push(("traces.source".into(), dir.clone()));
        }
    }
    let mine = model_value(&cfg.model)?;
    if runs.is_empty() || mine == model_value(&default_model()?)? {
        return Ok(());
    }
    for (key, dir) in runs {
        let path = dir.join(BASE_DIR).join(MODEL_FILE);
        // A missing or unreadable file is reported by the stage that loads it.
        let Some(base) = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_yaml_ng::from_str::<ModelConfig>(&t).ok())
        else {
            continue;
        };
        let diffs: Vec<String> = differences(&model_value(&base)?, &mine)
            .into_iter()
            .map(|(k, was, now)| format!("model.{k} = {now} (the base model's: {was})"))
            .collect();
        if !diffs.is_empty() {
            return Err(usage(format!(
                "{}: the model keys differ from the base model in {} ({key}), whose \
                 architecture this run uses instead (they would be ignored). Drop those model \
                 keys or set them to the base model's, or pretrain a new base model with them",
                diffs.join(", "),
                path.display()
            )));
        }
    }
    Ok(())
}

/// The weights of the base model the stages of `cfg` load from another run (where that run
/// has them: a missing file is reported by the stage) must fit the model of its model.yaml.
fn check_base_weights(cfg: &PrefixrlConfig) -> Result<()> {
    let Some(dir) = base_run(cfg) else {
        return Ok(());
    };
    if !dir.join(BASE_DIR).join(WEIGHTS_FILE).is_file() {
        return Ok(());
    }
    let key = match cfg.inputs.base {
        Some(_) => Artifact::Base.key(),
        None => "inputs.resume",
    };
    crate::torch::load()?;
    match load_base(&dir, tch::Device::Cpu) {
        Ok(_) => Ok(()),
        Err(e) => Err(usage(format!(
            "{key}: the base model in {} cannot be loaded: {e:#}; its files are damaged or \
             edited: point {key} at an intact run or pretrain a new base model",
            dir.join(BASE_DIR).display()
        ))),
    }
}

/// A model config as YAML, without `vocab_size` (the tokenizer sets it).
fn model_value(m: &ModelConfig) -> Result<Value> {
    let mut m = m.clone();
    m.vocab_size = None;
    to_value(&m)
}

fn to_value<T: serde::Serialize>(v: &T) -> Result<Value> {
    Ok(serde_yaml_ng::to_value(v)?)
}
