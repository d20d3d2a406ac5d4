//! Range checks of `lab npg-rank1`'s config (`Validate for NpgConfig`): every key with a range,
//! each error naming its key; the per-algorithm ranges follow the `algo.kind` variant.
use super::config::{Algo, NpgConfig};
use super::step::StepRule;
use crate::config::{Checker, Validate};
use crate::experiment::Experiment;
use crate::rl::ENV_IDS;

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
        StepRule::Fixed {} => {}
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
        StepRule::Adam {} => {}
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
        check_env_and_batch(self, c);
        check_coefficients(self, c);
        check_eval_seeds(self, c);
        if let Some(t) = self.threshold {
            c.check(
                "threshold",
                !t.is_nan(),
                "must be a number (or null), got NaN",
            );
        }
        if self.env.model_dir.is_some() {
            c.relation(
                "env.model_dir",
                &["env.id"],
                crate::rl::mujoco::is_mujoco(&self.env.id),
                format!(
                    "is for the MuJoCo tasks' model files; `{}` is a classic-control env and \
                     would ignore it (set it to null)",
                    self.env.id
                ),
            );
        }
        c.threads("torch_threads", self.torch_threads);
        check_algo_relations(self, c);
        check_norm_clips(self, c);
        validate_algo(&self.algo, c);
    }
}

/// `env.*` and the batch shape: num_envs × rollout_len must fit, and hold every minibatch.
fn check_env_and_batch(cfg: &NpgConfig, c: &mut Checker) {
    let known = ENV_IDS.iter().any(|(id, _)| *id == cfg.env.id);
    let ids: Vec<&str> = ENV_IDS.iter().map(|(id, _)| *id).collect();
    c.check(
        "env.id",
        known,
        format!("unknown environment; known: {}", ids.join(", ")),
    );
    if let Some(cap) = cfg.env.max_episode_steps {
        c.at_least("env.max_episode_steps", cap, 1);
    }
    c.at_least("total_steps", cfg.total_steps, 1);
    c.at_least("num_envs", cfg.num_envs, 1);
    c.at_least("rollout_len", cfg.rollout_len, 1);
    c.at_least("minibatches", cfg.minibatches, 1);
    let fits = cfg.num_envs.checked_mul(cfg.rollout_len).is_some();
    c.relation(
        "num_envs",
        &["rollout_len"],
        fits,
        format!(
            "num_envs × rollout_len = {} × {} does not fit in 64 bits",
            cfg.num_envs, cfg.rollout_len
        ),
    );
    if fits && cfg.batch_size() > 0 {
        c.relation(
            "minibatches",
            &["num_envs", "rollout_len"],
            cfg.minibatches <= cfg.batch_size(),
            format!(
                "cannot exceed num_envs × rollout_len = {} × {} = {}, got {}",
                cfg.num_envs,
                cfg.rollout_len,
                cfg.batch_size(),
                cfg.minibatches
            ),
        );
    }
}

/// Epochs, discounts, coefficients, network widths, the critic and the normalisers' clips.
fn check_coefficients(cfg: &NpgConfig, c: &mut Checker) {
    c.at_least("epochs", cfg.epochs, 1);
    c.check(
        "gamma",
        (0.0..=1.0).contains(&cfg.gamma),
        "must be in [0, 1]",
    );
    c.check(
        "gae_lambda",
        (0.0..=1.0).contains(&cfg.gae_lambda),
        "must be in [0, 1]",
    );
    c.check(
        "ent_coef",
        cfg.ent_coef.is_finite() && cfg.ent_coef >= 0.0,
        "must be >= 0",
    );
    c.check(
        "hidden",
        cfg.hidden.iter().all(|&h| h > 0),
        "widths must be >= 1",
    );
    c.check(
        "critic.hidden",
        cfg.critic.hidden.iter().all(|&h| h > 0),
        "widths must be >= 1",
    );
    c.positive("critic.lr", cfg.critic.lr);
    c.at_least("critic.epochs", cfg.critic.epochs, 1);
    c.positive("critic.max_grad_norm", cfg.critic.max_grad_norm);
    c.positive("obs_norm.clip", cfg.obs_norm.clip);
    c.positive("reward_norm.clip", cfg.reward_norm.clip);
}

/// Evaluation episodes, whose seeds must fit in 64 bits.
fn check_eval_seeds(cfg: &NpgConfig, c: &mut Checker) {
    c.at_least("eval.episodes", cfg.eval.episodes, 1);
    // Evaluation episode k is seeded `seed + eval.seed_offset + k`; a sum past 2^64 would
    // wrap onto other seeds (the training envs' among them).
    let last_eval_seed = (cfg.seed)
        .checked_add(cfg.eval.seed_offset)
        .and_then(|s| s.checked_add(cfg.eval.episodes as u64));
    c.relation(
        "eval.seed_offset",
        &["seed", "eval.episodes"],
        last_eval_seed.is_some(),
        format!(
            "evaluation seeds seed + eval.seed_offset + k (k < eval.episodes) must fit in \
             64 bits: {} + {} + {} overflows",
            cfg.seed, cfg.eval.seed_offset, cfg.eval.episodes
        ),
    );
}

/// Keys only some algorithms read: refused where `algo.kind` would ignore them.
fn check_algo_relations(cfg: &NpgConfig, c: &mut Checker) {
    c.relation(
        "cos_to_exact_every",
        &["algo.kind"],
        cfg.cos_to_exact_every == 0 || matches!(cfg.algo, Algo::Smac { .. }),
        "the exact-Fisher diagnostic compares against SMAC's direction: needs algo.kind = smac",
    );
    if let Algo::NpgCg { .. } | Algo::Trpo { .. } = cfg.algo {
        // The trust-region step is one full-batch CG solve on the plain surrogate (§3.4,
        // §3.5): both keys were silently ignored.
        c.relation(
            "epochs",
            &["algo.kind"],
            cfg.epochs == 1,
            format!(
                "must be 1 for algo.kind = {}: it makes one trust-region actor step per \
                 batch (the critic's passes are critic.epochs), got {}",
                cfg.algo.name(),
                cfg.epochs
            ),
        );
        c.relation(
            "ent_coef",
            &["algo.kind"],
            cfg.ent_coef == 0.0,
            format!(
                "must be 0 for algo.kind = {}: its surrogate has no entropy bonus \
                 (spec §3.4), got {}",
                cfg.algo.name(),
                cfg.ent_coef
            ),
        );
    }
}

/// A normaliser's `clip` changed from its default while that normaliser is off for the env:
/// it would be ignored, so it is refused naming the switch.
fn check_norm_clips(cfg: &NpgConfig, c: &mut Checker) {
    let default: Option<NpgConfig> = serde_yaml_ng::from_str(NpgConfig::DEFAULT_YAML).ok();
    let Some(default) = default else {
        return; // the embedded default always parses (tests/it/configs_valid.rs)
    };
    for (name, norm, default) in [
        ("obs_norm", &cfg.obs_norm, &default.obs_norm),
        ("reward_norm", &cfg.reward_norm, &default.reward_norm),
    ] {
        let why = match norm.enabled {
            Some(_) => format!("{name}.enabled is false"),
            None => format!(
                "{name}.enabled is null: off for the classic-control env {}",
                cfg.env.id
            ),
        };
        c.relation(
            &format!("{name}.clip"),
            &[&format!("{name}.enabled"), "env.id"],
            norm.on_for(&cfg.env.id) || norm.clip == default.clip,
            format!("is read only while the normaliser runs, and {why}; set {name}.enabled: true or remove the clip"),
        );
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
