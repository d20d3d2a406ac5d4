//! Per-token statistics of a [`TrainBatch`] under a model, from one forward pass: the
//! log-probability of each target, the entropy of each next-token distribution, and the
//! logits themselves (for an exact KL or an entropy bonus).
use super::batch::{train_batch, TrainBatch};
use crate::nn::loss::entropy_of_logits;
use crate::nn::LanguageModel;
use anyhow::{bail, Result};
use tch::{Kind, Tensor};

/// What [`token_logprobs`] returns. `logp` carries the autograd graph (when run with grad);
/// it is 0 at pad positions. Read it only where a mask says so.
#[derive(Debug)]
pub struct TokenStats {
    /// `(R, T)` `log π(target | inputs ≤ t)` in the model's dtype.
    pub logp: Tensor,
    /// `(R, T)` entropy (nats) of each next-token distribution, detached (logged only; for an
    /// entropy bonus use `nn::loss::entropy_of_logits(&logits)`).
    pub entropy: Tensor,
    /// `(R, T, V)` logits.
    pub logits: Tensor,
}

/// Run `model` on the batch (dropout on when `train`) and gather the target log-probs.
pub fn token_logprobs(
    model: &dyn LanguageModel,
    b: &TrainBatch,
    train: bool,
) -> Result<TokenStats> {
    check_ids(model.vocab_size(), b)?;
    let logits = model.forward(&b.input(), train)?; // (R, T, V)
    stats_from_logits(logits, b)
}

/// The same statistics from given logits `(R, T, V)` (e.g. a leaf copy in a gradient test).
pub fn stats_from_logits(logits: Tensor, b: &TrainBatch) -> Result<TokenStats> {
    let (r, t) = b.shape();
    let size = logits.size();
    if size.len() != 3 || size[..2] != [r, t] {
        bail!("logits must be ({r}, {t}, V), got {size:?}");
    }
    let lp = logits.log_softmax(-1, logits.kind()); // (R, T, V)
    let logp = lp
        .gather(-1, &b.targets.unsqueeze(-1), false)
        .squeeze_dim(-1); // (R, T)
    let logp = logp.where_self(&b.pad_mask, &logp.zeros_like());
    let entropy = tch::no_grad(|| entropy_of_logits(&logits));
    Ok(TokenStats {
        logp,
        entropy,
        logits,
    })
}

/// Ids inside the model's vocabulary (libtorch would abort on an out-of-range embedding).
fn check_ids(vocab: i64, b: &TrainBatch) -> Result<()> {
    for (what, t) in [("input", &b.inputs), ("target", &b.targets)] {
        let (lo, hi) = (t.min().int64_value(&[]), t.max().int64_value(&[]));
        if lo < 0 || hi >= vocab {
            bail!("{what} ids must be in [0, {vocab}), got [{lo}, {hi}]");
        }
    }
    Ok(())
}

/// `(R, T)` exact `KL(π_θ ‖ π_ref)` of each next-token distribution, `Σ_v p (log p − log q)`,
/// with `logits` the policy's (gradient flows through them) and the reference run here
/// without gradient. Unmasked: multiply by the mask you need.
pub fn exact_kl_to(
    ref_model: &dyn LanguageModel,
    b: &TrainBatch,
    logits: &Tensor,
) -> Result<Tensor> {
    let ref_logits = tch::no_grad(|| ref_model.forward(&b.input(), false))?; // (R, T, V)
    if ref_logits.size() != logits.size() {
        bail!(
            "reference logits {:?} and policy logits {:?} differ in shape",
            ref_logits.size(),
            logits.size()
        );
    }
    let kind = logits.kind();
    let logp = logits.log_softmax(-1, kind);
    let logq = ref_logits.to_kind(kind).log_softmax(-1, kind);
    Ok((logp.exp() * (&logp - logq)).sum_dim_intlist(-1, false, kind))
}

/// Log-probabilities (f64, untempered) of each row's completion given its context under
/// `model`, without gradient, `max_rows` rows per forward pass: the behaviour log-probs of
/// stored traces, or a check of a sampler's numbers.
pub fn model_logprobs_of_completions(
    model: &dyn LanguageModel,
    rows: &[(Vec<i64>, Vec<i64>)],
    pad: i64,
    max_rows: usize,
) -> Result<Vec<Vec<f64>>> {
    if max_rows == 0 {
        bail!("max_rows must be >= 1");
    }
    let device = model.var_store().device();
    let mut out = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(max_rows) {
        let b = train_batch(chunk, pad, device)?;
        let stats = tch::no_grad(|| token_logprobs(model, &b, false))?;
        out.extend(b.completion_values(&stats.logp.to_kind(Kind::Double))?);
    }
    Ok(out)
}
