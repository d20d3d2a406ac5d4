//! Stage `eval` (§7.6, §7.7): evaluate one model with the evaluator of the train stage and
//! write one row of eval.csv (§7.9). The model is `eval.checkpoint` — a checkpoint directory, a
//! train run directory (its last checkpoint) or a weights file — of the base model's
//! architecture, or, when it is null, the base model itself (method `base`); under
//! `stage: all` a null key means the run's own last checkpoint, and the row goes to
//! `final_eval.csv` (eval.csv holds the train stage's rows) with `final_*` entries added to
//! summary.json. `eval.k_final` raises the samples per problem for these final numbers.
use super::evaluate::{evaluate, EvalCtx, EvalRow};
use super::load;
use crate::error::usage;
use crate::experiment::Ctx;
use crate::nn::checkpoint;
use crate::prefixrl::columns;
use crate::prefixrl::config::{PrefixrlConfig, Stage};
use crate::prefixrl::inputs::{self, Artifact};
use crate::run::Run;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// Which weights to evaluate and what is known about them.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// A weights file (safetensors); `None`: the base model as loaded.
    pub weights: Option<PathBuf>,
    /// The training step of the checkpoint (0 for the base model or a bare weights file).
    pub step: u64,
    /// `flops_total` the checkpoint recorded in its metadata, if any.
    pub flops_total: Option<f64>,
}

impl Target {
    fn base() -> Target {
        Target {
            weights: None,
            step: 0,
            flops_total: None,
        }
    }
}

/// Resolve what `eval.checkpoint` (or, without it, the stage) names (module doc).
pub fn target(cfg: &PrefixrlConfig, run: &Run) -> Result<Target> {
    match &cfg.eval.checkpoint {
        Some(path) => from_path(path),
        // The train stage of the same run wrote its last checkpoint (ckpt_every >= 1 is
        // checked); evaluating the base model here instead would report its numbers as the
        // trained model's final ones.
        None if cfg.stage == Stage::All => {
            let root = run.path("checkpoints");
            let last = match root.is_dir() {
                true => last_checkpoint(&root)?,
                false => None,
            };
            let dir = last.ok_or_else(|| {
                usage(format!(
                    "{} holds no checkpoint of the train stage, so there is no trained model to \
                     evaluate: set ckpt_every >= 1 and run again",
                    root.display()
                ))
            })?;
            from_dir(&dir)
        }
        None => Ok(Target::base()),
    }
}

/// A weights file, a checkpoint directory, a train run directory or a pretrain run directory;
/// one that cannot be read is a usage error naming `eval.checkpoint`.
pub fn from_path(path: &Path) -> Result<Target> {
    let key = "eval.checkpoint";
    let from_dir = |dir: &Path| {
        from_dir(dir).map_err(|e| {
            usage(format!(
                "{key}: the checkpoint {} cannot be read: {e:#}; it is damaged or not a lab \
                 prefixrl checkpoint: name another checkpoint directory",
                dir.display()
            ))
        })
    };
    if path.is_file() {
        return Ok(Target {
            weights: Some(path.to_path_buf()),
            ..Target::base()
        });
    }
    if path.join(checkpoint::META_FILE).is_file() {
        return from_dir(path);
    }
    if path.join("checkpoints").is_dir() {
        return match last_checkpoint(&path.join("checkpoints"))? {
            Some(dir) => from_dir(&dir),
            None => Err(usage(format!(
                "{key}: {} has no checkpoint under checkpoints/",
                path.display()
            ))),
        };
    }
    let base = path.join(load::BASE_DIR).join(load::WEIGHTS_FILE);
    if base.is_file() {
        return Ok(Target {
            weights: Some(base),
            ..Target::base()
        });
    }
    Err(usage(format!(
        "{key}: {} is neither a weights file, a checkpoint directory (with {}), a train run \
         directory (with checkpoints/) nor a pretrain run directory (with base/)",
        path.display(),
        checkpoint::META_FILE
    )))
}

fn last_checkpoint(root: &Path) -> Result<Option<PathBuf>> {
    Ok(checkpoint::list(root)?.pop())
}

/// A checkpoint directory: its weights, step and recorded `flops_total`.
fn from_dir(dir: &Path) -> Result<Target> {
    let meta = checkpoint::read_meta(dir)?;
    checkpoint::verify_files(dir, &meta)?;
    let flops_total = meta.metadata.get("flops_total").and_then(|v| v.as_f64());
    Ok(Target {
        weights: Some(dir.join(checkpoint::MODEL_FILE)),
        step: meta.step,
        flops_total,
    })
}

/// The stage (module doc).
pub fn run(cfg: &PrefixrlConfig, run: &mut Run, ctx: &mut Ctx) -> Result<()> {
    let mut ectx = EvalCtx::load(cfg, run, ctx.device)?;
    if let Some(k) = cfg.eval.k_final {
        ectx.samples = k;
    }
    let target = target(cfg, run)?;
    let base_path = inputs::path(cfg, run, Artifact::Base)?;
    let base_dir = base_path.parent().unwrap_or(Path::new("."));
    let model = load::load_base(base_dir, ctx.device)?.model;
    if let Some(w) = &target.weights {
        checkpoint::load_weights(w, model.var_store())
            .map_err(|e| usage(format!("eval.checkpoint: {e:#}")))?;
    }
    let row = evaluate(&mut ectx, model.as_ref(), target.step, cfg.seed)?;
    let method = match target.weights {
        None => "base".to_string(),
        Some(_) => method_name(cfg),
    };
    let file = if cfg.stage == Stage::All {
        "final_eval.csv"
    } else {
        "eval.csv"
    };
    write_row(cfg, run, file, &method, &target, &row)?;
    write_summary(cfg, run, &method, ectx.samples, &row)?;
    if !run.quiet {
        let show = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.3}"));
        eprintln!(
            "eval ({method}, step {}, {} samples/problem): train pass@1 {}, held-out pass@1 {}",
            target.step,
            ectx.samples,
            show(row.train_unpref_pass1),
            show(row.heldout_pass1)
        );
    }
    Ok(())
}

/// `rl.method` as the config spells it.
pub fn method_name(cfg: &PrefixrlConfig) -> String {
    serde_json::to_value(cfg.rl.method)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn write_row(
    cfg: &PrefixrlConfig,
    run: &Run,
    file: &str,
    method: &str,
    target: &Target,
    row: &EvalRow,
) -> Result<()> {
    let header = columns::eval(&cfg.eval.panel_fracs);
    let cols: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut csv = run.csv(file, &cols)?;
    let mut r = csv.new_row();
    let name = run
        .dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned());
    r.text("run", &name.unwrap_or_default())
        .text("method", method)
        .num("seed", cfg.seed as f64)
        .opt("flops_total", target.flops_total);
    row.write(&mut r);
    csv.write(&r)
}

/// summary.json: the row's values; under `stage: all` added as `final_*` to the train
/// stage's summary.
fn write_summary(
    cfg: &PrefixrlConfig,
    run: &Run,
    method: &str,
    samples: usize,
    row: &EvalRow,
) -> Result<()> {
    let all = cfg.stage == Stage::All;
    let path = run.path("summary.json");
    let mut summary = match (all, std::fs::read_to_string(&path)) {
        (true, Ok(text)) => serde_json::from_str::<serde_json::Value>(&text)
            .with_context(|| format!("{} is not JSON", path.display()))?,
        _ => serde_json::json!({"stage": "eval", "method": method}),
    };
    let obj = summary
        .as_object_mut()
        .context("summary.json is not a JSON object")?;
    let prefix = if all { "final_" } else { "" };
    for (k, v) in row.values() {
        if let Some(v) = v {
            obj.insert(format!("{prefix}{k}"), v.into());
        }
    }
    obj.insert(format!("{prefix}eval_step"), row.step.into());
    obj.insert(format!("{prefix}eval_samples"), samples.into());
    obj.insert(format!("{prefix}flops_eval"), row.flops.into());
    run.write_summary(&summary)
}
