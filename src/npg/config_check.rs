//! Range checks of `lab npg-rank1`'s config (`Validate for NpgConfig`): every key with a range,
//! each error naming its key; the per-algorithm ranges follow the `algo.kind` variant.
use super::config::{Algo, NpgConfig};
use super::step::StepRule;
use crate::config::{Checker, Validate};
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
        c.threads("torch_threads", self.torch_threads);
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
