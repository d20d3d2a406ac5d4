//! Language models on tch shared by the papers: a GPT, GRU/LSTM and a neural bigram behind one
//! [`LanguageModel`] trait, and batched generation with a KV cache.
//!
//! Reading order:
//! 1. `config.rs`: [`ModelConfig`], presets and validation.
//! 2. `model.rs`: the [`LanguageModel`] trait, [`Input`], [`Tape`]/[`Captured`] (K-FAC
//!    capture), [`Cache`].
//! 3. `layers.rs`: `Linear` (capturing), `Norm` (LayerNorm/RMSNorm), `Embedding`.
//! 4. `rotary.rs`, `attention.rs` then `gpt.rs`: the Transformer and its KV cache.
//! 5. `rnn.rs`, `bigram.rs`: the other models.
//! 6. `sample.rs` then `generate.rs`: decoding rules and the generation loop; `window.rs`:
//!    generation past a GPT's block size (cache, then a sliding window).
//! 7. `flops.rs`: analytic FLOPs and a count from the shapes a pass multiplies.
//! 8. `loss.rs`: masked cross-entropy and its aggregation modes; `checkpoint.rs`: training
//!    checkpoints (weights, optimizer state, RNG, step, tokenizer).
//! 9. `train.rs`: one training step (micro-batches, schedule, clipping) and evaluation.
//!
//! Conventions: token ids are `(B, T)` i64; a pad mask is `(B, T)` bool, **true on real
//! tokens**; logits are `(B, T, V)` in the model's dtype. Use [`build`] to make a model from a
//! config and the tokenizer's vocabulary size, [`LanguageModel::forward`] to train, and
//! [`generate`] to sample. Gradient penalties (double backward) need `attention: explicit`:
//! libtorch's fused CPU attention has no second derivative.
pub mod attention;
pub mod bigram;
pub mod checkpoint;
pub mod config;
pub mod flops;
pub mod generate;
pub mod gpt;
pub mod layers;
pub mod loss;
pub mod model;
pub mod rnn;
pub mod rotary;
pub mod sample;
pub mod train;
pub mod window;

pub use config::{Attention, Dtype, ModelConfig, ModelKind, Variant, PRESETS};
pub use generate::{generate, generate_padded, left_pad, GenerateOptions, Generation};
pub use model::{Cache, Captured, Input, LanguageModel, Tape};
pub use sample::Decoding;
pub use window::{generate_long, Continuation};

use crate::error::usage;
use anyhow::Result;
use tch::{Device, Tensor};

/// Build the model `cfg` describes for a tokenizer of `vocab` ids, with fresh parameters drawn
/// from torch's global generator (seed it first with `device::seed_all`).
pub fn build(cfg: &ModelConfig, vocab: i64, device: Device) -> Result<Box<dyn LanguageModel>> {
    cfg.validate()?;
    if vocab < 1 {
        return Err(usage(format!(
            "the vocabulary must have >= 1 token, got {vocab}"
        )));
    }
    if let Some(v) = cfg.vocab_size.filter(|v| *v != vocab) {
        return Err(usage(format!(
            "model.vocab_size is {v} but the tokenizer has {vocab} tokens"
        )));
    }
    Ok(match cfg.kind {
        ModelKind::Gpt => Box::new(gpt::Gpt::new(cfg, vocab, device)),
        ModelKind::Gru | ModelKind::Lstm => Box::new(rnn::RnnLm::new(cfg, vocab, device)),
        ModelKind::Bigram => Box::new(bigram::Bigram::new(cfg, vocab, device)),
    })
}

/// Trainable parameters by name, sorted by name (the VarStore keeps them in a hash map).
pub fn named_parameters(model: &dyn LanguageModel) -> Vec<(String, Tensor)> {
    let mut out: Vec<(String, Tensor)> = model.var_store().variables().into_iter().collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The number of scalar parameters (a tied head counts once).
pub fn num_parameters(model: &dyn LanguageModel) -> i64 {
    named_parameters(model)
        .iter()
        .map(|(_, t)| t.numel() as i64)
        .sum()
}

/// ‖θ‖₂ over every parameter of `model`.
pub fn parameter_norm(model: &dyn LanguageModel) -> f64 {
    named_parameters(model)
        .iter()
        .map(|(_, p)| p.norm().double_value(&[]).powi(2))
        .sum::<f64>()
        .sqrt()
}
