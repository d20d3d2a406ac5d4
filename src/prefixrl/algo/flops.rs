//! The FLOPs axis of spec §5.1 for the GPT of §7.3, per sequence. A token at 0-indexed
//! position `t` attends to `t+1` positions and costs
//! `F_fwd(t) = 2·L·(4d² + 2·d·d_ff) + 4·L·d·(t+1) + 2·d·V`, the convention of
//! [`crate::nn::flops::decode_step`] (`forward_at(t) = decode_step(cfg, V, 1, t+1)`).
//! Sampling `c` context and `g` generated tokens with a KV cache costs `Σ_{t=0}^{c+g−2} F_fwd(t)`;
//! training on a length-`len` sequence `3·Σ_{t=0}^{len−2} F_fwd(t)`. Sums are in closed form.
use crate::error::usage;
use crate::nn::{ModelConfig, ModelKind, Variant};
use anyhow::Result;

/// The sizes §5.1 needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlopsModel {
    pub layers: u64,
    pub d_model: u64,
    pub d_ff: u64,
    pub vocab: u64,
}

impl FlopsModel {
    /// From a GPT config (the `gpt` variant: §5.1 counts a 2-matrix MLP) and the vocabulary size.
    pub fn new(cfg: &ModelConfig, vocab: i64) -> Result<Self> {
        if cfg.kind != ModelKind::Gpt || cfg.variant != Variant::Gpt {
            return Err(usage(format!(
                "the prefixrl FLOPs count (§5.1) covers the GPT (kind gpt, variant gpt) only; got kind {:?}, variant {:?}",
                cfg.kind, cfg.variant
            )));
        }
        let size = |name: &str, v: i64| -> Result<u64> {
            u64::try_from(v)
                .ok()
                .filter(|&v| v > 0)
                .ok_or_else(|| usage(format!("model.{name} must be >= 1 for FLOPs, got {v}")))
        };
        Ok(FlopsModel {
            layers: size("n_layer", cfg.n_layer)?,
            d_model: size("d_model", cfg.d_model)?,
            d_ff: size("d_ff", cfg.d_ff)?,
            vocab: size("vocab_size", vocab)?,
        })
    }

    /// The position-independent part of `F_fwd`: the layers' matrices and the head.
    fn dense(&self) -> f64 {
        let (l, d, f, v) = self.sizes();
        2.0 * l * (4.0 * d * d + 2.0 * d * f) + 2.0 * d * v
    }

    fn sizes(&self) -> (f64, f64, f64, f64) {
        let Self {
            layers,
            d_model,
            d_ff,
            vocab,
        } = *self;
        (layers as f64, d_model as f64, d_ff as f64, vocab as f64)
    }

    /// `F_fwd(t)` of one token at 0-indexed position `t` (§5.1).
    pub fn forward_at(&self, t: u64) -> f64 {
        let (l, d, _, _) = self.sizes();
        self.dense() + 4.0 * l * d * (t as f64 + 1.0)
    }

    /// `Σ_{t=0}^{n−1} F_fwd(t)` = `n·dense + 4·L·d·n(n+1)/2`.
    fn forward_sum(&self, n: u64) -> f64 {
        let (l, d, _, _) = self.sizes();
        let n = n as f64;
        n * self.dense() + 4.0 * l * d * n * (n + 1.0) / 2.0
    }

    /// Sampling one sequence: `context` tokens (prompt and prefix) then `generated` tokens with
    /// a KV cache: `Σ_{t=0}^{c+g−2} F_fwd(t)` (the last token's logits are never needed).
    pub fn sampling(&self, context: u64, generated: u64) -> f64 {
        self.forward_sum((context + generated).saturating_sub(1))
    }

    /// One training pass (forward + backward) over a whole length-`len` sequence:
    /// `3·Σ_{t=0}^{len−2} F_fwd(t)`.
    pub fn training(&self, len: u64) -> f64 {
        3.0 * self.forward_sum(len.saturating_sub(1))
    }
}
