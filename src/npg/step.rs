//! Step-size rules for a preconditioned direction `d` (spec §1.5) and the safety clip on
//! the applied parameter change (`max_update_norm`, [D]).
use super::rank1::norm;
use serde::{Deserialize, Serialize};

/// `step_rule` config key [A]: how far to move along `d`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum StepRule {
    /// `θ ← θ + α d` (default). (Fieldless variants are written `{}` so that
    /// `deny_unknown_fields` also refuses a stray key under them; serde ignores it on a unit
    /// variant of an internally tagged enum.)
    Fixed {},
    /// `θ ← θ + min(α_max, √(2δ / gᵀd)) d`.
    Npg { max_kl: f64, actor_lr_max: f64 },
    /// ACKTR-style `ν = min(1, √(δ_c / (α² gᵀd)))`, `θ ← θ + να d`.
    KlClip { kl_clip: f64 },
    /// `npg` then TRPO's backtracking line search (§3.5) on the minibatch: try `ζʲβ`,
    /// accept the first with empirical KL < δ and a better surrogate, else no step.
    Linesearch {
        max_kl: f64,
        actor_lr_max: f64,
        ls_shrink: f64,
        ls_max_iter: usize,
    },
    /// Feed `−d` to Adam as the loss gradient ([D] ablation).
    Adam {},
}

/// The scalar step along `d` (for `linesearch`, the first candidate); `None` for Adam.
pub fn step_size(rule: &StepRule, actor_lr: f64, g_dot_d: f64) -> Option<f64> {
    match rule {
        StepRule::Fixed {} => Some(actor_lr),
        StepRule::Npg {
            max_kl,
            actor_lr_max,
        } => Some(if g_dot_d > 0.0 {
            actor_lr_max.min((2.0 * max_kl / g_dot_d).sqrt())
        } else {
            *actor_lr_max
        }),
        StepRule::KlClip { kl_clip } => {
            let nu = crate::optim::kfac::kl_clip_scale(Some(*kl_clip), actor_lr, g_dot_d);
            Some(nu * actor_lr)
        }
        StepRule::Linesearch {
            max_kl,
            actor_lr_max,
            ..
        } => step_size(
            &StepRule::Npg {
                max_kl: *max_kl,
                actor_lr_max: *actor_lr_max,
            },
            actor_lr,
            g_dot_d,
        ),
        StepRule::Adam {} => None,
    }
}

/// Scale `delta` down to norm `max_norm` if it is longer; returns whether it was clipped.
pub fn clip_update(delta: &mut [f64], max_norm: f64) -> bool {
    let n = norm(delta);
    if n > max_norm && n > 0.0 {
        let s = max_norm / n;
        delta.iter_mut().for_each(|x| *x *= s);
        true
    } else {
        false
    }
}
