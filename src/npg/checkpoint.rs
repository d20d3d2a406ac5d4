//! Checkpoints (issue 4 item 4): actor, critic, optimisers, normaliser statistics, env and
//! RNG states, episode statistics. `resume_from` continues a run from its last checkpoint;
//! on CPU the continued run's metrics equal those of an uninterrupted run.
use super::acktr::AcktrState;
use super::config::NpgConfig;
use super::optim_actor::Optimiser;
use super::policy::Adam;
use super::summary::Tracker;
use crate::error::usage;
use crate::rl::normalize::{ObsNormalizer, RewardScaler};
use crate::rl::{RngState, VecEnvState};
use crate::run::{write_atomic, Metrics};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// File name inside the run directory (the latest checkpoint; overwritten atomically).
pub const FILE: &str = "checkpoint.json";

#[derive(Serialize, Deserialize)]
pub struct Checkpoint {
    pub algo: String,
    pub env: String,
    /// Last completed iteration.
    pub iter: usize,
    pub actor: Vec<f64>,
    pub critic: Vec<f64>,
    pub critic_adam: Adam,
    pub actor_optimiser: Option<Optimiser>,
    /// ACKTR's factors, momentum and step count (absent for other algorithms).
    #[serde(default)]
    pub acktr: Option<AcktrState>,
    pub obs_norm: Option<ObsNormalizer>,
    pub reward_scale: Option<RewardScaler>,
    pub venv: VecEnvState,
    /// Actions, evaluation, minibatch shuffling, SMAC sample choice.
    pub rngs: [RngState; 4],
    pub tracker: Tracker,
}

pub fn save(path: &Path, c: &Checkpoint) -> Result<()> {
    write_atomic(path, &serde_json::to_vec(c)?)
}

/// Read `<dir>/checkpoint.json` and check it belongs to this config's algorithm and env.
pub fn load(dir: &Path, cfg: &NpgConfig) -> Result<Checkpoint> {
    let path = dir.join(FILE);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| usage(format!("resume_from: cannot read {}: {e}", path.display())))?;
    let c: Checkpoint = serde_json::from_str(&text).map_err(|e| {
        usage(format!(
            "resume_from: {} is not a checkpoint: {e}",
            path.display()
        ))
    })?;
    if c.algo != cfg.algo.name() || c.env != cfg.env.id {
        return Err(usage(format!(
            "resume_from: checkpoint is {} on {}, config asks for {} on {}",
            c.algo,
            c.env,
            cfg.algo.name(),
            cfg.env.id
        )));
    }
    if c.iter >= cfg.iterations() {
        return Err(usage(format!(
            "resume_from: checkpoint is at iteration {}, nothing left of {} iterations",
            c.iter,
            cfg.iterations()
        )));
    }
    Ok(c)
}

/// Copy the old run's metrics rows up to `iter` and episodes up to `env_steps`.
pub fn copy_rows(
    dir: &Path,
    iter: usize,
    env_steps: usize,
    metrics: &mut Metrics,
    episodes: &mut Metrics,
) -> Result<()> {
    let mut m =
        csv::Reader::from_path(dir.join("metrics.csv")).context("reading old metrics.csv")?;
    for row in m.records().take(iter) {
        metrics.cells(&row?.iter().map(String::from).collect::<Vec<_>>())?;
    }
    let mut e =
        csv::Reader::from_path(dir.join("episodes.csv")).context("reading old episodes.csv")?;
    for row in e.records() {
        let row = row?;
        let steps: f64 = row
            .get(0)
            .unwrap_or("")
            .parse()
            .context("episodes.csv env_steps")?;
        if steps <= env_steps as f64 {
            episodes.cells(&row.iter().map(String::from).collect::<Vec<_>>())?;
        }
    }
    Ok(())
}
