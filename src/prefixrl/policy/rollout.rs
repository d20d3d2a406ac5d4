//! Sampling `n` completions per context with the model's KV cache (`nn::generate`).
//!
//! Each context (prompt ⊕ prefix, §2.4) is repeated `n` times; rows are grouped contiguously
//! (row `r` belongs to context `r / n`). The rows are cut into chunks of at most `max_rows`,
//! each one batched, left-padded `nn::generate` call, in order, drawing from the caller's
//! RNG: the same seed (and the same `max_rows`) gives the same completions. The context is
//! the generation prompt, so its tokens are never sampled or changed; a completion starts
//! right after it and stops after `eos` (kept) or `max_new` tokens. Temperature τ only
//! (default 1.0, on-policy); no top-k / top-p.
use crate::error::usage;
use crate::nn::{generate, Decoding, GenerateOptions, LanguageModel};
use anyhow::{bail, Result};
use rand_chacha::ChaCha8Rng;
use tch::{Kind, Tensor};

/// What the policy is conditioned on: `prompt` (with `<bos>`) then `prefix` (may be empty).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    pub prompt: Vec<i64>,
    pub prefix: Vec<i64>,
}

impl Context {
    pub fn new(prompt: Vec<i64>, prefix: Vec<i64>) -> Self {
        Context { prompt, prefix }
    }

    /// A context without a prefix (standard RL).
    pub fn unprefixed(prompt: Vec<i64>) -> Self {
        Context::new(prompt, Vec::new())
    }

    /// `prompt ⊕ prefix`.
    pub fn ids(&self) -> Vec<i64> {
        self.prompt.iter().chain(&self.prefix).copied().collect()
    }

    pub fn len(&self) -> usize {
        self.prompt.len() + self.prefix.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Default rows per `generate` call (memory stays bounded whatever `contexts × n`).
pub const DEFAULT_MAX_ROWS: usize = 512;

#[derive(Clone, Debug, PartialEq)]
pub struct SampleOptions {
    /// Completions per context (the group size).
    pub n: usize,
    /// At most this many generated tokens per completion (`eos` included).
    pub max_new: i64,
    /// Sampling temperature τ; 1.0 samples the policy itself, 0 is greedy.
    pub temperature: f64,
    pub eos: i64,
    /// Fills the left padding (never seen by the model: pad keys are masked).
    pub pad: i64,
    /// Rows per batched `generate` call.
    pub max_rows: usize,
}

impl SampleOptions {
    /// τ = 1 and [`DEFAULT_MAX_ROWS`].
    pub fn new(n: usize, max_new: i64, eos: i64, pad: i64) -> Self {
        SampleOptions {
            n,
            max_new,
            temperature: 1.0,
            eos,
            pad,
            max_rows: DEFAULT_MAX_ROWS,
        }
    }

    pub fn validate(&self) -> Result<()> {
        if self.n < 1 {
            return Err(usage("sampling: n (completions per context) must be >= 1"));
        }
        if self.max_new < 0 {
            return Err(usage(format!(
                "sampling: max_new must be >= 0, got {}",
                self.max_new
            )));
        }
        if self.max_rows < 1 {
            return Err(usage("sampling: max_rows must be >= 1"));
        }
        self.decoding().validate()
    }

    fn decoding(&self) -> Decoding {
        Decoding {
            temperature: self.temperature,
            top_k: None,
            top_p: None,
        }
    }
}

/// Sampled completions, `contexts.len() × n` rows grouped by context.
#[derive(Clone, Debug, PartialEq)]
pub struct Rollouts {
    pub contexts: Vec<Context>,
    pub n: usize,
    /// Generated ids per row, `eos` included when emitted.
    pub completions: Vec<Vec<i64>>,
    /// Whether each row ended on `eos` (false: cut at `max_new`).
    pub ended: Vec<bool>,
    /// Per completion token: log-prob under the distribution sampled from (tempered; 0 for
    /// greedy).
    pub sample_logprobs: Vec<Vec<f64>>,
    /// Per completion token: log-prob under the untempered model (= `sample_logprobs` at τ = 1).
    pub model_logprobs: Vec<Vec<f64>>,
    /// Per completion token: entropy (nats) of the untempered next-token distribution.
    pub entropies: Vec<Vec<f64>>,
}

impl Rollouts {
    pub fn rows(&self) -> usize {
        self.completions.len()
    }

    /// The context row `r` was sampled from.
    pub fn context_of(&self, r: usize) -> &Context {
        &self.contexts[r / self.n]
    }

    /// Context ids then completion of row `r`.
    pub fn sequence(&self, r: usize) -> Vec<i64> {
        let mut s = self.context_of(r).ids();
        s.extend(&self.completions[r]);
        s
    }

    /// (context ids, completion) per row: the input of [`super::train_batch`].
    pub fn training_rows(&self) -> Vec<(Vec<i64>, Vec<i64>)> {
        let rows = self.completions.iter().enumerate();
        rows.map(|(r, g)| (self.context_of(r).ids(), g.clone()))
            .collect()
    }

    /// Generated tokens over all rows.
    pub fn generated_tokens(&self) -> u64 {
        self.completions.iter().map(|g| g.len() as u64).sum()
    }
}

/// Sample `opts.n` completions of every context (module doc).
pub fn sample(
    model: &dyn LanguageModel,
    contexts: &[Context],
    opts: &SampleOptions,
    rng: &mut ChaCha8Rng,
) -> Result<Rollouts> {
    opts.validate()?;
    if let Some(i) = contexts.iter().position(|c| c.prompt.is_empty()) {
        return Err(usage(format!(
            "context {i}: the prompt is empty (it must hold at least <bos>)"
        )));
    }
    let rows: Vec<Vec<i64>> = contexts
        .iter()
        .flat_map(|c| std::iter::repeat_n(c.ids(), opts.n))
        .collect();
    let mut out = Rollouts {
        contexts: contexts.to_vec(),
        n: opts.n,
        completions: Vec::with_capacity(rows.len()),
        ended: Vec::with_capacity(rows.len()),
        sample_logprobs: Vec::with_capacity(rows.len()),
        model_logprobs: Vec::with_capacity(rows.len()),
        entropies: Vec::with_capacity(rows.len()),
    };
    let gen_opts = GenerateOptions {
        max_new: opts.max_new,
        decoding: opts.decoding(),
        stop_tokens: vec![opts.eos],
        pad_id: opts.pad,
    };
    for chunk in rows.chunks(opts.max_rows) {
        let g = generate(model, chunk, &gen_opts, rng)?;
        // Generation keeps the prompt as given; check the contract we rely on.
        for (seq, ctx) in g.sequences()?.iter().zip(chunk) {
            if !seq.starts_with(ctx) {
                bail!("internal: generation changed a context");
            }
        }
        let cut = |t: &Tensor| -> Result<Vec<Vec<f64>>> {
            let full =
                Vec::<Vec<f64>>::try_from(t.to_kind(Kind::Double).to_device(tch::Device::Cpu))?;
            Ok(full
                .into_iter()
                .zip(&g.gen_lens)
                .map(|(row, &len)| row[..len as usize].to_vec())
                .collect())
        };
        out.sample_logprobs.extend(cut(&g.sample_logprobs)?);
        out.model_logprobs.extend(cut(&g.model_logprobs)?);
        out.entropies.extend(cut(&g.model_entropies)?);
        out.completions.extend(g.generated()?);
        out.ended.extend(g.stopped.iter().copied());
    }
    Ok(out)
}
