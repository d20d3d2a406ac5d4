//! `task: probe`: load the saved weights of a `task: train` run and compute every model metric
//! of §4 on them: one `metrics.csv` row and its samples file. Data, model and seed come from
//! that run's own `config.yaml`; the evaluation settings (`eval.*`) come from this config. With
//! the run's evaluation settings the row repeats its final evaluation: same prompts, same
//! sampling stream, same numbers. A directory of runs (a study) is probed run by run
//! (`probe_dir.rs`).
use super::config::{EntropyConfig, EvalSection, Task};
use super::eval::Protocol;
use super::measure::{
    scoring_window, summary_of, Evaluator, Scene, TRAINED_WITH_FILE, WEIGHTS_FILE,
};
use super::setup::{self, Data};
use crate::config::Checker;
use crate::data::Tokenizer;
use crate::error::usage;
use crate::experiment::Ctx;
use crate::nn::{self, LanguageModel};
use crate::run::{Row, Run};
use anyhow::Result;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::Path;
use std::path::PathBuf;

pub fn run(cfg: &EntropyConfig, run: &mut Run, ctx: &Ctx) -> Result<()> {
    if let Some(module) = cfg.checkpoint.torchscript.as_deref() {
        return super::torchscript::run(cfg, module, run, ctx);
    }
    let dir = cfg
        .checkpoint
        .path
        .as_deref()
        .ok_or_else(|| usage("task probe needs checkpoint.path (a run directory)"))?;
    if dir.is_dir() && !dir.join("config.yaml").exists() {
        return super::probe_dir::run(cfg, dir, run, ctx);
    }
    let trained = trained_config(dir)?;
    let data = setup::load(&trained.data)?;
    let model = load_model(dir, &trained, &data, ctx)?;
    let summary = read_summary(&dir.join("summary.json"))?;
    let (scored, proto) = protocol(cfg, &trained, &data)?;
    let mut eval = Evaluator::new(proto, &data, run, &cfg.eval)?;
    let row = score(&mut eval, &scored, &*model, &data, &summary)?;
    let mut out = summary_of(&row);
    out.insert("checkpoint".into(), json!(dir.display().to_string()));
    out.insert("arch".into(), summary["arch"].clone());
    out.insert("condition".into(), summary["condition"].clone());
    out.insert("seed".into(), json!(trained.seed));
    eval.write(row)?;
    run.write_summary(&Value::Object(out))
}

/// The saved weights of run `dir` on the model of its config; its tokenizer must be `data`'s.
pub(super) fn load_model(
    dir: &Path,
    trained: &EntropyConfig,
    data: &Data,
    ctx: &Ctx,
) -> Result<Box<dyn LanguageModel>> {
    let weights = dir.join(WEIGHTS_FILE);
    if !weights.is_file() {
        return Err(usage(format!(
            "{} does not exist: train with eval.save_checkpoint: true to keep the final weights",
            weights.display()
        )));
    }
    let tok_path = dir.join("tokenizer.json");
    let saved = Tokenizer::load(&tok_path).map_err(|e| usage(format!("{e:#}")))?;
    if saved.to_json()? != data.tokenizer.to_json()? {
        return Err(usage(format!(
            "{} differs from the tokenizer of the run's data config (the corpus changed?); \
             the weights only make sense with the vocabulary they were trained on",
            tok_path.display()
        )));
    }
    super::probe_check::check_tokens(dir, trained, data)?;
    let model = nn::build(&trained.model, data.vocab() as i64, ctx.device)?;
    nn::checkpoint::load_weights(&weights, model.var_store()).map_err(|e| {
        usage(format!(
            "{e:#}; the weights do not fit the model of {}: a checkpoint of another \
             architecture or vocabulary, or a damaged file? Train the run again",
            dir.join("config.yaml").display()
        ))
    })?;
    Ok(model)
}

/// The run's config with this config's `eval`, and the evaluation protocol on its data.
pub(super) fn protocol(
    cfg: &EntropyConfig,
    trained: &EntropyConfig,
    data: &Data,
) -> Result<(EntropyConfig, Protocol)> {
    let mut scored = trained.clone();
    scored.eval = cfg.eval.clone();
    scored.alert = cfg.alert.clone();
    let proto = Protocol::new(
        &scored.eval,
        &data.splits.train,
        &data.splits.val,
        data.vocab(),
        scoring_window(&scored),
    )?;
    Ok((scored, proto))
}

/// The row of the model at the run's final step and evaluation stream (from its summary).
pub(super) fn score(
    eval: &mut Evaluator,
    scored: &EntropyConfig,
    model: &dyn LanguageModel,
    data: &Data,
    summary: &Value,
) -> Result<Row> {
    let step = summary["step"].as_f64().unwrap_or(0.0) as u64;
    eval.set_eval_index(summary["final_eval_index"].as_u64().unwrap_or(0));
    // h_ref on text is the run's best validation loss, as at its final evaluation.
    if let (Some(loss), Some(at)) = (
        summary["best_val_loss"].as_f64(),
        summary["best_val_step"].as_f64(),
    ) {
        eval.set_best(loss, at as u64);
    }
    let scene = Scene {
        cfg: scored,
        model,
        tokenizer: &data.tokenizer,
        train_len: data.splits.train.len(),
    };
    eval.score(&scene, step, true)
}

/// The resolved config a training run saved beside its results, refused when it no longer
/// says what the weights were trained with ([`check_trained_with`]). Keys added to lab after the
/// run was made take today's defaults (the run's file is laid over the embedded default.yaml;
/// sections with a `kind` or `preset` are taken whole from the run).
pub(super) fn trained_config(dir: &Path) -> Result<EntropyConfig> {
    let path = dir.join("config.yaml");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        usage(format!(
            "{}: {e}; checkpoint.path must be a run directory of `lab entropy-probe` (task train)",
            path.display()
        ))
    })?;
    let not_ours = |e: &dyn std::fmt::Display| {
        usage(format!(
            "{}: not an entropy-probe run config ({e})",
            path.display()
        ))
    };
    let run: Value = serde_yaml_ng::from_str(&text).map_err(|e| not_ours(&e))?;
    let mut merged: Value = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(
        <EntropyConfig as crate::experiment::Experiment>::DEFAULT_YAML,
    )
    .map_err(|e| not_ours(&e))
    .and_then(|v| serde_json::to_value(v).map_err(|e| not_ours(&e)))?;
    overlay(&mut merged, run);
    let cfg: EntropyConfig = serde_json::from_value(merged).map_err(|e| not_ours(&e))?;
    if cfg.task != Task::Train {
        return Err(usage(format!(
            "{} is a task {:?} run; probe needs a task train run",
            path.display(),
            cfg.task
        )));
    }
    check_trained_with(dir, &cfg)?;
    Ok(cfg)
}

/// What a train run's weights and final evaluation were made from: its seed, data and model
/// sections and `train.seq_len` (the scoring window of an RNN). Written beside the weights as
/// `trained_with.json`, so that a probe sees a config.yaml edited since, also an edit that keeps
/// every parameter's shape (`model.n_head`, `model.dropout`, the split of the corpus).
pub(super) fn trained_with(cfg: &EntropyConfig) -> Result<Value> {
    Ok(json!({
        "seed": cfg.seed,
        "data": serde_json::to_value(&cfg.data)?,
        "model": serde_json::to_value(&cfg.model)?,
        "train": { "seq_len": cfg.train.seq_len },
    }))
}

/// Refuse a run whose config.yaml no longer says what its `trained_with.json` records. Keys one
/// side lacks are not compared (a key added to lab since takes its default on the config side);
/// runs made before the record have no file and are taken as their config.yaml says.
fn check_trained_with(dir: &Path, trained: &EntropyConfig) -> Result<()> {
    let path = dir.join(TRAINED_WITH_FILE);
    let Some(recorded) = recorded_trained_with(dir)? else {
        return Ok(());
    };
    let yaml = |v: &Value| serde_yaml_ng::to_value(v).map_err(anyhow::Error::from);
    let now = trained_with(trained)?;
    let changed: Vec<String> = crate::config::differences(&yaml(&recorded)?, &yaml(&now)?)
        .into_iter()
        .filter(|(_, then, now)| then != "absent" && now != "absent")
        .map(|(key, then, now)| format!("`{key}` is {now} there, the run was trained with {then}"))
        .collect();
    if changed.is_empty() {
        return Ok(());
    }
    Err(usage(format!(
        "{} no longer describes the run that made these weights ({} records what it was \
         trained with): {}. Restore the file, or train a new run with the new setting",
        dir.join("config.yaml").display(),
        path.display(),
        changed.join("; ")
    )))
}

/// The run's `trained_with.json` (None for runs made before the record): a usage error naming
/// the file when it cannot be read or is not a map of settings.
pub(super) fn recorded_trained_with(dir: &Path) -> Result<Option<Value>> {
    let path = dir.join(TRAINED_WITH_FILE);
    if std::fs::symlink_metadata(&path).is_err() {
        return Ok(None);
    }
    let text =
        crate::input::read_result(&path).map_err(|e| usage(format!("{}: {e}", path.display())))?;
    let recorded = serde_json::from_str(&text)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| {
            usage(format!(
                "{}: not a map of settings (damaged?)",
                path.display()
            ))
        })?;
    Ok(Some(recorded))
}

/// Lay `top` over `base`: maps merge key by key, except maps naming a `kind` or `preset`,
/// which replace the base's section whole; anything else replaces.
fn overlay(base: &mut Value, top: Value) {
    match (base, top) {
        (Value::Object(b), Value::Object(t)) => {
            for (k, v) in t {
                let whole = v
                    .as_object()
                    .is_some_and(|m| m.contains_key("kind") || m.contains_key("preset"));
                match b.get_mut(&k) {
                    Some(slot) if !whole => overlay(slot, v),
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, t) => *b = t,
    }
}

/// A train run's `summary.json` with the keys a probe repeats its final evaluation from:
/// `step` and `final_eval_index` (whole numbers), `best_val_loss` and `best_val_step`
/// (numbers, or both null), `arch` and `condition` (strings). A damaged file is a usage error
/// naming it and the key, not a row silently scored at step 0 with another sampling stream.
pub(super) fn read_summary(path: &Path) -> Result<Value> {
    let v = read_json(path)?;
    let bad = |key: &str, what: &str| {
        usage(format!(
            "{}: `{key}` must be {what}, got {} (a damaged or foreign summary.json)",
            path.display(),
            v.get(key).map_or("nothing".to_string(), Value::to_string)
        ))
    };
    for key in ["step", "final_eval_index"] {
        let whole = v[key].as_u64().is_some()
            || v[key]
                .as_f64()
                .is_some_and(|x| x >= 0.0 && x.fract() == 0.0 && x < 2f64.powi(53));
        if !whole {
            return Err(bad(key, "a whole number >= 0"));
        }
    }
    let (loss, at) = (&v["best_val_loss"], &v["best_val_step"]);
    if !(loss.is_null() && at.is_null()) {
        if !loss.as_f64().is_some_and(f64::is_finite) {
            return Err(bad(
                "best_val_loss",
                "a finite number (or null with best_val_step)",
            ));
        }
        if !at.as_f64().is_some_and(|x| x >= 0.0) {
            return Err(bad(
                "best_val_step",
                "a number >= 0 (or null with best_val_loss)",
            ));
        }
    }
    for key in ["arch", "condition"] {
        if !v[key].is_string() {
            return Err(bad(key, "a string"));
        }
    }
    Ok(v)
}

pub(super) fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| usage(format!("{}: {e} (the run did not finish?)", path.display())))?;
    serde_json::from_str(&text).map_err(|e| usage(format!("{}: {e}", path.display())))
}

/// `task: probe`: the checkpoint: a run directory of `task: train` with
/// `eval.save_checkpoint` (or a directory of such runs) in `path`, or a TorchScript module in
/// `torchscript` with its vocabulary file in `vocab` (§7.1 (b); `torchscript/`).
#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields, default)]
pub struct CheckpointSection {
    pub path: Option<PathBuf>,
    /// A TorchScript file mapping int64 ids (B, T) to float logits (B, T, |V|).
    pub torchscript: Option<PathBuf>,
    /// A JSON list of the module's token strings (id order), or a tokenizer.json.
    pub vocab: Option<PathBuf>,
    /// The longest context the module is run on; generation slides a window beyond it.
    pub context: usize,
    /// Run every call at exactly `context` positions, right-padded (a module traced at one
    /// length).
    pub fixed_width: bool,
    /// Run every call on exactly this many rows (a module traced at one batch size).
    pub fixed_batch: Option<usize>,
}

impl Default for CheckpointSection {
    fn default() -> Self {
        CheckpointSection {
            path: None,
            torchscript: None,
            vocab: None,
            context: 256,
            fixed_width: false,
            fixed_batch: None,
        }
    }
}

/// The `checkpoint` keys of `task: probe`: one kind of checkpoint, and what it needs.
pub(super) fn validate_probe(k: &CheckpointSection, e: &EvalSection, c: &mut Checker) {
    let Some(module) = &k.torchscript else {
        return c.check(
            "checkpoint.path",
            k.path.is_some(),
            "task probe needs a run directory with a checkpoint (--set checkpoint.path=DIR) \
             or a TorchScript module (--set checkpoint.torchscript=FILE)",
        );
    };
    c.check(
        "checkpoint.path",
        k.path.is_none(),
        format!(
            "give checkpoint.path or checkpoint.torchscript, not both (torchscript is {})",
            module.display()
        ),
    );
    c.check(
        "checkpoint.vocab",
        k.vocab.is_some(),
        "a TorchScript module needs its vocabulary: --set checkpoint.vocab=FILE (a JSON list \
         of token strings in id order, or a tokenizer.json)",
    );
    c.at_least("checkpoint.context", k.context, 1);
    if let Some(n) = k.fixed_batch {
        c.at_least("checkpoint.fixed_batch", n, 1);
    }
    let max = super::validate::MAX_TOKENS;
    c.check(
        "checkpoint.context",
        !k.fixed_width || k.context <= max,
        format!(
            "is {}: with checkpoint.fixed_width every call of the module spans that many \
             positions per row, more than the {max} tokens lab allows at once",
            k.context
        ),
    );
    c.relation(
        "eval.prompt_len",
        &["checkpoint.context"],
        e.prompt_len <= k.context,
        format!(
            "is {} but the module is run on at most checkpoint.context = {} tokens",
            e.prompt_len, k.context
        ),
    );
}
