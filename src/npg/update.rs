//! One minibatch update (spec §1.9 step 3): the SMAC or PG actor step and the critic's Adam
//! step. `g` and `u` are taken at the same θ, before the step (§1.3).
use super::config::ScoreSample;
use super::exact::ExactNatural;
use super::rank1::{dot, norm, sherman_morrison_direction};
use super::step::{clip_update, step_size, StepRule};
use crate::nn::optim::clip_grad_norm;
use crate::nn::{Actor, Adam, Critic};
use anyhow::{anyhow, Result};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tch::{Kind, Tensor};

/// A minibatch as tensors.
pub struct Minibatch {
    pub obs: Tensor,
    pub actions: Tensor,
    pub old_logp: Tensor,
    /// Advantages, already normalised if enabled.
    pub adv: Tensor,
    pub returns: Tensor,
    pub size: usize,
}

/// How the actor's ascent direction is preconditioned.
pub enum Preconditioner {
    /// SMAC: `d = (λI + uuᵀ)⁻¹ g`.
    Rank1 { damping: f64, score: ScoreSample },
    /// PG: `d = g`.
    Identity,
    /// npg-exact: `d = (F_B + λI)⁻¹ g` with the exact Fisher of the minibatch.
    Exact { damping: f64, max_params: usize },
}

/// Everything the actor step needs besides the network and the minibatch.
pub struct ActorUpdate {
    pub pre: Preconditioner,
    pub rule: StepRule,
    pub actor_lr: f64,
    pub max_update_norm: f64,
    pub ent_coef: f64,
    /// State of the `adam` step rule (−d fed to Adam as the loss gradient).
    pub adam: Option<Adam>,
}

/// The logged internals of one actor step (§6.4); `None` where not applicable.
#[derive(Clone, Debug, Default)]
pub struct ActorStats {
    pub g_norm: f64,
    pub u_norm_sq: Option<f64>,
    pub u_logstd_sq: Option<f64>,
    pub u_dot_g: Option<f64>,
    pub cos_ug: Option<f64>,
    pub sm_c: Option<f64>,
    pub d_norm: Option<f64>,
    pub g_dot_d: Option<f64>,
    /// §3.8 diagnostic, only on diagnostic iterations.
    pub cos_to_exact: Option<f64>,
    pub step_size: f64,
    pub update_norm: f64,
    pub clipped: bool,
}

/// `g = ∇ mean(Â·ρ) + ent_coef·∇ mean(H)`, ρ = π/π_old (= 1 on the first epoch, §1.8).
fn policy_gradient(actor: &Actor, mb: &Minibatch, ent_coef: f64) -> Vec<f64> {
    // One forward pass; the entropy term only when it is used.
    let (logp, entropy) = if ent_coef > 0.0 {
        let (l, h) = actor.log_prob_entropy(&mb.obs, &mb.actions);
        (l, Some(h))
    } else {
        (actor.log_prob(&mb.obs, &mb.actions), None)
    };
    let ratio = (logp - &mb.old_logp).exp();
    let mut objective = (ratio * &mb.adv).mean(Kind::Double);
    if let Some(h) = entropy {
        objective += h.mean(Kind::Double) * ent_coef;
    }
    actor.params.grad(&objective)
}

/// The score `u` chosen by `score_sample` (§1.3 table).
fn score(
    actor: &Actor,
    mb: &Minibatch,
    how: ScoreSample,
    g: &[f64],
    rng: &mut ChaCha8Rng,
) -> Vec<f64> {
    let one = |j: i64| {
        let logp = actor.log_prob(&mb.obs.narrow(0, j, 1), &mb.actions.narrow(0, j, 1));
        actor.params.grad(&logp.sum(Kind::Double))
    };
    match how {
        ScoreSample::Random => one(rng.gen_range(0..mb.size) as i64),
        ScoreSample::First => one(0),
        ScoreSample::Mean => actor
            .params
            .grad(&actor.log_prob(&mb.obs, &mb.actions).mean(Kind::Double)),
        ScoreSample::Grad => g.to_vec(),
        ScoreSample::None => vec![0.0; g.len()],
    }
}

/// One actor step; returns the logged internals.
pub fn actor_step(
    actor: &Actor,
    mb: &Minibatch,
    upd: &mut ActorUpdate,
    rng: &mut ChaCha8Rng,
    exact: Option<&ExactNatural>,
) -> Result<ActorStats> {
    let g = policy_gradient(actor, mb, upd.ent_coef);
    let mut stats = ActorStats {
        g_norm: norm(&g),
        ..ActorStats::default()
    };
    let (d, g_dot_d, d_norm) = match &upd.pre {
        Preconditioner::Rank1 {
            damping,
            score: how,
        } => {
            let u = score(actor, mb, *how, &g, rng);
            let dir = sherman_morrison_direction(&g, &u, *damping);
            let ls = actor.log_std_len();
            stats.u_norm_sq = Some(dir.u_norm_sq);
            stats.u_logstd_sq = (ls > 0).then(|| dot(&u[u.len() - ls..], &u[u.len() - ls..]));
            stats.u_dot_g = Some(dir.u_dot_g);
            let denom = dir.u_norm_sq.sqrt() * stats.g_norm;
            stats.cos_ug = Some(if denom > 0.0 {
                dir.u_dot_g / denom
            } else {
                0.0
            });
            stats.sm_c = Some(dir.c);
            stats.d_norm = Some(dir.d_norm);
            stats.g_dot_d = Some(dir.g_dot_d);
            if let Some(ex) = exact {
                stats.cos_to_exact = Some(ex.cosine(&g, &dir.d)?);
            }
            (dir.d, dir.g_dot_d, dir.d_norm)
        }
        Preconditioner::Identity => {
            let gg = dot(&g, &g);
            (g, gg, gg.sqrt())
        }
        Preconditioner::Exact {
            damping,
            max_params,
        } => {
            let d = ExactNatural::new(actor, &mb.obs, *damping, *max_params)?.direction(&g)?;
            let g_dot_d = dot(&g, &d);
            let d_norm = norm(&d);
            (stats.d_norm, stats.g_dot_d) = (Some(d_norm), Some(g_dot_d));
            (d, g_dot_d, d_norm)
        }
    };
    if let Some(adam) = &mut upd.adam {
        // `adam` step rule ([D] ablation): Adam on the loss gradient −d, then the safety clip.
        let minus_d: Vec<f64> = d.iter().map(|x| -x).collect();
        let mut delta = adam.delta(&minus_d);
        stats.clipped = clip_update(&mut delta, upd.max_update_norm);
        (stats.step_size, stats.update_norm) = (adam.lr, norm(&delta));
        actor.params.add_flat(&delta)?;
        return Ok(stats);
    }
    let step = step_size(&upd.rule, upd.actor_lr, g_dot_d)
        .ok_or_else(|| anyhow!("internal: step rule without a closed form reached the update"))?;
    // Safety clip on ‖Δθ‖ (§1.5) folded into the scale: one pass builds Δθ.
    stats.clipped = step * d_norm > upd.max_update_norm;
    let scale = if stats.clipped {
        upd.max_update_norm / d_norm
    } else {
        step
    };
    stats.step_size = step;
    stats.update_norm = scale * d_norm;
    if let StepRule::Linesearch {
        max_kl,
        ls_shrink,
        ls_max_iter,
        ..
    } = upd.rule
    {
        let taken = line_search(actor, mb, &d, scale, (ls_shrink, ls_max_iter), max_kl)?;
        stats.update_norm = taken * d_norm;
        stats.step_size = taken;
        return Ok(stats);
    }
    let delta: Vec<f64> = d.iter().map(|x| scale * x).collect();
    actor.params.add_flat(&delta)?;
    Ok(stats)
}

/// TRPO-style backtracking along `d` on the minibatch (§1.5 `linesearch`): the first
/// `ζʲ·step` whose empirical KL from the current policy is below `max_kl` and whose
/// surrogate `mean(Â·ρ)` beats the current one is kept; returns the step taken (0 if none).
fn line_search(
    actor: &Actor,
    mb: &Minibatch,
    d: &[f64],
    step: f64,
    (shrink, tries): (f64, usize),
    max_kl: f64,
) -> Result<f64> {
    let surrogate = || {
        tch::no_grad(|| {
            let ratio = (actor.log_prob(&mb.obs, &mb.actions) - &mb.old_logp).exp();
            (ratio * &mb.adv).mean(Kind::Double).double_value(&[])
        })
    };
    let snapshot = actor.snapshot(&mb.obs);
    let (theta, before) = (actor.params.flat(), surrogate());
    for j in 0..tries {
        let s = step * shrink.powi(j as i32);
        let candidate: Vec<f64> = theta.iter().zip(d).map(|(t, x)| t + s * x).collect();
        actor.params.set_flat(&candidate)?;
        let kl = tch::no_grad(|| actor.mean_kl(&snapshot, &mb.obs).double_value(&[]));
        if kl < max_kl && surrogate() > before {
            return Ok(s);
        }
    }
    actor.params.set_flat(&theta)?;
    Ok(0.0)
}

/// `½ mean (V(s) − R)²`.
pub fn value_loss(critic: &Critic, obs: &Tensor, returns: &Tensor) -> Tensor {
    (critic.values(obs) - returns).square().mean(Kind::Double) * 0.5
}

/// One Adam step on the value loss with global gradient-norm clipping (§1.7).
pub fn critic_step(
    critic: &Critic,
    adam: &mut Adam,
    mb: &Minibatch,
    max_grad_norm: f64,
) -> Result<()> {
    let mut grad = critic
        .params
        .grad(&value_loss(critic, &mb.obs, &mb.returns));
    clip_grad_norm(&mut grad, max_grad_norm);
    let delta = adam.delta(&grad);
    critic.params.add_flat(&delta)
}
