//! Which actor update an algorithm id maps to (spec §1, §3).
use super::acktr::{Acktr, AcktrSettings};
use super::backend::Policy;
use super::config::{Algo, NpgConfig};
use super::optim_actor::{Objective, OptimActor, Optimiser};
use super::policy::{Adam, RmsProp};
use super::step::StepRule;
use super::trust_region::TrustRegion;
use super::update::{ActorUpdate, Preconditioner};
use anyhow::Result;

/// How the actor is updated: per minibatch (smac, pg, a2c, ppo, acktr) or once per batch
/// (npg-cg, trpo).
pub enum ActorMethod {
    Minibatch(ActorUpdate),
    TrustRegion(TrustRegion),
    Optimiser(OptimActor),
    Acktr(Box<Acktr>),
}

impl ActorMethod {
    /// The current actor learning rate, where the method has one.
    pub fn lr(&self) -> Option<f64> {
        match self {
            ActorMethod::Minibatch(u) => Some(u.actor_lr),
            ActorMethod::TrustRegion(_) => None,
            ActorMethod::Optimiser(o) => Some(o.lr()),
            ActorMethod::Acktr(k) => Some(k.settings.actor_lr),
        }
    }
}

pub fn actor_method<P: Policy>(cfg: &NpgConfig, actor: &P) -> Result<ActorMethod> {
    let n_params = actor.numel();
    let cg = |max_kl: &f64, cg_iters: &usize, cg_damping: &f64, tol: &f64, ls| TrustRegion {
        max_kl: *max_kl,
        cg_iters: *cg_iters,
        cg_damping: *cg_damping,
        cg_residual_tol: *tol,
        line_search: ls,
    };
    match &cfg.algo {
        Algo::NpgCg {
            max_kl,
            cg_iters,
            cg_damping,
            cg_residual_tol,
        } => {
            return Ok(ActorMethod::TrustRegion(cg(
                max_kl,
                cg_iters,
                cg_damping,
                cg_residual_tol,
                None,
            )))
        }
        Algo::Trpo {
            max_kl,
            cg_iters,
            cg_damping,
            cg_residual_tol,
            ls_shrink,
            ls_max_iter,
        } => {
            let ls = Some((*ls_shrink, *ls_max_iter));
            return Ok(ActorMethod::TrustRegion(cg(
                max_kl,
                cg_iters,
                cg_damping,
                cg_residual_tol,
                ls,
            )));
        }
        Algo::A2c {
            actor_lr,
            rms_decay,
            rms_eps,
            max_grad_norm,
        } => {
            return Ok(ActorMethod::Optimiser(OptimActor {
                objective: Objective::Surrogate,
                optimiser: Optimiser::RmsProp(RmsProp::new(
                    n_params, *actor_lr, *rms_decay, *rms_eps,
                )),
                base_lr: *actor_lr,
                anneal_lr: false,
                max_grad_norm: *max_grad_norm,
                ent_coef: cfg.ent_coef,
            }))
        }
        Algo::Ppo {
            actor_lr,
            anneal_lr,
            clip_coef,
            max_grad_norm,
        } => {
            return Ok(ActorMethod::Optimiser(OptimActor {
                objective: Objective::Clipped { clip: *clip_coef },
                optimiser: Optimiser::Adam(Adam::new(n_params, *actor_lr)),
                base_lr: *actor_lr,
                anneal_lr: *anneal_lr,
                max_grad_norm: *max_grad_norm,
                ent_coef: cfg.ent_coef,
            }))
        }
        Algo::Acktr {
            actor_lr,
            momentum,
            stat_decay,
            kl_clip,
            damping,
            damping_scheme,
            inverse_every,
            stats_every,
        } => {
            let settings = AcktrSettings {
                actor_lr: *actor_lr,
                momentum: *momentum,
                stat_decay: *stat_decay,
                kl_clip: *kl_clip,
                damping: *damping,
                damping_scheme: *damping_scheme,
                inverse_every: *inverse_every,
                stats_every: *stats_every,
                ent_coef: cfg.ent_coef,
            };
            let sizes = actor.mlp_sizes();
            let acktr = Acktr::new(settings, &sizes, actor.log_std_len());
            return Ok(ActorMethod::Acktr(Box::new(acktr)));
        }
        _ => {}
    }
    actor_update(cfg, n_params).map(ActorMethod::Minibatch)
}

fn actor_update(cfg: &NpgConfig, n_params: usize) -> Result<ActorUpdate> {
    let (pre, rule, actor_lr, max_update_norm) = match &cfg.algo {
        Algo::Smac {
            damping,
            score_sample,
            step_rule,
            actor_lr,
            max_update_norm,
        } => (
            Preconditioner::Rank1 {
                damping: *damping,
                score: *score_sample,
            },
            step_rule.clone(),
            *actor_lr,
            *max_update_norm,
        ),
        Algo::Pg {
            step_rule,
            actor_lr,
            max_update_norm,
        } => (
            Preconditioner::Identity,
            step_rule.clone(),
            *actor_lr,
            *max_update_norm,
        ),
        Algo::NpgExact {
            damping,
            step_rule,
            actor_lr,
            max_update_norm,
            max_params,
        } => (
            Preconditioner::Exact {
                damping: *damping,
                max_params: *max_params,
            },
            step_rule.clone(),
            *actor_lr,
            *max_update_norm,
        ),
        other => {
            return Err(crate::error::usage(format!(
                "`{}` is not implemented yet",
                other.name()
            )))
        }
    };
    Ok(ActorUpdate {
        adam: (rule == StepRule::Adam {}).then(|| Adam::new(n_params, actor_lr)),
        pre,
        rule,
        actor_lr,
        max_update_norm,
        ent_coef: cfg.ent_coef,
    })
}
