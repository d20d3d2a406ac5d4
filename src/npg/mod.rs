//! `lab npg-rank1`: the rank-1 Sherman–Morrison natural policy gradient (SMAC) and its
//! baselines (spec §1, §3) on the environments of `crate::rl`.
//!
//! Reading order, top to bottom as the calls go (one algorithm reads like a CleanRL file):
//! 1. [`config`]: `NpgConfig` and the `algo:` block ([`config::Algo`]), checked on load.
//! 2. [`train::train`]: picks the backend ([`backend`]: `Policy`/`ValueFn` traits, the native
//!    and [`backend_torch`] implementations); `Trainer::new` builds the [`crate::rl::VecEnv`],
//!    the actor and critic ([`policy`]), the normalisers and the seed streams, and
//!    [`method::actor_method`] maps the algorithm to its actor update; `run_loop` then calls
//!    `Trainer::iteration` once per iteration.
//! 3. Rollout: [`rollout::Collector::collect`] steps the envs with the current policy.
//! 4. Advantage: `Learner::update` (`learner.rs`) runs [`crate::rl::gae`], turns the batch into
//!    [`batch::samples`] and shuffles minibatches ([`batch::select`]).
//! 5. The actor update of each algorithm:
//!    - `smac` (and `pg`, `npg-exact`): [`update::actor_step`] per minibatch: gradient `g`,
//!      score `u`, the Sherman–Morrison direction [`rank1::sherman_morrison_direction`]
//!      (identity for `pg`, the exact Fisher of [`exact`] for `npg-exact`), the step size of
//!      [`step`] and the `max_update_norm` clip;
//!    - `npg-cg`, `trpo`: [`trust_region::trust_region_step`] once per iteration ([`cg`]);
//!    - `a2c`, `ppo`: [`optim_actor::OptimActor::step`] per minibatch;
//!    - `acktr`: [`acktr::Acktr::step`] per minibatch (K-FAC from the shared optimizer library,
//!      statistics of [`acktr_stats`]);
//!    - then the critic's Adam step, [`update::critic_step`].
//! 6. Logging: [`eval::evaluate`] on evaluation iterations, [`summary::Tracker`] (episodes,
//!    summary.json), [`iter_stats::fill_update`] into the row of [`log::COLUMNS`] written by
//!    `run::Metrics`, and [`checkpoint::save`].
pub mod acktr;
pub mod acktr_stats;
pub mod backend;
pub mod backend_torch;
pub mod batch;
pub mod cg;
pub mod checkpoint;
mod checkpoint_fit;
mod checkpoint_state;
pub mod config;
mod config_check;
pub mod eval;
pub mod exact;
pub mod iter_stats;
mod learner;
pub mod log;
mod memory;
pub mod method;
pub mod optim_actor;
pub mod policy;
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
        "Rank-1 natural policy gradient (SMAC) vs PG, A2C, NPG-CG, TRPO, PPO, ACKTR on native envs";
    const PLOTS: &'static [DefaultPlot] = &[DefaultPlot {
        x: "env_steps",
        y: "eval_return_mean",
        logy: false,
        split: &["env", "env.id", "task"],
        reference: None,
    }];
    const DEFAULT_YAML: &'static str = include_str!("../../configs/npg-rank1/default.yaml");
    const SET_EXAMPLE: &'static str = "algo.actor_lr=1e-3";
    const KINDS_YAML: &'static str = include_str!("../../configs/npg-rank1/kinds.yaml");
    const RESUME_KEY: Option<&'static str> = Some("resume_from");

    fn seed(&self) -> u64 {
        self.seed
    }

    fn torch_threads(&self) -> Option<usize> {
        self.torch_threads
    }

    /// The native backend computes with OpenBLAS (and keeps `--threads` for it).
    fn torch_computes(&self) -> bool {
        self.backend == backend::Backend::Torch
    }

    /// The environment is built once before any folder is made: a MuJoCo task's missing or
    /// broken model file is a usage error naming `env.model_dir` (or `make mujoco` for the
    /// default); then the networks and batch must fit in memory ([`memory::preflight`]).
    fn check_inputs(&self) -> Result<()> {
        let key = match &self.env.model_dir {
            Some(_) => "env.model_dir",
            None => "env.id",
        };
        let env = crate::rl::make_raw_with(&self.env.id, &self.env.options())
            .map_err(|e| crate::error::usage(format!("{key}: {e:#}")))?;
        memory::preflight(self, env.obs_dim(), &env.action_space())
    }

    fn execute(&self, run: &mut Run, ctx: &mut Ctx) -> Result<()> {
        train::train(self, run, ctx)
    }
}
