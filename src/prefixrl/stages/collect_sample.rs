//! The sampling of stage `collect`: the probe filter and rejection sampling (§2.2), batched.
//!
//! Rejection sampling runs in rounds: every unsolved problem draws a block of attempts (8, then
//! 16, 32, … up to 256, never past `traces.budget_r` in all), all problems of a round in
//! batched calls. A problem's charge is what the sequential procedure of §2.2 would have paid:
//! every attempt up to and including its first success, each costing its sampling FLOPs
//! (prompt plus generated tokens, §5.1), and all `traces.budget_r` attempts of a problem that
//! never succeeds; the attempts drawn after a success in the same block are not charged. The
//! kept trace's behaviour log-probs are the untempered model's per-token log-probs of the
//! sampled completion, `<eos>` included (log π0 of §2.2).
use super::load::{self, Base};
use crate::prefixrl::config::PrefixrlConfig;
use crate::prefixrl::policy::Context;
use crate::prefixrl::task::{Problem, Task};
use anyhow::Result;
use rand_chacha::ChaCha8Rng;

/// The probe filter's counts: successes per pool problem and the FLOPs spent.
pub struct Probe {
    pub successes: Vec<u64>,
    pub flops: f64,
}

/// A problem's first correct sample.
pub struct Found {
    pub trace: String,
    /// One per completion token, `<eos>` included.
    pub logprobs: Vec<f64>,
}

/// A problem's rejection sampling: what its attempts cost (all of them, found or not) and the
/// trace they found, if any.
pub struct Attempted {
    pub spent: Spent,
    pub found: Option<Found>,
}

/// The first and the largest block of attempts per problem and round.
const FIRST_BLOCK: u64 = 8;
const MAX_BLOCK: u64 = 256;

/// `hard.k_probe` samples of `base` per pool problem (temperature `traces.temperature`).
pub fn probe(
    cfg: &PrefixrlConfig,
    base: &Base,
    task: &mut dyn Task,
    pool: &[Problem],
    rng: &mut ChaCha8Rng,
) -> Result<Probe> {
    let fm = load::flops_model(base)?;
    let contexts = prompts(base, pool)?;
    let mut out = Probe {
        successes: vec![0; pool.len()],
        flops: 0.0,
    };
    let sampling = (
        cfg.hard.k_probe,
        cfg.rl.max_new_tokens,
        cfg.traces.temperature,
    );
    let model = base.model.as_ref();
    load::sample_chunks(model, &base.codec, &contexts, sampling, rng, |first, ro| {
        for r in 0..ro.rows() {
            let i = first + r / ro.n;
            out.flops += load::row_flops(&fm, ro, r);
            let v = load::score(task, &pool[i], "", &ro.completions[r], &base.codec)?;
            out.successes[i] += u64::from(v.reward == 1.0);
        }
        Ok(())
    })?;
    Ok(out)
}

/// Rejection sampling of `base` on the problems `which` (indices into `pool`), budget
/// `traces.budget_r` each: per entry of `which`, what its attempts cost and the found trace (or
/// None).
pub fn rejection(
    cfg: &PrefixrlConfig,
    base: &Base,
    task: &mut dyn Task,
    pool: &[Problem],
    which: &[usize],
    rng: &mut ChaCha8Rng,
) -> Result<Vec<Attempted>> {
    let fm = load::flops_model(base)?;
    let budget = cfg.traces.budget_r;
    let mut spent: Vec<Spent> = vec![Spent::default(); which.len()];
    let mut found: Vec<Option<Found>> = which.iter().map(|_| None).collect();
    let mut active: Vec<usize> = (0..which.len()).collect();
    let (mut used, mut block) = (0u64, FIRST_BLOCK);
    while !active.is_empty() && used < budget {
        let k = block.min(budget - used);
        let chosen: Vec<Problem> = active.iter().map(|&a| pool[which[a]].clone()).collect();
        let contexts = prompts(base, &chosen)?;
        let sampling = (k as usize, cfg.rl.max_new_tokens, cfg.traces.temperature);
        let model = base.model.as_ref();
        load::sample_chunks(model, &base.codec, &contexts, sampling, rng, |first, ro| {
            for c in 0..ro.contexts.len() {
                let a = active[first + c];
                let p = &pool[which[a]];
                let rows = (c * ro.n..(c + 1) * ro.n).map(|r| {
                    let v = load::score(task, p, "", &ro.completions[r], &base.codec)?;
                    let len = ro.completions[r].len() as u64;
                    Ok((len, load::row_flops(&fm, ro, r), v.reward == 1.0))
                });
                if let Some(j) = charge_until_success(&mut spent[a], rows)? {
                    let r = c * ro.n + j;
                    found[a] = Some(Found {
                        trace: base.codec.decode(&ro.completions[r])?.0,
                        logprobs: ro.model_logprobs[r].clone(),
                    });
                }
            }
            Ok(())
        })?;
        used += k;
        block = (block * 2).min(MAX_BLOCK);
        active.retain(|&a| found[a].is_none());
    }
    Ok(spent
        .into_iter()
        .zip(found)
        .map(|(spent, found)| Attempted { spent, found })
        .collect())
}

/// What a problem's attempts have cost so far.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Spent {
    pub attempts: u64,
    pub gen_tokens: u64,
    pub flops: f64,
}

/// Charge `attempts` (generated tokens, FLOPs, success) in order up to and including the
/// first success, as the sequential procedure of §2.2 would (all of them when none succeeds);
/// the index of that success. The attempts after it are neither charged nor scored.
pub fn charge_until_success(
    spent: &mut Spent,
    attempts: impl IntoIterator<Item = Result<(u64, f64, bool)>>,
) -> Result<Option<usize>> {
    for (j, attempt) in attempts.into_iter().enumerate() {
        let (tokens, flops, success) = attempt?;
        spent.attempts += 1;
        spent.gen_tokens += tokens;
        spent.flops += flops;
        if success {
            return Ok(Some(j));
        }
    }
    Ok(None)
}

/// `<bos>` prompt contexts of `problems`.
fn prompts(base: &Base, problems: &[Problem]) -> Result<Vec<Context>> {
    problems
        .iter()
        .map(|p| Ok(Context::unprefixed(base.codec.prompt(p)?)))
        .collect()
}
