//! `lab npg-rank1`: the rank-1 Sherman–Morrison natural policy gradient (SMAC) and its
//! baselines (spec §1, §3) on the environments of `crate::rl`.
pub mod backend;
pub mod backend_torch;
pub mod batch;
pub mod cg;
pub mod checkpoint;
pub mod config;
pub mod eval;
pub mod exact;
pub mod iter_stats;
pub mod log;
pub mod method;
pub mod optim_actor;
pub mod rank1;
pub mod rollout;
pub mod step;
pub mod summary;
pub mod train;
pub mod trust_region;
pub mod update;

pub use config::NpgConfig;

use crate::experiment::{Ctx, Experiment};
use crate::plot::defaults::DefaultPlot;
use crate::run::Run;
use anyhow::Result;

impl Experiment for NpgConfig {
    const NAME: &'static str = "npg-rank1";
    const ABOUT: &'static str =
        "Rank-1 natural policy gradient (SMAC) vs PG, A2C, NPG-CG, TRPO, PPO on native envs";
    const PLOTS: &'static [DefaultPlot] = &[DefaultPlot {
        x: "env_steps",
        y: "eval_return_mean",
        logy: false,
        split: &["env", "env.id", "task"],
    }];
    const DEFAULT_YAML: &'static str = include_str!("../../configs/npg-rank1/default.yaml");
    const RESUME_KEY: Option<&'static str> = Some("resume_from");

    fn seed(&self) -> u64 {
        self.seed
    }

    fn torch_threads(&self) -> Option<usize> {
        self.torch_threads
    }

    fn execute(&self, run: &mut Run, ctx: &mut Ctx) -> Result<()> {
        train::train(self, run, ctx)
    }
}
