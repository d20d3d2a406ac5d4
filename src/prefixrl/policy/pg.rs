//! The policy-gradient loss of §2.4 on a [`TrainBatch`] and one optimizer step.
//!
//! ```text
//! L(θ) = −(1/Z) Σ_rows Σ_{t ∈ completion} A_row · s_t          (§2.4)
//! ```
//! with `s_t = log π_θ(z_t | ·)` (REINFORCE; on-policy, the PPO ratio is 1), or `c_t·log π`
//! with a constant per-token coefficient `c` (an IS weight or a shaping factor gives the same
//! gradient as its differentiable form: `∇ sg(w)·log π = w ∇log π = ∇ w`), or any per-token
//! loss a closure builds (PPO clip, LUFFY, in `algo`). Every term outside `completion_mask`
//! is exactly 0 (so are its gradients), whatever the logits or targets there. `Z` is given by
//! the caller (the aggregation modes live in `algo`), by default the batch's completion tokens
//! (token mean, §2.8).
use super::batch::TrainBatch;
use super::logprob::{token_logprobs, TokenStats};
use super::sft::clipped_step;
use crate::error::usage;
use crate::nn::LanguageModel;
use crate::optim::{AdamW, AdamWConfig, Optimizer};
use anyhow::{bail, Result};
use tch::{Kind, Tensor};

/// A closure's per-token loss `(R, T)` from the statistics and the advantages `(R, T)`.
pub type TokenLossFn<'a> = &'a dyn Fn(&TokenStats, &Tensor) -> Result<Tensor>;

/// How each completion token's term is formed (module doc).
#[derive(Clone, Copy)]
pub enum Surrogate<'a> {
    /// `−A · log π`.
    Reinforce,
    /// `−A · c · log π` with `c` `(R, T)` detached (IS weights, shaping factors).
    Scaled(&'a Tensor),
    /// The closure's per-token loss (it includes the sign and the advantages).
    Custom(TokenLossFn<'a>),
}

/// `(R, T)` per-token loss in `logp`'s dtype, exactly 0 outside `completion_mask`.
pub fn pg_token_loss(
    stats: &TokenStats,
    b: &TrainBatch,
    advantages: &[f64],
    surrogate: Surrogate,
) -> Result<Tensor> {
    let kind = stats.logp.kind();
    let adv = b.broadcast_rows(advantages)?.to_kind(kind); // (R, T)
    let per_token = match surrogate {
        Surrogate::Reinforce => -(&adv * &stats.logp),
        Surrogate::Scaled(c) => {
            if c.size() != stats.logp.size() {
                bail!(
                    "per-token coefficients {:?} do not match the batch {:?}",
                    c.size(),
                    stats.logp.size()
                );
            }
            -(&adv * c.detach().to_kind(kind) * &stats.logp)
        }
        Surrogate::Custom(f) => {
            let l = f(stats, &adv)?;
            if l.size() != stats.logp.size() {
                bail!(
                    "a custom per-token loss is {:?}, the batch {:?}",
                    l.size(),
                    stats.logp.size()
                );
            }
            l.to_kind(kind)
        }
    };
    let keep = b.completion_mask.ne(0.0);
    Ok(per_token.where_self(&keep, &per_token.zeros_like()))
}

/// The scalar loss `Σ per-token / Z`; `normaliser` `Z` defaults to the completion tokens of
/// the batch (0 tokens: the loss is 0).
pub fn pg_loss(
    stats: &TokenStats,
    b: &TrainBatch,
    advantages: &[f64],
    surrogate: Surrogate,
    normaliser: Option<f64>,
) -> Result<Tensor> {
    let z = match normaliser {
        Some(z) if z.is_finite() && z > 0.0 => z,
        Some(z) => bail!("the loss normaliser must be > 0, got {z}"),
        None => b.completion_tokens().max(1) as f64,
    };
    let per_token = pg_token_loss(stats, b, advantages, surrogate)?;
    Ok(per_token.sum(per_token.kind()) / z)
}

/// What one [`pg_step`] did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PgReport {
    pub loss: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    pub lr: f64,
}

/// AdamW for RL (§7.3): betas (0.9, 0.95), no weight decay, grad-norm clip `grad_clip`.
pub fn policy_optimizer(
    model: &dyn LanguageModel,
    lr: f64,
    grad_clip: Option<f64>,
) -> Result<AdamW> {
    let cfg = AdamWConfig {
        lr,
        betas: [0.9, 0.95],
        weight_decay: 0.0,
        grad_clip,
        ..AdamWConfig::default()
    };
    AdamW::new(model.var_store(), &cfg)
}

/// Forward (no dropout), [`pg_loss`], backward, lr `lr`, one clipped AdamW step, zeroed
/// gradients. `opt` must have been built on `model`'s parameters.
pub fn pg_step(
    model: &dyn LanguageModel,
    opt: &mut AdamW,
    b: &TrainBatch,
    advantages: &[f64],
    surrogate: Surrogate,
    normaliser: Option<f64>,
    lr: f64,
) -> Result<PgReport> {
    if !(lr.is_finite() && lr >= 0.0) {
        return Err(usage(format!("the learning rate must be >= 0, got {lr}")));
    }
    let stats = token_logprobs(model, b, false)?;
    let loss = pg_loss(&stats, b, advantages, surrogate, normaliser)?;
    let value = loss.to_kind(Kind::Double).double_value(&[]);
    if !value.is_finite() {
        bail!("the policy-gradient loss is {value}; check the advantages and weights");
    }
    loss.backward();
    opt.set_lr(lr);
    let grad_norm = clipped_step(opt)?;
    Ok(PgReport {
        loss: value,
        grad_norm,
        lr,
    })
}
