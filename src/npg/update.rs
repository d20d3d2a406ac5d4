//! One minibatch update (spec §1.9 step 3): the SMAC or PG actor step and the critic's Adam
//! step. `g` and `u` are taken at the same θ, before the step (§1.3).
use super::backend::{Policy, ValueFn};
use super::config::ScoreSample;
use super::exact::{ExactNatural, FisherLimit};
use super::optim_actor::Objective;
use super::policy::optim::clip_grad_norm;
use super::policy::Adam;
use super::rank1::{dot, norm, sherman_morrison_direction};
use super::step::{clip_update, step_size, StepRule};
use anyhow::{anyhow, Result};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tch::Tensor;

/// A minibatch as tensors (the `torch` backend's batch).
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
    /// ACKTR left θ unchanged: its statistics or step were not finite (see `Acktr::step`).
    pub skipped: bool,
}

/// The score `u` chosen by `score_sample` (§1.3 table).
fn score<P: Policy>(
    actor: &P,
    mb: &P::Batch,
    how: ScoreSample,
    g: &[f64],
    rng: &mut ChaCha8Rng,
) -> Vec<f64> {
    match how {
        ScoreSample::Random => actor.score(mb, Some(rng.gen_range(0..P::rows(mb)))),
        ScoreSample::First => actor.score(mb, Some(0)),
        ScoreSample::Mean => actor.score(mb, None),
        ScoreSample::Grad => g.to_vec(),
        ScoreSample::None => vec![0.0; g.len()],
    }
}

/// One actor step; returns the logged internals.
pub fn actor_step<P: Policy>(
    actor: &mut P,
    mb: &P::Batch,
    upd: &mut ActorUpdate,
    rng: &mut ChaCha8Rng,
    exact: Option<&ExactNatural>,
) -> Result<ActorStats> {
    // `g = ∇ mean(Â·ρ) + ent_coef·∇ mean(H)`, ρ = π/π_old (= 1 on the first epoch, §1.8).
    let g = actor
        .objective_grad(mb, Objective::Surrogate, upd.ent_coef)
        .0;
    let mut stats = ActorStats {
        g_norm: norm(&g),
        ..ActorStats::default()
    };
    let (d, g_dot_d, d_norm) = match &upd.pre {
        Preconditioner::Rank1 {
            damping,
            score: how,
        } => {
            let u = score(&*actor, mb, *how, &g, rng);
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
            let limit = FisherLimit {
                key: "algo.max_params",
                max_params: *max_params,
            };
            let d = ExactNatural::of(&*actor, mb, *damping, limit)?.direction(&g)?;
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
        actor.add_flat(&delta)?;
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
    actor.add_flat(&delta)?;
    Ok(stats)
}

/// TRPO-style backtracking along `d` on the minibatch (§1.5 `linesearch`): the first
/// `ζʲ·step` whose empirical KL from the current policy is below `max_kl` and whose
/// surrogate `mean(Â·ρ)` beats the current one is kept; returns the step taken (0 if none).
fn line_search<P: Policy>(
    actor: &mut P,
    mb: &P::Batch,
    d: &[f64],
    step: f64,
    (shrink, tries): (f64, usize),
    max_kl: f64,
) -> Result<f64> {
    let snapshot = actor.snapshot(mb);
    let (theta, before) = (actor.flat(), actor.surrogate(mb));
    for j in 0..tries {
        let s = step * shrink.powi(super::trust_region::exponent(j));
        let candidate: Vec<f64> = theta.iter().zip(d).map(|(t, x)| t + s * x).collect();
        actor.set_flat(&candidate)?;
        if actor.mean_kl(&snapshot, mb) < max_kl && actor.surrogate(mb) > before {
            return Ok(s);
        }
        if s == 0.0 {
            break; // θ itself: no later try differs (see `trust_region_step`)
        }
    }
    actor.set_flat(&theta)?;
    Ok(0.0)
}

/// One Adam step on the value loss with global gradient-norm clipping (§1.7).
pub fn critic_step<C: ValueFn>(
    critic: &mut C,
    adam: &mut Adam,
    mb: &C::Batch,
    max_grad_norm: f64,
) -> Result<()> {
    let mut grad = critic.loss_grad(mb);
    clip_grad_norm(&mut grad, max_grad_norm);
    let delta = adam.delta(&grad);
    critic.add_flat(&delta)
}
