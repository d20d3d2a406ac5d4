//! FLOPs of the models' matrix products, analytic (for a FLOPs axis: prefixrl puts methods on
//! one) and counted from the shapes a forward pass actually multiplies (to check the formula).
//!
//! Convention: a multiply-add is 2 FLOPs; only matrix products count (embeddings, norms,
//! softmax and element-wise ops are left out, as in Kaplan et al. 2020). Attention counts the
//! full `T × T` score matrix a causal pass computes (both `q kᵀ` and `att v`), not the half a
//! causal kernel could skip. The backward pass of every product costs twice its forward
//! (gradients for both operands), so a training step is 3× the forward.
use super::config::{ModelConfig, ModelKind, Variant};
use super::model::{Input, LanguageModel, Tape};
use anyhow::{bail, Result};

/// Linear-layer FLOPs per token (the head included), independent of the context length.
fn dense_per_token(cfg: &ModelConfig, vocab: i64) -> f64 {
    let (d, v) = (cfg.d_model as f64, vocab as f64);
    let head = 2.0 * d * v;
    match cfg.kind {
        ModelKind::Gpt => {
            let f = cfg.d_ff as f64;
            let fc_out = if cfg.variant == Variant::Llama {
                2.0 * f
            } else {
                f
            };
            let layer = 2.0 * (d * 3.0 * d + d * d + d * fc_out + f * d); // qkv, proj, fc, proj
            cfg.n_layer as f64 * layer + head
        }
        ModelKind::Gru | ModelKind::Lstm => {
            let gates = if cfg.kind == ModelKind::Gru { 3.0 } else { 4.0 };
            let (e, h) = (cfg.embedding as f64, cfg.hidden as f64);
            2.0 * gates * h * (e + h) + 2.0 * h * v
        }
        ModelKind::Bigram => 0.0, // a table lookup
    }
}

/// Attention FLOPs of one query attending to `keys` keys, summed over layers.
fn attention_per_query(cfg: &ModelConfig, keys: f64) -> f64 {
    match cfg.kind {
        ModelKind::Gpt => cfg.n_layer as f64 * 4.0 * keys * cfg.d_model as f64,
        _ => 0.0,
    }
}

/// Forward FLOPs of a `(batch, seq)` pass over full sequences.
pub fn forward(cfg: &ModelConfig, vocab: i64, batch: i64, seq: i64) -> f64 {
    let tokens = (batch * seq) as f64;
    tokens * (dense_per_token(cfg, vocab) + attention_per_query(cfg, seq as f64))
}

/// One training step (forward + backward) on a `(batch, seq)` batch.
pub fn training(cfg: &ModelConfig, vocab: i64, batch: i64, seq: i64) -> f64 {
    3.0 * forward(cfg, vocab, batch, seq)
}

/// Forward FLOPs per token of a length-`seq` sequence (what a FLOPs axis multiplies by tokens).
pub fn forward_per_token(cfg: &ModelConfig, vocab: i64, seq: i64) -> f64 {
    forward(cfg, vocab, 1, seq) / seq as f64
}

/// One KV-cache decoding step of `batch` rows whose new token sees `keys` keys (itself included).
pub fn decode_step(cfg: &ModelConfig, vocab: i64, batch: i64, keys: i64) -> f64 {
    batch as f64 * (dense_per_token(cfg, vocab) + attention_per_query(cfg, keys as f64))
}

/// Sampling `new` tokens after a `prompt`-token prompt with a KV cache: the prompt pass, then
/// one step per generated token but the last (whose logits are never needed).
pub fn generation(cfg: &ModelConfig, vocab: i64, batch: i64, prompt: i64, new: i64) -> f64 {
    let steps: f64 = (1..new)
        .map(|j| decode_step(cfg, vocab, batch, prompt + j))
        .sum();
    forward(cfg, vocab, batch, prompt) + steps
}

/// The FLOPs of the products one forward pass over `input` really performs, from the shapes
/// it records: captured linear layers (`2 · rows · d_in · d_out`), the attention products the
/// attention layers note on the tape, and for RNNs the recurrent weight shapes times steps.
pub fn counted(model: &dyn LanguageModel, input: &Input) -> Result<f64> {
    let (b, t) = input.shape()?;
    let mut tape = Tape::on();
    let _logits = tch::no_grad(|| model.forward_tape(input, false, &mut tape))?;
    let mut total = tape.attention_flops;
    for c in &tape.items {
        let (a, s) = (c.input.size(), c.output.size());
        let (Some(&d_in), Some(&d_out)) = (a.last(), s.last()) else {
            bail!("layer {} captured a scalar", c.layer);
        };
        let rows = c.input.numel() as f64 / d_in as f64;
        total += 2.0 * rows * d_in as f64 * d_out as f64;
    }
    if matches!(model.config().kind, ModelKind::Gru | ModelKind::Lstm) {
        for (name, w) in model.var_store().variables() {
            if name.contains("weight_ih") || name.contains("weight_hh") {
                total += 2.0 * (b * t) as f64 * w.numel() as f64;
            }
        }
    }
    Ok(total)
}
