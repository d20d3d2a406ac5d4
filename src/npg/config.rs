//! Typed config of `lab npg-rank1` (defaults in configs/npg-rank1/default.yaml). Every [A]/[D]
//! setting of the spec is a key here, with the spec's reading as its default.
use super::step::StepRule;
use crate::config::{Checker, Validate};
use crate::rl::{EnvOptions, Precision, ENV_IDS};
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
    pub fn batch_size(&self) -> usize {
        self.num_envs * self.rollout_len
    }
    pub fn iterations(&self) -> usize {
        self.total_steps.div_ceil(self.batch_size())
    }
}

fn check_step_rule(
    c: &mut Checker,
    key: &str,
    rule: &StepRule,
    actor_lr: f64,
    max_update_norm: f64,
) {
    c.positive("algo.actor_lr", actor_lr);
    c.positive("algo.max_update_norm", max_update_norm);
    match rule {
        StepRule::Fixed => {}
        StepRule::Npg {
            max_kl,
            actor_lr_max,
        } => {
            c.positive(&format!("{key}.max_kl"), *max_kl);
            c.positive(&format!("{key}.actor_lr_max"), *actor_lr_max);
        }
        StepRule::KlClip { kl_clip } => c.positive(&format!("{key}.kl_clip"), *kl_clip),
        StepRule::Linesearch {
            max_kl,
            actor_lr_max,
            ls_shrink,
            ls_max_iter,
        } => {
            c.positive(&format!("{key}.max_kl"), *max_kl);
            c.positive(&format!("{key}.actor_lr_max"), *actor_lr_max);
            c.in_open_unit(&format!("{key}.ls_shrink"), *ls_shrink);
            c.at_least(&format!("{key}.ls_max_iter"), *ls_max_iter, 1);
        }
        StepRule::Adam => {}
    }
}

fn check_cg(c: &mut Checker, max_kl: f64, cg_iters: usize, cg_damping: f64, tol: f64) {
    c.positive("algo.max_kl", max_kl);
    c.at_least("algo.cg_iters", cg_iters, 1);
    c.check(
        "algo.cg_damping",
        cg_damping.is_finite() && cg_damping >= 0.0,
        "must be >= 0",
    );
    c.check(
        "algo.cg_residual_tol",
        tol.is_finite() && tol >= 0.0,
        "must be >= 0",
    );
}

impl Validate for NpgConfig {
    fn validate(&self, c: &mut Checker) {
        let known = ENV_IDS.iter().any(|(id, _)| *id == self.env.id);
        let ids: Vec<&str> = ENV_IDS.iter().map(|(id, _)| *id).collect();
        c.check(
            "env.id",
            known,
            format!("unknown environment; known: {}", ids.join(", ")),
        );
        if let Some(cap) = self.env.max_episode_steps {
            c.at_least("env.max_episode_steps", cap, 1);
        }
        c.at_least("total_steps", self.total_steps, 1);
        c.at_least("num_envs", self.num_envs, 1);
        c.at_least("rollout_len", self.rollout_len, 1);
        c.at_least("minibatches", self.minibatches, 1);
        if self.batch_size() > 0 {
            c.relation(
                "minibatches",
                &["num_envs", "rollout_len"],
                self.minibatches <= self.batch_size(),
                format!(
                    "cannot exceed num_envs × rollout_len = {} × {} = {}, got {}",
                    self.num_envs,
                    self.rollout_len,
                    self.batch_size(),
                    self.minibatches
                ),
            );
        }
        c.at_least("epochs", self.epochs, 1);
        c.check(
            "gamma",
            (0.0..=1.0).contains(&self.gamma),
            "must be in [0, 1]",
        );
        c.check(
            "gae_lambda",
            (0.0..=1.0).contains(&self.gae_lambda),
            "must be in [0, 1]",
        );
        c.check(
            "ent_coef",
            self.ent_coef.is_finite() && self.ent_coef >= 0.0,
            "must be >= 0",
        );
        c.check(
            "hidden",
            self.hidden.iter().all(|&h| h > 0),
            "widths must be >= 1",
        );
        c.check(
            "critic.hidden",
            self.critic.hidden.iter().all(|&h| h > 0),
            "widths must be >= 1",
        );
        c.positive("critic.lr", self.critic.lr);
        c.at_least("critic.epochs", self.critic.epochs, 1);
        c.positive("critic.max_grad_norm", self.critic.max_grad_norm);
        c.positive("obs_norm.clip", self.obs_norm.clip);
        c.positive("reward_norm.clip", self.reward_norm.clip);
        c.at_least("eval.episodes", self.eval.episodes, 1);
        if let Some(t) = self.torch_threads {
            c.at_least("torch_threads", t, 1);
        }
        c.relation(
            "cos_to_exact_every",
            &["algo.kind"],
            self.cos_to_exact_every == 0 || matches!(self.algo, Algo::Smac { .. }),
            "the exact-Fisher diagnostic compares against SMAC's direction: needs algo.kind = smac",
        );
        validate_algo(&self.algo, c);
    }
}

/// Per-algorithm ranges.
fn validate_algo(algo: &Algo, c: &mut Checker) {
    match algo {
        Algo::Smac {
            damping,
            step_rule,
            actor_lr,
            max_update_norm,
            ..
        } => {
            // λ ≤ 0 is rejected at configuration time (§6.6, item 8).
            c.positive("algo.damping", *damping);
            check_step_rule(c, "algo.step_rule", step_rule, *actor_lr, *max_update_norm);
        }
        Algo::Pg {
            step_rule,
            actor_lr,
            max_update_norm,
        } => check_step_rule(c, "algo.step_rule", step_rule, *actor_lr, *max_update_norm),
        Algo::NpgCg {
            max_kl,
            cg_iters,
            cg_damping,
            cg_residual_tol,
        } => check_cg(c, *max_kl, *cg_iters, *cg_damping, *cg_residual_tol),
        Algo::Trpo {
            max_kl,
            cg_iters,
            cg_damping,
            cg_residual_tol,
            ls_shrink,
            ls_max_iter,
        } => {
            check_cg(c, *max_kl, *cg_iters, *cg_damping, *cg_residual_tol);
            c.in_open_unit("algo.ls_shrink", *ls_shrink);
            c.at_least("algo.ls_max_iter", *ls_max_iter, 1);
        }
        Algo::NpgExact {
            damping,
            step_rule,
            actor_lr,
            max_update_norm,
            max_params,
        } => {
            c.positive("algo.damping", *damping);
            c.at_least("algo.max_params", *max_params, 1);
            check_step_rule(c, "algo.step_rule", step_rule, *actor_lr, *max_update_norm);
        }
        Algo::A2c {
            actor_lr,
            rms_decay,
            rms_eps,
            max_grad_norm,
        } => {
            c.positive("algo.actor_lr", *actor_lr);
            c.in_open_unit("algo.rms_decay", *rms_decay);
            c.positive("algo.rms_eps", *rms_eps);
            c.positive("algo.max_grad_norm", *max_grad_norm);
        }
        Algo::Ppo {
            actor_lr,
            clip_coef,
            max_grad_norm,
            ..
        } => {
            c.positive("algo.actor_lr", *actor_lr);
            c.in_open_unit("algo.clip_coef", *clip_coef);
            c.positive("algo.max_grad_norm", *max_grad_norm);
        }
        Algo::Acktr {
            actor_lr,
            momentum,
            stat_decay,
            kl_clip,
            damping,
            inverse_every,
            stats_every,
            ..
        } => {
            c.positive("algo.actor_lr", *actor_lr);
            c.check(
                "algo.momentum",
                (0.0..1.0).contains(momentum),
                "must be in [0, 1)",
            );
            c.check(
                "algo.stat_decay",
                (0.0..1.0).contains(stat_decay),
                "must be in [0, 1)",
            );
            c.positive("algo.kl_clip", *kl_clip);
            c.positive("algo.damping", *damping);
            c.at_least("algo.inverse_every", *inverse_every, 1);
            c.at_least("algo.stats_every", *stats_every, 1);
        }
    }
}
