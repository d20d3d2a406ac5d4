//! The periodic evaluation of spec §5.2 / §7.6, one eval.csv row (§7.9) per call: pass@k on
//! the unprefixed training problems, the held-out and OOD sets and the easy set; pass@1 on the
//! prefixed training variants and on the prefix panel (a trace cut at each fraction);
//! strategy agreement with the stored traces, for the policy and (once, cached) for the base
//! model; per-token entropy and the exact KL to the base model over completion positions.
//!
//! Every set is sampled in one batched `policy::sample` call (the panel: one per fraction) at
//! T = 1 from one ChaCha8 stream seeded by `(seed, step)`, so two calls with the same seed and
//! step give the same row.
//!
//! Reading order: this file ([`EvalCtx`], [`evaluate`]), `evaluate_row.rs` ([`EvalRow`]),
//! `evaluate_parts.rs` (the pure pieces), `evaluate_load.rs` ([`EvalCtx::load`] from run
//! directories).
use super::evaluate_parts::{self as parts, successes};
pub use super::evaluate_row::EvalRow;
use super::load::{self, Codec, Split};
use crate::nn::checkpoint::step_seed;
use crate::nn::{LanguageModel, ModelConfig};
use crate::prefixrl::algo::FlopsModel;
use crate::prefixrl::config::EvalSection;
use crate::prefixrl::jsonl::{PrefixRecord, TraceRecord};
use crate::prefixrl::policy::{self, Context, Rollouts, SampleOptions};
use crate::prefixrl::task::{Problem, Task};
use anyhow::{Context as _, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use tch::Kind;

/// The problem sets an evaluation reads.
#[derive(Clone, Debug, Default)]
pub struct EvalData {
    /// The training set D with each problem's stored trace (§2.6).
    pub train: Vec<(Problem, TraceRecord)>,
    /// Prefixed variants of the training problems (prefixes.jsonl); others are ignored.
    pub prefixes: Vec<PrefixRecord>,
    pub heldout: Vec<Problem>,
    pub ood: Vec<Problem>,
    pub easy: Vec<Problem>,
}

/// Everything [`evaluate`] needs besides the model under evaluation.
pub struct EvalCtx {
    pub task: Box<dyn Task>,
    pub codec: Codec,
    pub train: Vec<(Problem, TraceRecord)>,
    pub prefixes: Vec<PrefixRecord>,
    pub heldout: Vec<Problem>,
    pub ood: Vec<Problem>,
    pub easy: Vec<Problem>,
    /// The first `eval.panel` training problems with their traces.
    pub panel: Vec<(Problem, TraceRecord)>,
    /// The reference of `kl_base_eval` and `strategy_agree_base`; `None` leaves them empty
    /// (unless `base_agree` is set).
    pub base: Option<Box<dyn LanguageModel>>,
    /// `strategy_agree_base` once computed (or given): the base model does not change.
    pub base_agree: Option<Option<f64>>,
    pub cfg: EvalSection,
    pub flops: FlopsModel,
    /// Samples per problem (`eval.k_eval`; the eval stage may raise it to `eval.k_final`).
    pub samples: usize,
    /// Generated tokens per completion at most (`rl.max_new_tokens`).
    pub max_new: i64,
}

impl EvalCtx {
    /// Assemble a context: held-out and OOD sets cut to `eval.n_heldout` / `eval.n_ood`, the
    /// panel = the first `eval.panel` training problems, prefixes kept for training problems.
    pub fn new(
        task: Box<dyn Task>,
        codec: Codec,
        data: EvalData,
        base: Option<Box<dyn LanguageModel>>,
        cfg: &EvalSection,
        model: &ModelConfig,
        max_new: i64,
    ) -> Result<EvalCtx> {
        let EvalData {
            train,
            prefixes,
            mut heldout,
            mut ood,
            easy,
        } = data;
        heldout.truncate(cfg.n_heldout);
        ood.truncate(cfg.n_ood);
        let block = base.as_ref().and_then(|m| m.block_size());
        let sets = [
            (Split::Heldout, &heldout),
            (Split::Ood, &ood),
            (Split::Easy, &easy),
        ];
        super::evaluate_load::check_prompts(&codec, block, &sets)?;
        let ids: std::collections::HashSet<&str> =
            train.iter().map(|(p, _)| p.id.as_str()).collect();
        let prefixes = prefixes
            .into_iter()
            .filter(|r| ids.contains(r.problem_id.as_str()))
            .collect();
        Ok(EvalCtx {
            flops: FlopsModel::new(model, codec.vocab())?,
            panel: train.iter().take(cfg.panel).cloned().collect(),
            task,
            codec,
            train,
            prefixes,
            heldout,
            ood,
            easy,
            base,
            base_agree: None,
            cfg: cfg.clone(),
            samples: cfg.k_eval,
            max_new,
        })
    }
}

/// A problem to sample, after a prefix text (empty: unprefixed).
struct Item<'a> {
    problem: &'a Problem,
    prefix: String,
}

fn unprefixed<'a>(problems: impl IntoIterator<Item = &'a Problem>) -> Vec<Item<'a>> {
    let item = |problem| Item {
        problem,
        prefix: String::new(),
    };
    problems.into_iter().map(item).collect()
}

/// A sampled and scored set: rewards row by row (`items × samples`).
struct Scored {
    rollouts: Rollouts,
    rewards: Vec<f64>,
    /// Decoded completions (without `<eos>`).
    texts: Vec<String>,
}

/// The fields of [`EvalCtx`] that sampling and scoring use, borrowed apart from the data sets.
struct Sampler<'a> {
    task: &'a mut dyn Task,
    codec: &'a Codec,
    flops: &'a FlopsModel,
    samples: usize,
    max_new: i64,
    /// Sampling FLOPs so far (§5.1).
    spent: f64,
}

impl Sampler<'_> {
    /// Sample `samples` completions of every item in one batched call and score each; `None`
    /// for an empty set.
    fn run(
        &mut self,
        model: &dyn LanguageModel,
        items: &[Item],
        rng: &mut ChaCha8Rng,
    ) -> Result<Option<Scored>> {
        if items.is_empty() {
            return Ok(None);
        }
        let codec = self.codec;
        let mut contexts = Vec::with_capacity(items.len());
        for it in items {
            contexts.push(Context::new(
                codec.prompt(it.problem)?,
                codec.text(&it.prefix)?,
            ));
        }
        // The budget training's rollouts get (context + max_new − 1 ≤ block_size).
        let max_new = load::room_for(model, &contexts, self.max_new.max(0) as usize)?;
        let opts = SampleOptions::new(self.samples, max_new, codec.eos, codec.pad);
        let rollouts = policy::sample(model, &contexts, &opts, rng)?;
        let (mut rewards, mut texts) = (Vec::new(), Vec::new());
        for (r, completion) in rollouts.completions.iter().enumerate() {
            let it = &items[r / self.samples];
            let verdict = load::score(self.task, it.problem, &it.prefix, completion, codec)?;
            rewards.push(verdict.reward);
            texts.push(codec.decode(completion)?.0);
            let context = rollouts.context_of(r).len() as u64;
            self.spent += self.flops.sampling(context, completion.len() as u64);
        }
        Ok(Some(Scored {
            rollouts,
            rewards,
            texts,
        }))
    }

    /// pass@k of a scored set (`None` for an empty set or `k > samples`).
    fn pass(&self, scored: &Option<Scored>, k: u64) -> Result<Option<f64>> {
        let Some(s) = scored else {
            return Ok(None);
        };
        parts::pass_at(&successes(&s.rewards, self.samples), self.samples as u64, k)
    }
}

/// Evaluate `model` (module doc); sampling is seeded from `(rng_seed, step)`.
pub fn evaluate(
    ctx: &mut EvalCtx,
    model: &dyn LanguageModel,
    step: u64,
    rng_seed: u64,
) -> Result<EvalRow> {
    let mut row = EvalRow::empty(step, &ctx.cfg.panel_fracs);
    let mut rng = ChaCha8Rng::seed_from_u64(step_seed(rng_seed, step) as u64);
    let pass_k = ctx.cfg.pass_k.clone();
    let wanted = |k: u64| k == 1 || pass_k.contains(&k);
    let delim = ctx.task.step_delimiter();
    let mut s = Sampler {
        task: ctx.task.as_mut(),
        codec: &ctx.codec,
        flops: &ctx.flops,
        samples: ctx.samples,
        max_new: ctx.max_new,
        spent: 0.0,
    };
    let pass = |s: &Sampler, set: &Option<Scored>, k: u64| -> Result<Option<f64>> {
        if wanted(k) {
            s.pass(set, k)
        } else {
            Ok(None)
        }
    };

    let train = s.run(
        model,
        &unprefixed(ctx.train.iter().map(|(p, _)| p)),
        &mut rng,
    )?;
    row.train_unpref_pass1 = pass(&s, &train, 1)?;
    row.train_unpref_pass8 = pass(&s, &train, 8)?;
    let heldout = s.run(model, &unprefixed(&ctx.heldout), &mut rng)?;
    row.heldout_pass1 = pass(&s, &heldout, 1)?;
    row.heldout_pass8 = pass(&s, &heldout, 8)?;
    row.heldout_pass64 = pass(&s, &heldout, 64)?;
    let ood = s.run(model, &unprefixed(&ctx.ood), &mut rng)?;
    row.ood_pass1 = pass(&s, &ood, 1)?;
    row.ood_pass8 = pass(&s, &ood, 8)?;
    let prefixed = prefixed_items(&ctx.train, &ctx.prefixes);
    let pref = s.run(model, &prefixed, &mut rng)?;
    row.train_pref_pass1 = pass(&s, &pref, 1)?;
    for cell in row.panel.iter_mut() {
        let items = panel_items(&ctx.panel, cell.0, s.codec)?;
        let scored = s.run(model, &items, &mut rng)?;
        cell.1 = pass(&s, &scored, 1)?;
    }
    let easy = s.run(model, &unprefixed(&ctx.easy), &mut rng)?;
    row.easy_pass1 = pass(&s, &easy, 1)?;

    if let Some(train) = &train {
        row.strategy_agree_unpref = agreement(train, &ctx.train, s.samples, delim);
        row.entropy_eval_unpref = parts::mean_of_rows(&train.rollouts.entropies);
    }
    if let (Some(base), Some(train)) = (ctx.base.as_deref(), &train) {
        let (kl, flops) = kl_to_base(model, base, &train.rollouts, &ctx.codec, &ctx.flops)?;
        row.kl_base_eval = kl;
        row.flops_diag = flops;
        if ctx.base_agree.is_none() {
            // Once per context, from a stream of its own: the base model never changes.
            let mut base_rng = ChaCha8Rng::seed_from_u64(step_seed(rng_seed, u64::MAX) as u64);
            let items = unprefixed(ctx.train.iter().map(|(p, _)| p));
            let scored = s.run(base, &items, &mut base_rng)?;
            let agree = scored.and_then(|b| agreement(&b, &ctx.train, s.samples, delim));
            ctx.base_agree = Some(agree);
        }
    }
    row.flops = s.spent;
    row.strategy_agree_base = ctx.base_agree.flatten();
    Ok(row)
}

/// The prefixed variants of the training problems (§2.3) whose problem is in `train`.
fn prefixed_items<'a>(
    train: &'a [(Problem, TraceRecord)],
    prefixes: &[PrefixRecord],
) -> Vec<Item<'a>> {
    let by_id: HashMap<&str, &Problem> = train.iter().map(|(p, _)| (p.id.as_str(), p)).collect();
    prefixes
        .iter()
        .filter_map(|r| {
            let problem = by_id.get(r.problem_id.as_str())?;
            Some(Item {
                problem,
                prefix: r.prefix.clone(),
            })
        })
        .collect()
}

/// The panel problems with their trace cut at `frac` of its tokens ([`parts::panel_cut`]).
fn panel_items<'a>(
    panel: &'a [(Problem, TraceRecord)],
    frac: f64,
    codec: &Codec,
) -> Result<Vec<Item<'a>>> {
    panel
        .iter()
        .map(|(problem, trace)| {
            let ids = codec
                .text(&trace.trace)
                .with_context(|| format!("trace of problem `{}`", problem.id))?;
            let cut = parts::panel_cut(ids.len(), frac);
            Ok(Item {
                problem,
                prefix: codec.decode(&ids[..cut])?.0,
            })
        })
        .collect()
}

/// Strategy agreement of the correct unprefixed completions of `scored` (rows of `train` ×
/// `samples`) with the stored traces.
fn agreement(
    scored: &Scored,
    train: &[(Problem, TraceRecord)],
    samples: usize,
    delim: Option<char>,
) -> Option<f64> {
    let pairs: Vec<(String, String)> = scored
        .rewards
        .iter()
        .enumerate()
        .filter(|(_, &r)| r > parts::CORRECT)
        .map(|(i, _)| (scored.texts[i].clone(), train[i / samples].1.trace.clone()))
        .collect();
    parts::strategy_agreement(&pairs, delim)
}

/// Rows per forward pass of the KL computation.
const KL_ROWS: usize = 256;

/// Mean exact `KL(π_θ ‖ π_0)` over the completion positions of `rollouts` (§5.2) and the
/// forward FLOPs of both models.
fn kl_to_base(
    model: &dyn LanguageModel,
    base: &dyn LanguageModel,
    rollouts: &Rollouts,
    codec: &Codec,
    flops: &FlopsModel,
) -> Result<(Option<f64>, f64)> {
    let rows = rollouts.training_rows();
    let device = model.var_store().device();
    let (mut sum, mut tokens, mut spent) = (0.0, 0.0, 0.0);
    for chunk in rows.chunks(KL_ROWS) {
        if chunk.iter().all(|(_, g)| g.is_empty()) {
            continue;
        }
        let b = policy::train_batch(chunk, codec.pad, device)?;
        let kl = tch::no_grad(|| -> Result<tch::Tensor> {
            let logits = model.forward(&b.input(), false)?; // (R, T, V)
            policy::exact_kl_to(base, &b, &logits) // (R, T)
        })?;
        let mask = b.completion_mask.to_kind(Kind::Double); // (R, T)
        sum += (kl.to_kind(Kind::Double) * &mask)
            .sum(Kind::Double)
            .double_value(&[]);
        tokens += mask.sum(Kind::Double).double_value(&[]);
        for (c, g) in chunk {
            // A forward pass over the len − 1 input positions, once per model.
            spent += 2.0 * flops.sampling(c.len() as u64, g.len() as u64);
        }
    }
    Ok(((tokens > 0.0).then(|| sum / tokens), spent))
}
