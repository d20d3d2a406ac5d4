//! The update of one step (§2.4, §2.8, §3): per-token losses by method, aggregated with
//! `rl.agg`, `rl.ppo_epochs` clipped AdamW steps, the exact KL to the base model and the
//! spread of micro-batch gradients (§5.2).
//!
//! Per-token loss of a completion token with advantage `A`:
//! * on-policy, one epoch: REINFORCE `−A·log π` (LUFFY: `ppo_clip` with ratio `exp(log π −
//!   sg log π)` = 1, the same gradient);
//! * on-policy, `ppo_epochs > 1`: `ppo_clip(exp(log π − log π_old), A, ε, ε)` against the
//!   sampling log-probs;
//! * off-policy (`offpolicy-is`): `−w·A`, `w = is_weights(log π, log μ)` (differentiable);
//! * off-policy (`luffy`): `−f(π)·A`, `f = luffy_shape(·, γ)`;
//!
//! plus `β·KL(π ‖ π_0)` per position when `rl.kl_beta > 0`.
//!
//! Micro-batches (`rl.micro_batches`) split the rows into contiguous chunks whose losses sum
//! exactly to the whole batch's under every aggregation mode (token and global: Σ/(all
//! completion tokens); seq: each chunk's seq-mean × its share of rows; const: Σ/(R·L_max);
//! const-verl: Σ/L_max), so the update is the same; `grad_var_micro` is then
//! `mean_k ‖K·g_k − ḡ‖²` with `g_k` chunk k's part of the gradient `ḡ = Σ g_k`.
use super::train_rollout::Batch;
use crate::nn::LanguageModel;
use crate::optim::{AdamW, Optimizer};
use crate::prefixrl::algo::{aggregate, is_weights, luffy_shape, ppo_clip, Agg, FlopsModel};
use crate::prefixrl::config::{Method, PrefixrlConfig};
use crate::prefixrl::policy::{
    exact_kl_to, pg_token_loss, token_logprobs, train_batch, Surrogate, TokenStats, TrainBatch,
};
use anyhow::{bail, Result};
use tch::{Kind, Tensor};

/// What [`update`] did (first epoch's loss, gradient and diagnostics).
#[derive(Clone, Debug, Default)]
pub struct UpdateReport {
    pub loss: f64,
    pub grad_norm: f64,
    pub lr: f64,
    pub grad_var_micro: Option<f64>,
    /// Mean exact KL to the base over completion positions (before the update).
    pub kl_mean: f64,
    /// mean / max / min importance ratio over off-policy tokens (off-policy methods).
    pub is_ratio: Option<(f64, f64, f64)>,
    pub tokens_trained: u64,
    pub train_flops: f64,
    pub diag_flops: f64,
}

/// Sums over the chunks of one epoch.
#[derive(Default)]
struct EpochSums {
    loss: f64,
    kl_sum: f64,
    is: Vec<f64>,
    parts: Vec<Tensor>,
}

/// `rl.ppo_epochs` optimizer steps on `batch` (module doc).
pub fn update(
    model: &dyn LanguageModel,
    base: &dyn LanguageModel,
    opt: &mut AdamW,
    batch: &Batch,
    cfg: &PrefixrlConfig,
    flops: &FlopsModel,
    pad: i64,
) -> Result<UpdateReport> {
    let rows = batch.rows.len();
    let tokens: i64 = batch.rows.iter().map(|(_, g)| g.len() as i64).sum();
    let longest = batch.rows.iter().map(|(_, g)| g.len()).max().unwrap_or(0);
    let l_max = longest.max(cfg.rl.max_new_tokens).max(1) as i64;
    let chunks = chunk_ranges(rows, cfg.rl.micro_batches);
    let want_parts = chunks.len() > 1;
    let mut report = UpdateReport {
        tokens_trained: tokens as u64 * cfg.rl.ppo_epochs as u64,
        lr: cfg.rl.lr,
        ..UpdateReport::default()
    };
    let seq_flops: f64 = batch
        .rows
        .iter()
        .map(|(c, g)| flops.training((c.len() + g.len()) as u64))
        .sum();
    for epoch in 0..cfg.rl.ppo_epochs {
        // A signal ends the run between epochs (the step is dropped: no row, no checkpoint),
        // so a large rl.ppo_epochs cannot hold a run past SIGTERM.
        if epoch > 0 && crate::run::interrupted() {
            return Err(crate::error::Interrupted.into());
        }
        let mut sums = EpochSums::default();
        let mut before = (want_parts && epoch == 0).then(|| flat_grads(model));
        for range in &chunks {
            let b = train_batch(&batch.rows[range.clone()], pad, device(model))?;
            let stats = token_logprobs(model, &b, false)?;
            let per_token = token_loss(&stats, &b, batch, range.start, cfg)?;
            let kl = if cfg.rl.kl_beta > 0.0 {
                exact_kl_to(base, &b, &stats.logits)? * &b.completion_mask
            } else {
                tch::no_grad(|| exact_kl_to(base, &b, &stats.logits.detach()))? * &b.completion_mask
            };
            report.diag_flops += seq_flops_of(batch, range, flops) / 3.0;
            sums.kl_sum += kl.sum(Kind::Double).double_value(&[]);
            let per_token = if cfg.rl.kl_beta > 0.0 {
                per_token + &kl * cfg.rl.kl_beta
            } else {
                per_token
            };
            let part = chunk_loss(&per_token, &b, cfg.rl.agg, rows, l_max, tokens)?;
            let value = part.to_kind(Kind::Double).double_value(&[]);
            if !value.is_finite() {
                opt.zero_grad();
                bail!("the policy-gradient loss is {value}; lower rl.lr or check the advantages");
            }
            part.backward();
            sums.loss += value;
            if epoch == 0 && is_off_policy_method(cfg.rl.method) {
                sums.is
                    .extend(off_policy_ratios(&stats, &b, batch, range.start, cfg)?);
            }
            if let Some(prev) = before.take() {
                let now = flat_grads(model);
                sums.parts.push(&now - prev);
                before = Some(now);
            }
        }
        opt.set_lr(cfg.rl.lr);
        let grad_norm = crate::prefixrl::policy::sft::clipped_step(opt)?;
        report.train_flops += seq_flops;
        if epoch == 0 {
            report.loss = sums.loss;
            report.grad_norm = grad_norm;
            report.kl_mean = sums.kl_sum / tokens.max(1) as f64;
            report.grad_var_micro = want_parts.then(|| spread(&sums.parts));
            report.is_ratio = summarize(&sums.is);
        }
    }
    Ok(report)
}

fn is_off_policy_method(m: Method) -> bool {
    matches!(m, Method::OffpolicyIs | Method::Luffy)
}

fn device(model: &dyn LanguageModel) -> tch::Device {
    model.var_store().device()
}

fn seq_flops_of(batch: &Batch, range: &std::ops::Range<usize>, flops: &FlopsModel) -> f64 {
    batch.rows[range.clone()]
        .iter()
        .map(|(c, g)| flops.training((c.len() + g.len()) as u64))
        .sum()
}

/// `k` contiguous, nearly equal row ranges covering `0..rows`.
fn chunk_ranges(rows: usize, k: usize) -> Vec<std::ops::Range<usize>> {
    let k = k.clamp(1, rows.max(1));
    (0..k)
        .map(|i| (i * rows / k)..((i + 1) * rows / k))
        .collect()
}

/// One chunk's share of the whole batch's aggregated loss (module doc).
fn chunk_loss(
    per_token: &Tensor,
    b: &TrainBatch,
    agg: Agg,
    rows: usize,
    l_max: i64,
    tokens: i64,
) -> Result<Tensor> {
    let m = &b.completion_mask;
    let chunk_rows = b.shape().0 as f64;
    Ok(match agg {
        Agg::Token | Agg::Global => {
            aggregate(per_token, m, Agg::Global, l_max, Some(tokens as f64))?
        }
        Agg::Seq => aggregate(per_token, m, Agg::Seq, l_max, None)? * (chunk_rows / rows as f64),
        Agg::Const => aggregate(per_token, m, Agg::ConstVerl, l_max, None)? / rows as f64,
        Agg::ConstVerl => aggregate(per_token, m, Agg::ConstVerl, l_max, None)?,
    })
}

/// `(R, T)` per-token loss of the chunk starting at batch row `start` (module doc).
fn token_loss(
    stats: &TokenStats,
    b: &TrainBatch,
    batch: &Batch,
    start: usize,
    cfg: &PrefixrlConfig,
) -> Result<Tensor> {
    let r = b.shape().0 as usize;
    let adv = &batch.advantages[start..start + r];
    let off = &batch.off_policy[start..start + r];
    let old = b.place_completion_values(&batch.old_logp[start..start + r])?;
    let off_rows = Tensor::from_slice(off)
        .view([r as i64, 1])
        .to_device(old.device());
    let method = cfg.rl.method;
    let eps = cfg.rl.clip_eps;
    let f = |s: &TokenStats, a: &Tensor| -> Result<Tensor> {
        let logp = &s.logp;
        let old = old.to_kind(logp.kind());
        let on = if cfg.rl.ppo_epochs > 1 {
            ppo_clip(&(logp - &old).exp(), a, eps, eps, None)
        } else if method == Method::Luffy {
            ppo_clip(&(logp - logp.detach()).exp(), a, eps, eps, None)
        } else {
            -(a * logp)
        };
        let off_loss = match method {
            Method::OffpolicyIs => {
                let o = &cfg.offpolicy;
                let w = is_weights(logp, &old, &b.completion_mask, o.is_clip, o.is_level, eps)?;
                -(w * a)
            }
            Method::Luffy => -(luffy_shape(logp, cfg.offpolicy.luffy_gamma) * a),
            _ => return Ok(on),
        };
        Ok(off_loss.where_self(&off_rows.expand_as(logp), &on))
    };
    pg_token_loss(stats, b, adv, Surrogate::Custom(&f))
}

/// Importance ratios of the chunk's off-policy completion tokens (LUFFY: `μ = 1`, so `π`).
fn off_policy_ratios(
    stats: &TokenStats,
    b: &TrainBatch,
    batch: &Batch,
    start: usize,
    cfg: &PrefixrlConfig,
) -> Result<Vec<f64>> {
    let r = b.shape().0 as usize;
    let logp = stats.logp.detach().to_kind(Kind::Double);
    let ratio = match cfg.rl.method {
        Method::Luffy => logp.exp(),
        _ => {
            let old = b.place_completion_values(&batch.old_logp[start..start + r])?;
            let o = &cfg.offpolicy;
            is_weights(
                &logp,
                &old,
                &b.completion_mask,
                o.is_clip,
                o.is_level,
                cfg.rl.clip_eps,
            )?
        }
    };
    let values = b.completion_values(&ratio)?;
    Ok(values
        .into_iter()
        .zip(&batch.off_policy[start..start + r])
        .filter(|(_, &off)| off)
        .flat_map(|(v, _)| v)
        .collect())
}

fn summarize(v: &[f64]) -> Option<(f64, f64, f64)> {
    if v.is_empty() {
        return None;
    }
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    Some((mean, max, min))
}

/// All trainable parameters' gradients as one flat f64 vector (zeros where none yet).
fn flat_grads(model: &dyn LanguageModel) -> Tensor {
    let vars = model.var_store().trainable_variables();
    let parts: Vec<Tensor> = vars
        .iter()
        .map(|v| {
            let g = v.grad();
            if g.defined() {
                g.detach().to_kind(Kind::Double).flatten(0, -1)
            } else {
                Tensor::zeros([v.numel() as i64], (Kind::Double, v.device()))
            }
        })
        .collect();
    Tensor::cat(&parts, 0)
}

/// `mean_k ‖K·g_k − Σ_j g_j‖²` over the chunks' gradient parts `g_k`.
fn spread(parts: &[Tensor]) -> f64 {
    let k = parts.len() as f64;
    let total = parts.iter().fold(parts[0].zeros_like(), |acc, p| acc + p);
    let sq: f64 = parts
        .iter()
        .map(|p| {
            (p * k - &total)
                .square()
                .sum(Kind::Double)
                .double_value(&[])
        })
        .sum();
    sq / k
}
