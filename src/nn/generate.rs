//! Batched generation: prompts of different lengths are LEFT-padded (pad mask, positions from
//! 0 on each row's first real token), run once through `prefill`, then decoded one token per
//! step through the model's cache. Prompt tokens are never resampled or changed. A row stops
//! after it emits one of `stop_tokens` (the stop token is kept); later columns hold `pad_id`
//! with log-probability 0. The loop ends after `max_new` steps or when every row has stopped.
//! The last generated token is never fed back, so a GPT needs room for the longest prompt plus
//! `max_new - 1` positions; it refuses more (no sliding window).
use super::model::LanguageModel;
use super::sample::Decoding;
use crate::error::usage;
use anyhow::{bail, Result};
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};

#[derive(Clone, Debug)]
pub struct GenerateOptions {
    pub max_new: i64,
    pub decoding: Decoding,
    /// Any of these ends a row (e.g. `<eos>`); empty: rows run for `max_new` tokens.
    pub stop_tokens: Vec<i64>,
    /// Fills left padding and the columns after a row stopped.
    pub pad_id: i64,
}

impl GenerateOptions {
    pub fn new(max_new: i64, decoding: Decoding) -> Self {
        GenerateOptions {
            max_new,
            decoding,
            stop_tokens: Vec::new(),
            pad_id: 0,
        }
    }
}

/// What `generate` returns. Column `prompt_width + j` of `tokens` is generated step `j`.
#[derive(Debug)]
pub struct Generation {
    /// `(B, P + N)` i64: left-padded prompts then the generated tokens (`pad_id` after a stop);
    /// `N` ≤ `max_new` is the number of steps run.
    pub tokens: Tensor,
    /// `(B, P + N)` bool: true on prompt tokens and generated tokens up to and including a stop.
    pub pad_mask: Tensor,
    /// `P`, the padded prompt width: where generation starts.
    pub prompt_width: i64,
    pub prompt_lens: Vec<i64>,
    /// Generated tokens per row, the stop token included.
    pub gen_lens: Vec<i64>,
    /// Whether each row ended on a stop token.
    pub stopped: Vec<bool>,
    /// `(B, N)` f64: log-probability of each generated token under the distribution it was
    /// drawn from (temperature, top-k, top-p applied; 0 for greedy), 0 past a row's end.
    pub sample_logprobs: Tensor,
    /// `(B, N)` f64: the same under the untempered, unfiltered model.
    pub model_logprobs: Tensor,
    /// `(B, N)` f64: entropy of the untempered model's next-token distribution at each
    /// generated position (0 past a row's end).
    pub model_entropies: Tensor,
    /// `(B, N)` f64: its largest probability (0 past a row's end).
    pub model_top1: Tensor,
}

impl Generation {
    /// Per row: the prompt (unpadded) followed by its generated tokens.
    pub fn sequences(&self) -> Result<Vec<Vec<i64>>> {
        let rows = to_rows(&self.tokens)?;
        let p = self.prompt_width as usize;
        Ok(rows
            .iter()
            .zip(&self.prompt_lens)
            .zip(&self.gen_lens)
            .map(|((row, &pl), &gl)| row[p - pl as usize..p + gl as usize].to_vec())
            .collect())
    }

    /// Per row: only the generated tokens.
    pub fn generated(&self) -> Result<Vec<Vec<i64>>> {
        let rows = to_rows(&self.tokens)?;
        let p = self.prompt_width as usize;
        Ok(rows
            .iter()
            .zip(&self.gen_lens)
            .map(|(row, &gl)| row[p..p + gl as usize].to_vec())
            .collect())
    }
}

fn to_rows(t: &Tensor) -> Result<Vec<Vec<i64>>> {
    Ok(Vec::<Vec<i64>>::try_from(t.to_device(Device::Cpu))?)
}

/// Left-pad `prompts` to one `(B, P)` id tensor and its `(B, P)` bool mask (true = real).
pub fn left_pad(prompts: &[Vec<i64>], pad_id: i64, device: Device) -> Result<(Tensor, Tensor)> {
    if prompts.is_empty() {
        return Err(usage("generate needs at least one prompt"));
    }
    if let Some(i) = prompts.iter().position(|p| p.is_empty()) {
        return Err(usage(format!(
            "prompt {i} is empty; every prompt needs a token"
        )));
    }
    let width = prompts.iter().map(Vec::len).max().unwrap_or(0);
    let mut ids = Vec::with_capacity(prompts.len() * width);
    let mut mask = Vec::with_capacity(prompts.len() * width);
    for p in prompts {
        let pad = width - p.len();
        ids.extend(std::iter::repeat_n(pad_id, pad).chain(p.iter().copied()));
        mask.extend(std::iter::repeat_n(false, pad).chain(std::iter::repeat_n(true, p.len())));
    }
    let shape = [prompts.len() as i64, width as i64];
    Ok((
        Tensor::from_slice(&ids).view(shape).to_device(device),
        Tensor::from_slice(&mask).view(shape).to_device(device),
    ))
}

/// Generate from prompts of any lengths (left-padded here with `opts.pad_id`).
pub fn generate(
    model: &dyn LanguageModel,
    prompts: &[Vec<i64>],
    opts: &GenerateOptions,
    rng: &mut ChaCha8Rng,
) -> Result<Generation> {
    let device = model.var_store().device();
    let (tokens, mask) = left_pad(prompts, opts.pad_id, device)?;
    generate_padded(model, &tokens, Some(&mask), opts, rng)
}

/// Generate from already left-padded prompts `(B, P)` (`pad_mask` true on real tokens).
pub fn generate_padded(
    model: &dyn LanguageModel,
    tokens: &Tensor,
    pad_mask: Option<&Tensor>,
    opts: &GenerateOptions,
    rng: &mut ChaCha8Rng,
) -> Result<Generation> {
    check(model.vocab_size(), tokens, opts)?;
    let (b, p) = tokens.size2()?;
    let device = tokens.device();
    let real = match pad_mask {
        Some(m) => m.shallow_clone(),
        None => Tensor::ones([b, p], (Kind::Bool, device)),
    };
    let prompt_lens = to_vec::<i64>(&real.sum_dim_intlist(1, false, Kind::Int64))?;
    // Steps feed back every generated token but the last.
    let (logits, cache) = model.prefill(tokens, pad_mask, (opts.max_new - 1).max(0))?;
    let steps = tch::no_grad(|| decode(model, logits, cache, opts, rng))?;
    let stack = |v: &[Tensor], kind| match v.is_empty() {
        true => Tensor::zeros([b, 0], (kind, device)),
        false => Tensor::stack(v, 1),
    };
    let alive = stack(&steps.alive, Kind::Bool); // (B, N)
    Ok(Generation {
        tokens: Tensor::cat(
            &[tokens.shallow_clone(), stack(&steps.tokens, Kind::Int64)],
            1,
        ),
        pad_mask: Tensor::cat(&[real, alive.shallow_clone()], 1),
        prompt_width: p,
        prompt_lens,
        gen_lens: to_vec::<i64>(&alive.sum_dim_intlist(1, false, Kind::Int64))?,
        stopped: to_vec::<bool>(&steps.done)?,
        sample_logprobs: stack(&steps.sample_logprobs, Kind::Double),
        model_logprobs: stack(&steps.model_logprobs, Kind::Double),
        model_entropies: stack(&steps.model_entropies, Kind::Double),
        model_top1: stack(&steps.model_top1, Kind::Double),
    })
}

fn to_vec<T>(t: &Tensor) -> Result<Vec<T>>
where
    Vec<T>: TryFrom<Tensor, Error = tch::TchError>,
{
    Ok(Vec::<T>::try_from(t.to_device(Device::Cpu))?)
}

/// Decoding options valid, stop/pad ids and prompt ids inside the vocabulary.
fn check(vocab: i64, tokens: &Tensor, opts: &GenerateOptions) -> Result<()> {
    opts.decoding.validate()?;
    for &id in opts.stop_tokens.iter().chain([&opts.pad_id]) {
        if !(0..vocab).contains(&id) {
            return Err(usage(format!(
                "token id {id} is outside the vocabulary 0..{vocab}"
            )));
        }
    }
    let (lo, hi) = (tokens.min().int64_value(&[]), tokens.max().int64_value(&[]));
    if lo < 0 || hi >= vocab {
        bail!("prompt ids must be in [0, {vocab}), got [{lo}, {hi}]");
    }
    Ok(())
}

/// Per generated column: tokens, whether the row was still running, both log-probs; and
/// which rows ended on a stop token.
struct Steps {
    tokens: Vec<Tensor>,
    alive: Vec<Tensor>,
    sample_logprobs: Vec<Tensor>,
    model_logprobs: Vec<Tensor>,
    model_entropies: Vec<Tensor>,
    model_top1: Vec<Tensor>,
    done: Tensor,
}

/// The loop: choose from `logits` `(B, V)`, record, feed the choice back through the cache.
fn decode(
    model: &dyn LanguageModel,
    mut logits: Tensor,
    mut cache: super::Cache,
    opts: &GenerateOptions,
    rng: &mut ChaCha8Rng,
) -> Result<Steps> {
    let (b, _) = logits.size2()?;
    let device = logits.device();
    let stop = Tensor::from_slice(&opts.stop_tokens).to_device(device);
    let mut s = Steps {
        tokens: vec![],
        alive: vec![],
        sample_logprobs: vec![],
        model_logprobs: vec![],
        model_entropies: vec![],
        model_top1: vec![],
        done: Tensor::zeros([b], (Kind::Bool, device)),
    };
    for step in 0..opts.max_new {
        let choice = opts.decoding.choose(&logits, rng);
        let tok = choice.tokens.masked_fill(&s.done, opts.pad_id); // (B)
        s.alive.push(s.done.logical_not());
        s.sample_logprobs
            .push(choice.sample_logprobs.masked_fill(&s.done, 0.0));
        s.model_logprobs
            .push(choice.model_logprobs.masked_fill(&s.done, 0.0));
        s.model_entropies
            .push(choice.model_entropy.masked_fill(&s.done, 0.0));
        s.model_top1
            .push(choice.model_top1.masked_fill(&s.done, 0.0));
        if !opts.stop_tokens.is_empty() {
            let hit = tok
                .unsqueeze(1)
                .eq_tensor(&stop.unsqueeze(0))
                .any_dim(1, false); // (B)
            s.done = s.done.logical_or(&hit);
        }
        s.tokens.push(tok.shallow_clone());
        if s.done.all().int64_value(&[]) != 0 {
            break;
        }
        if step + 1 < opts.max_new {
            logits = model.step(&mut cache, &tok)?;
        }
    }
    Ok(s)
}
