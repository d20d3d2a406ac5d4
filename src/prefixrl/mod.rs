//! `lab prefixrl`: PrefixRL (RL conditioned on prefixes of off-policy traces) against standard
//! RL, SFT+RL and off-policy baselines on hard synthetic reasoning problems, on a FLOPs axis
//! (spec `prefixrl.md`, issue 12).
//!
//! Reading order:
//! 1. `config.rs`: every key (spec §7.8; documented in configs/prefixrl/default.yaml), with the
//!    §7.3 model presets in `config_model.rs`, the one-string values with a payload in
//!    `config_values.rs`, the range checks in `config_check.rs` and the size bounds in
//!    `config_sizes.rs`.
//! 2. `stages/mod.rs`: the dispatch on `stage:` (§7.7), one file per stage; `inputs.rs`: the run
//!    directories of earlier stages a stage reads (checked like `--resume`); `preflight.rs`:
//!    what is refused before a run directory exists (a `--resume` with a changed config,
//!    model keys that differ from the base model the stage loads).
//! 3. `columns.rs`: the CSV headers of §7.9 (metrics.csv, eval.csv, compare.csv) and of
//!    toy.csv and calibration.csv.
//! 4. `task/`: the tasks (Countdown §7.1, path, exact-answer, external checker) and their
//!    checkers; `jsonl.rs`: problems/traces/prefixes files (§7.2).
//! 5. `policy/`: token-level sampling with contexts, training batches with the completion mask,
//!    log-probs, SFT and policy-gradient steps; `algo/`: advantages, loss aggregation, PPO/IS/LUFFY
//!    surrogates, KL, pass@k, FLOPs (§5.1) and the speed-up measures (§5.2).
//! 6. `toy/`: the theory toys T1–T6 of §4.2.
//! 7. `compare.rs`: compare.csv and the §7.11 acceptance criteria (the `lab report` hook).
pub mod algo;
pub mod columns;
pub mod compare;
pub mod config;
mod config_check;
mod config_method;
pub mod config_model;
pub mod config_sizes;
mod config_values;
pub mod inputs;
pub mod jsonl;
pub mod policy;
pub mod preflight;
pub mod stages;
pub mod task;
pub mod toy;

pub use config::PrefixrlConfig;

use crate::experiment::{Ctx, Experiment};
use crate::plot::defaults::DefaultPlot;
use crate::run::Run;
use anyhow::Result;

impl Experiment for PrefixrlConfig {
    const NAME: &'static str = "prefixrl";
    const ABOUT: &'static str = "PrefixRL: RL conditioned on prefixes of off-policy traces";
    const DEFAULT_YAML: &'static str = include_str!("../../configs/prefixrl/default.yaml");
    const KINDS_YAML: &'static str = include_str!("../../configs/prefixrl/kinds.yaml");
    const SET_EXAMPLE: &'static str = "rl.method=rl";
    /// Training reward against total compute (§5.1: the x-axis includes the offline charge).
    const PLOTS: &'static [DefaultPlot] = &[DefaultPlot {
        x: "flops_total",
        y: "reward_unprefixed_mean",
        logy: false,
        split: &["method"],
        reference: None,
    }];
    const RESUME_KEY: Option<&'static str> = Some("inputs.resume");
    /// compare.csv, compare_no_offline.csv and the §7.11 criteria table.
    const REPORT: Option<crate::report::ReportHook> = Some(compare::report);

    fn seed(&self) -> u64 {
        self.seed
    }

    fn torch_threads(&self) -> Option<usize> {
        self.torch_threads
    }

    /// `--resume` with a changed config, and model keys that a base model overrides, are
    /// refused before a run directory is made.
    fn check_inputs(&self) -> Result<()> {
        preflight::check(self)
    }

    fn execute(&self, run: &mut Run, ctx: &mut Ctx) -> Result<()> {
        stages::run(self, run, ctx)
    }
}
