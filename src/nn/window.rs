//! Generation longer than a GPT's context, as nanoGPT's `generate` does it: the KV cache while
//! prompt and continuation fit in `block_size` positions, then each further token from a full
//! forward pass over the last `block_size` tokens (positions restart at 0 in the cropped
//! window). Models without a block size (RNNs, bigram) use their cache all the way. Prompts
//! must have one length (no padding) and there are no stop tokens: every row gets `max_new`
//! tokens.
use super::generate::{generate, GenerateOptions};
use super::model::{Input, LanguageModel};
use super::sample::Decoding;
use crate::error::usage;
use anyhow::Result;
use rand_chacha::ChaCha8Rng;
use tch::{Device, IndexOp, Kind, Tensor};

/// The generated part only, `(B, N)` each.
#[derive(Debug)]
pub struct Continuation {
    /// i64 token ids.
    pub tokens: Tensor,
    /// f64 log-probability of each token under the untempered model.
    pub model_logprobs: Tensor,
    /// f64 entropy of the untempered next-token distribution at each position.
    pub model_entropies: Tensor,
    /// f64 largest next-token probability at each position.
    pub model_top1: Tensor,
}

impl Continuation {
    /// Per row, the generated ids.
    pub fn rows(&self) -> Result<Vec<Vec<i64>>> {
        Ok(Vec::<Vec<i64>>::try_from(
            self.tokens.to_device(Device::Cpu),
        )?)
    }
}

/// `max_new` tokens after each of `prompts` (all one length), past the block size if needed.
pub fn generate_long(
    model: &dyn LanguageModel,
    prompts: &[Vec<i64>],
    max_new: i64,
    decoding: &Decoding,
    rng: &mut ChaCha8Rng,
) -> Result<Continuation> {
    let width = prompts.first().map_or(0, Vec::len);
    if width == 0 || prompts.iter().any(|p| p.len() != width) {
        return Err(usage("generate_long needs non-empty prompts of one length"));
    }
    if max_new < 1 {
        return Err(usage(format!("max_new must be >= 1, got {max_new}")));
    }
    let block = model.block_size().map(|b| b as usize);
    // Crop prompts longer than the context to their last `block` tokens.
    let keep = block.map_or(width, |b| width.min(b));
    let cropped: Vec<Vec<i64>> = prompts.iter().map(|p| p[width - keep..].to_vec()).collect();
    let cached = block.map_or(max_new, |b| max_new.min((b - keep + 1) as i64));
    let first = generate(
        model,
        &cropped,
        &GenerateOptions::new(cached, decoding.clone()),
        rng,
    )?;
    let p = first.prompt_width;
    let mut tokens = vec![first.tokens.i((.., p..))]; // (B, cached)
    let mut lps = vec![first.model_logprobs];
    let mut ents = vec![first.model_entropies];
    let mut top1 = vec![first.model_top1];
    if let Some(b) = block.filter(|_| cached < max_new) {
        let mut context = first.tokens; // (B, keep + cached)
        tch::no_grad(|| -> Result<()> {
            for _ in cached..max_new {
                let t = context.size()[1];
                let window = context.narrow(1, t - b as i64, b as i64); // (B, block)
                let logits = model.forward(&Input::new(&window), false)?; // (B, block, V)
                let last = logits.select(1, b as i64 - 1); // (B, V)
                let choice = decoding.choose(&last, rng);
                let tok = choice.tokens.unsqueeze(1); // (B, 1)
                context = Tensor::cat(&[context.shallow_clone(), tok.shallow_clone()], 1);
                tokens.push(tok);
                lps.push(choice.model_logprobs.unsqueeze(1));
                ents.push(choice.model_entropy.unsqueeze(1));
                top1.push(choice.model_top1.unsqueeze(1));
            }
            Ok(())
        })?;
    }
    Ok(Continuation {
        tokens: Tensor::cat(&tokens, 1).to_kind(Kind::Int64),
        model_logprobs: Tensor::cat(&lps, 1),
        model_entropies: Tensor::cat(&ents, 1),
        model_top1: Tensor::cat(&top1, 1),
    })
}
