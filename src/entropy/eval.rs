//! The evaluation protocol of spec §3.6: what is fixed per run (prompts, their real
//! continuations, the scored val stream, the training probe, the reference count model), and
//! the two kinds of measurement on a model: teacher-forced scoring of a token stream and
//! free-running generation.
use super::config::EvalSection;
use super::metrics::distinct_n;
use super::ngram::Interpolated;
use crate::error::usage;
use crate::nn::{generate_long, loss::entropy_of_logits, Decoding, Input, LanguageModel};
use anyhow::Result;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};

/// What every evaluation of a run shares.
pub struct Protocol {
    /// `final_samples` prompts of `prompt_len` val tokens; an ordinary evaluation uses the first
    /// `samples` of them.
    pub prompts: Vec<Vec<u32>>,
    /// The val tokens after each prompt (`final_len` of them): the "real continuations".
    pub real: Vec<Vec<u32>>,
    /// The scored val stream (the first `val_tokens + 1` val tokens).
    pub val: Vec<u32>,
    /// The fixed training probe (the first `train_probe_tokens + 1` training tokens).
    pub train_probe: Vec<u32>,
    /// Interpolated count model on the training split (§3.6), for `gen_ref_nll_t1`.
    pub reference: Interpolated,
    /// Window of teacher-forced scoring: the block size of a GPT, else `seq_len`.
    pub window: usize,
}

impl Protocol {
    pub fn new(
        e: &EvalSection,
        train: &[u32],
        val: &[u32],
        vocab: usize,
        window: usize,
    ) -> Result<Protocol> {
        let need = e.prompt_len + e.final_len.max(e.sample_len);
        if val.len() < need {
            return Err(usage(format!(
                "the val split has {} tokens, fewer than eval.prompt_len + eval.final_len = {need}; \
                 use a larger corpus or shorter eval lengths",
                val.len()
            )));
        }
        for (key, n) in [
            ("eval.val_tokens", e.val_tokens),
            ("eval.train_probe_tokens", e.train_probe_tokens),
        ] {
            if n != 0 && n < window {
                return Err(usage(format!(
                    "{key} is {n}, fewer than one teacher-forced scoring window of {window} \
                     tokens (the model's block size; train.seq_len for an RNN; \
                     checkpoint.context for a TorchScript module); set it to at least {window}"
                )));
            }
        }
        let mut rng = ChaCha8Rng::seed_from_u64(e.prompt_seed);
        let last = val.len() - need;
        let (mut prompts, mut real) = (Vec::new(), Vec::new());
        for _ in 0..e.final_samples.max(e.samples) {
            let o = rng.gen_range(0..=last);
            prompts.push(val[o..o + e.prompt_len].to_vec());
            real.push(val[o + e.prompt_len..o + need].to_vec());
        }
        let scored = if e.val_tokens == 0 {
            val.len()
        } else {
            (e.val_tokens + 1).min(val.len())
        };
        let probe = (e.train_probe_tokens + 1).min(train.len());
        Ok(Protocol {
            prompts,
            real,
            val: val[..scored].to_vec(),
            train_probe: train[..probe].to_vec(),
            reference: Interpolated::fit(train, e.ref_ngram_order, vocab, 0.01)?,
            window,
        })
    }
}

/// Teacher-forced scores of a token stream (non-overlapping windows; every position scored
/// with the context its window gives it).
#[derive(Debug, Clone, Default)]
pub struct Forced {
    /// Mean −ln p(y_t | c_t).
    pub loss: f64,
    /// Mean entropy of p(· | c_t).
    pub entropy: f64,
    /// Per window: the greedy predictions ŷ_t and the targets y_t.
    pub rows: Vec<(Vec<u32>, Vec<u32>)>,
}

/// Score `tokens` in windows of `window` targets, `batch` windows at a time.
pub fn teacher_forced(
    model: &dyn LanguageModel,
    tokens: &[u32],
    window: usize,
    batch: usize,
) -> Result<Forced> {
    let device = model.var_store().device();
    let batches = crate::data::EvalBatches::new(tokens, batch, window, device)?;
    let (mut nll, mut ent, mut n) = (0.0, 0.0, 0.0);
    let mut rows = Vec::new();
    tch::no_grad(|| -> Result<()> {
        for (inputs, targets) in batches {
            let logits = model
                .forward(&Input::new(&inputs), false)?
                .to_kind(Kind::Double); // (B, T, V)
            let logp = logits.log_softmax(-1, Kind::Double);
            let picked = logp.gather(2, &targets.unsqueeze(2), false); // (B, T, 1)
            nll -= picked.sum(Kind::Double).double_value(&[]);
            ent += entropy_of_logits(&logits)
                .sum(Kind::Double)
                .double_value(&[]);
            n += targets.numel() as f64;
            let preds = to_rows(&logits.argmax(-1, false))?;
            rows.extend(preds.into_iter().zip(to_rows(&targets)?));
        }
        Ok(())
    })?;
    Ok(Forced {
        loss: nll / n,
        entropy: ent / n,
        rows,
    })
}

fn to_rows(t: &Tensor) -> Result<Vec<Vec<u32>>> {
    let rows = Vec::<Vec<i64>>::try_from(t.to_device(Device::Cpu))?;
    Ok(rows
        .into_iter()
        .map(|r| r.into_iter().map(|x| x as u32).collect())
        .collect())
}

/// Free-running continuations of some prompts and the model's view along them.
#[derive(Debug, Clone, Default)]
pub struct FreeRun {
    pub samples: Vec<Vec<u32>>,
    /// Mean entropy of p_θ(· | generated context) over all generated positions (E9).
    pub entropy: f64,
    /// Mean −ln p_θ(sampled token).
    pub nll: f64,
    /// Mean max_x p_θ(x | context).
    pub top1: f64,
}

/// `len` tokens after each prompt with `decoding`, drawing from `rng`.
pub fn free_run(
    model: &dyn LanguageModel,
    prompts: &[Vec<u32>],
    len: usize,
    decoding: &Decoding,
    rng: &mut ChaCha8Rng,
) -> Result<FreeRun> {
    let ids: Vec<Vec<i64>> = prompts
        .iter()
        .map(|p| p.iter().map(|&t| i64::from(t)).collect())
        .collect();
    let out = tch::no_grad(|| generate_long(model, &ids, len as i64, decoding, rng))?;
    let mean = |t: &Tensor| t.mean(Kind::Double).double_value(&[]);
    Ok(FreeRun {
        samples: to_rows(&out.tokens)?,
        entropy: mean(&out.model_entropies),
        nll: -mean(&out.model_logprobs),
        top1: mean(&out.model_top1),
    })
}

/// The sampling stream of evaluation number `index` of a run with `seed` (§3.6): independent of
/// the training RNG, so evaluations never perturb training and can be repeated.
pub fn sampling_rng(seed: u64, index: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(1 + index);
    rng
}

/// `eval.top_p`: the model's entropy along, and the distinct-4 of, nucleus samples.
pub fn nucleus_run(
    model: &dyn LanguageModel,
    prompts: &[Vec<u32>],
    len: usize,
    top_p: f64,
    rng: &mut ChaCha8Rng,
) -> Result<(f64, Option<f64>)> {
    let decoding = Decoding {
        top_p: Some(top_p),
        ..Decoding::default()
    };
    let run = free_run(model, prompts, len, &decoding, rng)?;
    Ok((run.entropy, distinct_n(&run.samples, 4)))
}

/// Every free-running sample set one evaluation scores, drawn from one stream in this order.
pub struct Draws {
    /// At temperature 1 (the §4.1 samples).
    pub t1: FreeRun,
    /// Greedy, for the first `eval.greedy_samples` prompts (empty when 0).
    pub greedy: FreeRun,
    /// Per extra temperature t: (t, entropy along, distinct-4).
    pub extra: Vec<(f64, f64, Option<f64>)>,
    /// Nucleus sampling when `eval.top_p` > 0: (entropy along, distinct-4).
    pub nucleus: Option<(f64, Option<f64>)>,
}

/// The draws of one evaluation: `len` tokens after each prompt, at T = 1, greedy, each of
/// `e.temperatures` and with `e.top_p`, the last three on at most `e.samples` prompts.
pub fn draw_all(
    model: &dyn LanguageModel,
    prompts: &[Vec<u32>],
    len: usize,
    e: &EvalSection,
    rng: &mut ChaCha8Rng,
) -> Result<Draws> {
    let t1 = free_run(model, prompts, len, &Decoding::default(), rng)?;
    let greedy_prompts = &prompts[..e.greedy_samples.min(prompts.len())];
    let greedy = match greedy_prompts.is_empty() {
        true => FreeRun::default(),
        false => free_run(model, greedy_prompts, len, &Decoding::greedy(), rng)?,
    };
    let few = &prompts[..e.samples.min(prompts.len())];
    let mut extra = Vec::new();
    for &temperature in &e.temperatures {
        let decoding = Decoding {
            temperature,
            ..Decoding::default()
        };
        let run = free_run(model, few, len, &decoding, rng)?;
        extra.push((temperature, run.entropy, distinct_n(&run.samples, 4)));
    }
    let nucleus = match e.top_p > 0.0 {
        true => Some(nucleus_run(model, few, len, e.top_p, rng)?),
        false => None,
    };
    Ok(Draws {
        t1,
        greedy,
        extra,
        nucleus,
    })
}
