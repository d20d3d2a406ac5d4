//! Maximum-likelihood training of a [`LanguageModel`], the loop every paper reuses.
//!
//! One [`train_step`]: reseed torch's generator from (run seed, step) so dropout masks depend
//! only on the step; for each of `k` micro-batches run the model and back-propagate `loss / k`
//! (gradients add up); set the scheduled learning rate; one optimizer step (which clips the
//! global gradient norm when its config says so); zero the gradients. Batches come from the
//! caller's seeded RNG (`data::batch`), so a run restored from a checkpoint (weights, optimizer
//! state, RNG, step) continues bit-exactly on the CPU.
use super::checkpoint::seed_torch_for_step;
use super::loss::{masked_cross_entropy, Aggregation, EvalLoss};
use super::model::{Input, LanguageModel};
use crate::optim::{LrSchedule, Optimizer};
use anyhow::{bail, Result};
use tch::{Kind, Tensor};

/// Inputs and targets `(B, T)` i64, and optionally which targets count `(B, T)` (bool or
/// float weights; tokens outside it get no gradient). No mask: every target counts.
pub struct Batch {
    pub inputs: Tensor,
    pub targets: Tensor,
    pub mask: Option<Tensor>,
}

impl Batch {
    pub fn new(inputs: Tensor, targets: Tensor) -> Batch {
        Batch {
            inputs,
            targets,
            mask: None,
        }
    }
}

/// Mean token cross-entropy of `batch` (nats, with gradient). Without a mask this is one fused
/// `cross_entropy` call; with one, the masked token mean of `nn::loss`.
pub fn batch_loss(model: &dyn LanguageModel, batch: &Batch, train: bool) -> Result<Tensor> {
    if batch.inputs.size() != batch.targets.size() {
        bail!(
            "inputs {:?} and targets {:?} differ in shape",
            batch.inputs.size(),
            batch.targets.size()
        );
    }
    let logits = model.forward(&Input::new(&batch.inputs), train)?; // (B, T, V)
    match &batch.mask {
        None => {
            let v = model.vocab_size();
            // aten's cross_entropy keeps the logits' dtype (tch's `cross_entropy_for_logits`
            // computes in f32).
            Ok(logits.view([-1, v]).cross_entropy_loss::<Tensor>(
                &batch.targets.view([-1]),
                None,
                tch::Reduction::Mean,
                -100,
                0.0,
            ))
        }
        Some(m) => masked_cross_entropy(&logits, &batch.targets, m, Aggregation::TokenMean),
    }
}

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepReport {
    /// The step just taken (0-based).
    pub step: u64,
    /// Mean of the micro-batch losses (nats per token).
    pub loss: f64,
    /// The learning rate used (base × schedule; groups scale it by their `lr_mult`).
    pub lr: f64,
    /// Global gradient norm before clipping, when the optimizer clips.
    pub grad_norm: Option<f64>,
}

/// How steps are scheduled and seeded.
pub struct StepPlan<'a> {
    pub base_lr: f64,
    pub schedule: &'a LrSchedule,
    /// The run's seed (torch's generator is reseeded from it and the step).
    pub seed: u64,
}

/// One optimizer step over the micro-batches `micro` (module doc).
pub fn train_step(
    model: &dyn LanguageModel,
    opt: &mut dyn Optimizer,
    plan: &StepPlan,
    micro: &[Batch],
) -> Result<StepReport> {
    if micro.is_empty() {
        bail!("a training step needs at least one micro-batch");
    }
    let step = opt.steps_done();
    seed_torch_for_step(plan.seed, step);
    let k = micro.len() as f64;
    let mut total = 0.0;
    for batch in micro {
        let loss = batch_loss(model, batch, true)?;
        let value = loss.double_value(&[]);
        if !value.is_finite() {
            bail!("the training loss is {value} at step {step}; lower the learning rate or check the data");
        }
        total += value;
        (loss / k).backward();
    }
    let lr = plan.schedule.lr_at(plan.base_lr, step);
    opt.set_lr(lr);
    let info = opt.step()?;
    opt.zero_grad();
    Ok(StepReport {
        step,
        loss: total / k,
        lr,
        grad_norm: info.grad_norm,
    })
}

/// Summed loss over evaluation batches `(inputs, targets)` (no gradient, dropout off).
pub fn evaluate(
    model: &dyn LanguageModel,
    batches: impl IntoIterator<Item = (Tensor, Tensor)>,
) -> Result<EvalLoss> {
    let mut total = EvalLoss::default();
    tch::no_grad(|| -> Result<()> {
        for (inputs, targets) in batches {
            let logits = model.forward(&Input::new(&inputs), false)?;
            let mask = targets.ones_like().to_kind(Kind::Bool);
            total.add(EvalLoss::of(&logits, &targets, &mask)?);
        }
        Ok(())
    })?;
    Ok(total)
}
