//! [`EvalCtx::load`]: the evaluation sets from the run directories a stage reads (§7.6): the
//! held-out, OOD and easy problems beside the gen-data run's problems.jsonl, the base model
//! (inputs.base), and, when a collect run is at hand (inputs.traces, or the run's own
//! traces.jsonl under `stage: all`), the training set D with its traces and, likewise, the
//! prefixed variants (prefixes.jsonl). Without traces the training columns stay empty.
use super::evaluate::{EvalCtx, EvalData};
use super::load::{self, Split};
use crate::prefixrl::config::{PrefixrlConfig, Stage};
use crate::prefixrl::inputs::{self, Artifact};
use crate::prefixrl::jsonl;
use crate::prefixrl::task;
use crate::run::Run;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use tch::Device;

impl EvalCtx {
    /// The evaluation context of a `train` or `eval` stage of `cfg` (module doc); the base
    /// model is loaded onto `device` as the KL reference.
    pub fn load(cfg: &PrefixrlConfig, run: &Run, device: Device) -> Result<EvalCtx> {
        let problems = inputs::path(cfg, run, Artifact::Problems)?;
        let data_dir = parent(&problems);
        let base_dir = parent(&inputs::path(cfg, run, Artifact::Base)?);
        let base = load::load_base(&base_dir, device)
            .with_context(|| format!("loading the base model of {}", base_dir.display()))?;
        let task = task::build(&cfg.task)?;
        let mut data = EvalData {
            heldout: load::read_split(&data_dir, Split::Heldout)?,
            ood: load::read_split(&data_dir, Split::Ood)?,
            easy: read_optional(&data_dir, Split::Easy)?,
            ..EvalData::default()
        };
        if let Some(path) = optional(cfg, run, Artifact::Traces)? {
            let pool = load::read_split(&data_dir, Split::Pool)?;
            data.train = load::train_set(&parent(&path), &pool, cfg.train.n_problems)?;
        } else if !run.quiet {
            eprintln!(
                "evaluation: no traces (inputs.traces is not set), so the training-set columns \
                 stay empty"
            );
        }
        if let Some(path) = optional(cfg, run, Artifact::Prefixes)? {
            data.prefixes = jsonl::read_prefixes(&path)?;
        }
        check_sizes(cfg, &data_dir, &data)?;
        let max_new = i64::try_from(cfg.rl.max_new_tokens).unwrap_or(i64::MAX);
        EvalCtx::new(
            task,
            base.codec,
            data,
            Some(base.model),
            &cfg.eval,
            &base.config,
            max_new,
        )
    }
}

/// The held-out and OOD files must hold the problems `eval.n_heldout` / `eval.n_ood` ask for,
/// and the training set (when traces are at hand) the `eval.panel` problems: a smaller set
/// would be evaluated in their place without a word, and its rates compared with runs of the
/// full sizes.
fn check_sizes(cfg: &PrefixrlConfig, data_dir: &Path, data: &EvalData) -> Result<()> {
    let e = &cfg.eval;
    let sets = [
        (
            "eval.n_heldout",
            e.n_heldout,
            data.heldout.len(),
            Split::Heldout.file(),
        ),
        ("eval.n_ood", e.n_ood, data.ood.len(), Split::Ood.file()),
    ];
    for (key, asked, have, file) in sets {
        if have < asked {
            return Err(crate::error::usage(format!(
                "{key}: {asked} problems asked for, but {} has {have}: lower {key} to at most \
                 {have}, or generate more (data.{} of the gen-data run)",
                data_dir.join(file).display(),
                key.trim_start_matches("eval.")
            )));
        }
    }
    let (asked, have) = (e.panel, data.train.len());
    if have > 0 && have < asked {
        return Err(crate::error::usage(format!(
            "eval.panel: {asked} problems asked for, but the training set (the first \
             train.n_problems = {} problems of the traces) has {have}: lower eval.panel to at \
             most {have}",
            cfg.train.n_problems
        )));
    }
    Ok(())
}

/// The directory holding an artifact (its run directory).
fn parent(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}

/// `art` when the config names its run (checked) or, under `stage: all`, when the run's own
/// directory holds it; `None` otherwise.
fn optional(cfg: &PrefixrlConfig, run: &Run, art: Artifact) -> Result<Option<PathBuf>> {
    if cfg.stage == Stage::All {
        let p = inputs::local(run, art);
        return Ok(p.exists().then_some(p));
    }
    if art.configured(&cfg.inputs).is_none() {
        return Ok(None);
    }
    inputs::resolve(&cfg.inputs, art).map(Some)
}

/// A split that older gen-data runs may lack (easy.jsonl): empty when missing.
fn read_optional(dir: &Path, split: Split) -> Result<Vec<task::Problem>> {
    if dir.join(split.file()).exists() {
        load::read_split(dir, split)
    } else {
        Ok(Vec::new())
    }
}

/// Every evaluation prompt must leave room to generate in a model of `block` positions (None:
/// no limit; [`load::room`]): checked when the evaluation sets are loaded, so a problem too
/// long is named with its file before the first step instead of failing an evaluation.
pub(super) fn check_prompts(
    codec: &load::Codec,
    block: Option<i64>,
    sets: &[(Split, &Vec<task::Problem>)],
) -> Result<()> {
    let Some(block) = block else {
        return Ok(());
    };
    for (split, problems) in sets {
        for p in problems.iter() {
            let len = codec.prompt(p)?.len();
            if len as i64 > block {
                return Err(crate::error::usage(format!(
                    "{}: the prompt of `{}` is {len} tokens (with <bos>), leaving no room to \
                     generate in the base model's model.block_size = {block}: shorten it or \
                     pretrain a base with a larger model.block_size",
                    split.file(),
                    p.id
                )));
            }
        }
    }
    Ok(())
}
