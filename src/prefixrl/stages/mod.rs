//! Stage dispatch (§7.7): a single stage first checks the runs it reads (`inputs.*`, see
//! [`super::inputs`]) and then runs; `all` adopts the artifacts `inputs.*` and `inputs.resume`
//! name, then runs the pipeline in order, skipping each stage whose output is already in the
//! run directory. A continued `all` run (`--resume`) so picks up at the first stage the old run
//! did not finish, keeping the skipped stages' CSVs and summary sections; its train stage
//! continues from the old run's last checkpoint, or starts at step 0 when there is none; when
//! that checkpoint is at `rl.steps` (the old run stopped in eval) it keeps the train rows and
//! copies the checkpoint over, and the eval stage evaluates it. Each stage lives in its own
//! file (`gendata.rs`, `pretrain.rs`, …) as `pub fn run(cfg, run, ctx) -> Result<()>`.
pub mod calibrate;
pub mod collect;
pub mod collect_sample;
pub mod eval;
pub mod evaluate;
mod evaluate_load;
pub mod evaluate_parts;
mod evaluate_row;
pub mod gendata;
pub mod load;
pub mod prefixes;
pub mod pretrain;
pub mod train;
pub mod train_data;
pub mod train_eval;
mod train_fit;
pub mod train_log;
mod train_offline;
pub mod train_rollout;
pub mod train_sft;
pub mod train_state;
pub mod train_update;

use super::config::{PrefixrlConfig, Stage};
use super::inputs::{self, Artifact};
use crate::error::usage;
use crate::experiment::Ctx;
use crate::run::Run;
use anyhow::Result;

pub mod toy;

/// Run the stage `cfg.stage` into `run`.
pub fn run(cfg: &PrefixrlConfig, run: &mut Run, ctx: &mut Ctx) -> Result<()> {
    if cfg.stage == Stage::All {
        return all(cfg, run, ctx);
    }
    for art in inputs::needs(cfg.stage, cfg) {
        inputs::resolve(&cfg.inputs, art)?;
    }
    if let Some(dir) = &cfg.inputs.resume {
        inputs::check_run("inputs.resume", dir, false)?;
    }
    one(cfg.stage, cfg, run, ctx)
}

/// The file or directory a stage leaves in its run directory, by which `all` skips it.
pub fn output(stage: Stage) -> Option<&'static str> {
    match stage {
        Stage::GenData => Some(Artifact::Problems.file()),
        Stage::Pretrain => Some(Artifact::Base.file()),
        Stage::Collect => Some(Artifact::Traces.file()),
        Stage::MakePrefixes => Some(Artifact::Prefixes.file()),
        Stage::Calibrate => Some(inputs::CALIBRATION),
        // train and eval continue from their own checkpoints and CSVs instead.
        Stage::Train | Stage::Eval | Stage::Toy | Stage::All => None,
    }
}

/// Every pipeline stage in order, each skipped when its output exists.
fn all(cfg: &PrefixrlConfig, run: &mut Run, ctx: &mut Ctx) -> Result<()> {
    inputs::adopt(&cfg.inputs, run)?;
    for stage in Stage::PIPELINE {
        if let Some(file) = output(stage) {
            if run.path(file).exists() {
                if !run.quiet {
                    eprintln!("skipping {}: {file} exists", stage.name());
                }
                continue;
            }
        }
        one(stage, cfg, run, ctx)?;
    }
    Ok(())
}

/// One stage, its inputs already checked.
fn one(stage: Stage, cfg: &PrefixrlConfig, run: &mut Run, ctx: &mut Ctx) -> Result<()> {
    match stage {
        Stage::GenData => gendata::run(cfg, run, ctx),
        Stage::Pretrain => pretrain::run(cfg, run, ctx),
        Stage::Calibrate => calibrate::run(cfg, run, ctx),
        Stage::Collect => collect::run(cfg, run, ctx),
        Stage::MakePrefixes => prefixes::run(cfg, run, ctx),
        Stage::Toy => toy::run(cfg, run),
        Stage::Train => train::run(cfg, run, ctx),
        Stage::Eval => eval::run(cfg, run, ctx),
        Stage::All => Err(usage(
            "stage all runs the other stages; it is not one itself",
        )),
    }
}
