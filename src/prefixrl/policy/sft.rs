//! Next-token cross-entropy on (context, completion) rows: pretraining the base model (§7.4:
//! loss on the completion and `<eos>`, `prompt_loss_weight` on the prompt, lr 1e-3 cosine to
//! 1e-4, warmup 100, batch 64) and the SFT baseline (§3 row 3: trace tokens given the prompt).
//!
//! Loss of a step: `Σ ℓ_t w_t / Σ w_t` over all rows, `w = 1` on completion targets and
//! `prompt_loss_weight` on context targets (the first context token is never a target). Rows
//! go through the model `micro_rows` at a time; each part back-propagates its share of the
//! sum over the step's total weight, so micro-batching leaves the gradient unchanged. Then
//! the scheduled lr, one AdamW step (grad-norm clip inside) and zeroed gradients. Torch's
//! generator is reseeded from (seed, step) first (dropout), as in `nn::train`.
use super::batch::{train_batch, TrainBatch};
use super::logprob::token_logprobs;
use crate::error::usage;
use crate::nn::checkpoint::seed_torch_for_step;
use crate::nn::loss::weighted_nll;
use crate::nn::LanguageModel;
use crate::optim::{AdamW, AdamWConfig, LrSchedule, Optimizer};
use anyhow::{bail, Result};
use tch::{Kind, Tensor};

#[derive(Clone, Debug, PartialEq)]
pub struct SftConfig {
    /// Base lr, betas, decay, `grad_clip`.
    pub adamw: AdamWConfig,
    pub schedule: LrSchedule,
    /// Weight of context targets (0: completion tokens only).
    pub prompt_loss_weight: f64,
    /// Fills the left padding.
    pub pad: i64,
    /// Torch's generator is reseeded from (seed, step) before each step.
    pub seed: u64,
    /// Rows per forward/backward pass; 0 = all rows at once.
    pub micro_rows: usize,
}

impl SftConfig {
    /// §7.4 / §7.3: lr 1e-3, betas (0.9, 0.95), no weight decay, clip 1.0, warmup 100 then
    /// cosine to 1e-4 at `total_steps` (warmup `total_steps / 10` when `total_steps` ≤ 100).
    pub fn pretrain(total_steps: u64, pad: i64, seed: u64) -> Self {
        let warmup = if total_steps > 100 {
            100
        } else {
            total_steps / 10
        };
        SftConfig {
            adamw: AdamWConfig {
                lr: 1e-3,
                betas: [0.9, 0.95],
                weight_decay: 0.0,
                grad_clip: Some(1.0),
                ..AdamWConfig::default()
            },
            schedule: LrSchedule::WarmupCosine {
                warmup,
                total: total_steps.max(warmup + 1),
                lr_min: 1e-4,
            },
            prompt_loss_weight: 0.0,
            pad,
            seed,
            micro_rows: 0,
        }
    }

    pub fn validate(&self) -> Result<()> {
        self.adamw.validate()?;
        self.schedule.validate(self.adamw.lr)?;
        let w = self.prompt_loss_weight;
        if !(w.is_finite() && w >= 0.0) {
            return Err(usage(format!("prompt_loss_weight must be >= 0, got {w}")));
        }
        Ok(())
    }
}

/// What one [`SftTrainer::step`] did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SftReport {
    pub step: u64,
    /// Weighted mean cross-entropy (nats per weighted target).
    pub loss: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    pub lr: f64,
    /// Completion targets trained on.
    pub tokens: u64,
    /// Real input positions run through the model (the FLOPs count, §5.1).
    pub positions: u64,
}

/// `(R, T)` target weights: 1 on completion targets, `prompt_loss_weight` on context targets.
fn target_weights(b: &TrainBatch, prompt_loss_weight: f64) -> Tensor {
    if prompt_loss_weight == 0.0 {
        b.completion_mask.shallow_clone()
    } else {
        &b.completion_mask + b.context_target_mask() * prompt_loss_weight
    }
}

/// The step's total weight `Σ w` from the row lengths.
fn total_weight(rows: &[(Vec<i64>, Vec<i64>)], prompt_loss_weight: f64) -> f64 {
    rows.iter()
        .map(|(c, g)| g.len() as f64 + prompt_loss_weight * (c.len() as f64 - 1.0))
        .sum()
}

/// The weighted mean cross-entropy of a batch (scalar with gradient; 0 with no weight).
pub fn sft_loss(
    model: &dyn LanguageModel,
    b: &TrainBatch,
    prompt_loss_weight: f64,
    train: bool,
) -> Result<Tensor> {
    let (sum, weight) = weighted_sum(model, b, prompt_loss_weight, train)?;
    Ok(sum / weight.max(f64::MIN_POSITIVE))
}

/// `Σ ℓ w` (scalar with gradient) and `Σ w`.
fn weighted_sum(
    model: &dyn LanguageModel,
    b: &TrainBatch,
    prompt_loss_weight: f64,
    train: bool,
) -> Result<(Tensor, f64)> {
    let stats = token_logprobs(model, b, train)?;
    let w = target_weights(b, prompt_loss_weight); // (R, T)
    let (lw, w) = weighted_nll(&stats.logits, &b.targets, &w)?;
    Ok((lw.sum(lw.kind()), w.sum(Kind::Double).double_value(&[])))
}

/// AdamW over a model's parameters plus the step logic (module doc).
pub struct SftTrainer {
    opt: AdamW,
    cfg: SftConfig,
}

impl SftTrainer {
    /// An optimizer over `model`'s parameters; pass the same model to every [`Self::step`].
    pub fn new(model: &dyn LanguageModel, cfg: SftConfig) -> Result<Self> {
        cfg.validate()?;
        let opt = AdamW::new(model.var_store(), &cfg.adamw)?;
        Ok(SftTrainer { opt, cfg })
    }

    pub fn config(&self) -> &SftConfig {
        &self.cfg
    }

    /// The optimizer (state save / load for checkpoints).
    pub fn optimizer(&self) -> &AdamW {
        &self.opt
    }

    pub fn optimizer_mut(&mut self) -> &mut AdamW {
        &mut self.opt
    }

    /// One update on `rows` at schedule step `step` (0-based).
    pub fn step(
        &mut self,
        model: &dyn LanguageModel,
        rows: &[(Vec<i64>, Vec<i64>)],
        step: u64,
    ) -> Result<SftReport> {
        let plw = self.cfg.prompt_loss_weight;
        let total = total_weight(rows, plw);
        if total <= 0.0 {
            return Err(usage(
                "an SFT step needs at least one target token (all completions are empty)",
            ));
        }
        seed_torch_for_step(self.cfg.seed, step);
        let device = model.var_store().device();
        let micro = if self.cfg.micro_rows == 0 {
            rows.len()
        } else {
            self.cfg.micro_rows
        };
        let (mut loss, mut positions) = (0.0, 0);
        for chunk in rows.chunks(micro.max(1)) {
            let b = train_batch(chunk, self.cfg.pad, device)?;
            let (sum, _) = weighted_sum(model, &b, plw, true)?;
            let part = sum / total;
            let value = part.double_value(&[]);
            if !value.is_finite() {
                self.opt.zero_grad();
                bail!("the SFT loss is {value} at step {step}; lower the learning rate or check the data");
            }
            part.backward();
            loss += value;
            positions += b.real_positions() as u64;
        }
        let lr = self.cfg.schedule.lr_at(self.cfg.adamw.lr, step);
        self.opt.set_lr(lr);
        let grad_norm = clipped_step(&mut self.opt)?;
        Ok(SftReport {
            step,
            loss,
            grad_norm,
            lr,
            tokens: rows.iter().map(|(_, g)| g.len() as u64).sum(),
            positions,
        })
    }
}

/// One optimizer step from the accumulated gradients, then zero them; returns the global
/// gradient norm before clipping (read after the step when the optimizer does not clip: the
/// gradients are then unchanged).
pub(crate) fn clipped_step(opt: &mut AdamW) -> Result<f64> {
    let info = opt.step()?;
    let norm = match info.grad_norm {
        Some(n) => n,
        None => opt.grad_norm()?,
    };
    opt.zero_grad();
    Ok(norm)
}
