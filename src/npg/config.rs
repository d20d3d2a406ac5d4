//! Typed config of `lab npg-rank1` (defaults in configs/npg-rank1/default.yaml). Every [A]/[D]
//! setting of the spec is a key here, with the spec's reading as its default.
use super::step::StepRule;

use crate::rl::{EnvOptions, Precision};
use serde::{Deserialize, Serialize};

#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct NpgConfig {
    pub seed: u64,
    pub env: EnvConfig,
    /// Environment transitions to collect (all envs together).
    pub total_steps: usize,
    pub num_envs: usize,
    pub rollout_len: usize,
    pub minibatches: usize,
    /// Passes over each batch [A]; > 1 uses importance ratios in `g` (§1.8).
    pub epochs: usize,
    pub gamma: f64,
    pub gae_lambda: f64,
    /// Per-minibatch advantage normalisation [A].
    pub norm_adv: bool,
    pub ent_coef: f64,
    /// Actor hidden widths (tanh) [A].
    pub hidden: Vec<usize>,
    pub critic: CriticConfig,
    pub obs_norm: NormConfig,
    pub reward_norm: NormConfig,
    pub algo: Algo,
    pub eval: EvalConfig,
    /// SMAC only: log `cos_to_exact` every this many iterations (0 = off, §3.8) [D].
    pub cos_to_exact_every: usize,
    /// Refuse the exact-Fisher diagnostic above this many actor parameters [D].
    pub cos_to_exact_max_params: usize,
    /// libtorch intra-op threads for this run [D]; null keeps `--threads`. Default 1: the
    /// networks are tiny and extra threads only contend (36 s vs 0.9 s for the smoke run).
    pub torch_threads: Option<usize>,
    /// Network backend [D]: `native` (hand-written f64 MLP, spec §1.12) or `torch` (tch).
    pub backend: super::backend::Backend,
    /// Save `checkpoint.json` every this many iterations (and always at the end) [D].
    pub checkpoint_every: usize,
    /// Continue the run in this directory from its checkpoint (null: start fresh).
    pub resume_from: Option<std::path::PathBuf>,
    /// Return that counts as solved for `steps_to_threshold`; null uses the env's (§5.3).
    pub threshold: Option<f64>,
}

#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct EnvConfig {
    pub id: String,
    /// Time limit; null uses the env's Gymnasium default (§4.1, §5.2).
    pub max_episode_steps: Option<usize>,
    pub precision: Precision,
    /// MuJoCo tasks: another directory of model files (null: Gymnasium's, spec §4.7).
    #[serde(default)]
    pub model_dir: Option<std::path::PathBuf>,
}

impl EnvConfig {
    pub fn options(&self) -> EnvOptions {
        EnvOptions {
            max_episode_steps: self.max_episode_steps,
            precision: self.precision,
            model_dir: self.model_dir.clone(),
        }
    }
}

#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct CriticConfig {
    pub hidden: Vec<usize>,
    pub lr: f64,
    /// Passes over the batch, one Adam step per minibatch each [D].
    pub epochs: usize,
    pub max_grad_norm: f64,
}

#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct NormConfig {
    /// null: on for the MuJoCo tasks, off for classic control [D].
    pub enabled: Option<bool>,
    pub clip: f64,
}

impl NormConfig {
    /// Whether the normaliser runs on `env_id` (`enabled`, or its per-env default).
    pub fn on_for(&self, env_id: &str) -> bool {
        self.enabled
            .unwrap_or_else(|| crate::rl::mujoco::is_mujoco(env_id))
    }
}

/// Which single sample supplies the score `u` (§1.3).
#[derive(Deserialize, Serialize, Debug, Clone, Copy, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub enum ScoreSample {
    Random,
    First,
    Mean,
    Grad,
    None,
}

/// The actor update; the critic, rollout and evaluation are shared (§3.1).
#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Algo {
    /// Rank-1 Sherman–Morrison natural gradient (§1).
    Smac {
        damping: f64,
        score_sample: ScoreSample,
        step_rule: StepRule,
        actor_lr: f64,
        max_update_norm: f64,
    },
    /// Vanilla policy gradient actor-critic (§3.2).
    Pg {
        step_rule: StepRule,
        actor_lr: f64,
        max_update_norm: f64,
    },
    /// Advantage actor-critic, matched profile: RMSprop on −g (§3.3).
    A2c {
        actor_lr: f64,
        rms_decay: f64,
        rms_eps: f64,
        max_grad_norm: f64,
    },
    /// Natural gradient by conjugate gradient, normalised step, no line search (§3.4).
    NpgCg {
        max_kl: f64,
        cg_iters: usize,
        cg_damping: f64,
        cg_residual_tol: f64,
    },
    /// `npg-cg` plus TRPO's backtracking line search (§3.5).
    Trpo {
        max_kl: f64,
        cg_iters: usize,
        cg_damping: f64,
        cg_residual_tol: f64,
        ls_shrink: f64,
        ls_max_iter: usize,
    },
    /// PPO-clip with Adam (§3.6); set `epochs: 4` and `ent_coef: 0.01` for CleanRL's profile.
    Ppo {
        actor_lr: f64,
        anneal_lr: bool,
        clip_coef: f64,
        max_grad_norm: f64,
    },
    /// A2C with a K-FAC natural-gradient actor step in a KL trust region (§3.7; the reference
    /// PyTorch implementation's values in configs/npg-rank1/acktr.yaml).
    Acktr {
        actor_lr: f64,
        momentum: f64,
        stat_decay: f64,
        kl_clip: f64,
        damping: f64,
        damping_scheme: crate::optim::kfac::DampingScheme,
        inverse_every: usize,
        stats_every: usize,
    },
    /// Diagnostic (§3.8): exact damped natural gradient per minibatch, tiny categorical
    /// actors only (Fisher expectation over actions, Cholesky solve).
    NpgExact {
        damping: f64,
        step_rule: StepRule,
        actor_lr: f64,
        max_update_norm: f64,
        max_params: usize,
    },
}

impl Algo {
    pub fn name(&self) -> &'static str {
        match self {
            Algo::Smac { .. } => "smac",
            Algo::Pg { .. } => "pg",
            Algo::A2c { .. } => "a2c",
            Algo::NpgCg { .. } => "npg-cg",
            Algo::Trpo { .. } => "trpo",
            Algo::Ppo { .. } => "ppo",
            Algo::NpgExact { .. } => "npg-exact",
            Algo::Acktr { .. } => "acktr",
        }
    }
}

#[derive(Deserialize, Serialize, Debug, Clone, Copy, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub enum EvalMode {
    /// argmax / Gaussian mean (default, §6.3).
    Deterministic,
    Sample,
}

#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct EvalConfig {
    /// Evaluate every this many iterations (and at the end); 0 = only at the end.
    pub every: usize,
    pub episodes: usize,
    pub mode: EvalMode,
    /// Episode k uses seed `seed + seed_offset + k` (§6.3).
    pub seed_offset: u64,
}

impl NpgConfig {
    /// `num_envs × rollout_len` (saturating: validation refuses a product past 64 bits).
    pub fn batch_size(&self) -> usize {
        self.num_envs.saturating_mul(self.rollout_len)
    }
    pub fn iterations(&self) -> usize {
        self.total_steps.div_ceil(self.batch_size())
    }
}
