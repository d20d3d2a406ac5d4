//! The sampling of stage `collect`: the probe filter and rejection sampling (§2.2), batched.
//!
//! Rejection sampling runs in rounds: every unsolved problem draws a block of attempts (8, then
//! 16, 32, … up to 256, never past `traces.budget_r` in all), all problems of a round in
//! batched calls. A problem's charge is what the sequential procedure of §2.2 would have paid:
//! the attempts up to and including its first success, each costing its sampling FLOPs
//! (prompt plus generated tokens, §5.1); the attempts drawn after it in the same block are
//! not charged. The kept trace's behaviour log-probs are the untempered model's per-token
//! log-probs of the sampled completion, `<eos>` included (log π0 of §2.2).
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

/// A problem's first correct sample and what finding it cost.
pub struct Found {
    pub trace: String,
    pub attempts: u64,
    pub gen_tokens: u64,
    pub flops: f64,
    /// One per completion token, `<eos>` included.
    pub logprobs: Vec<f64>,
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
/// `traces.budget_r` each: the found trace (or None) per entry of `which`.
pub fn rejection(
    cfg: &PrefixrlConfig,
    base: &Base,
    task: &mut dyn Task,
    pool: &[Problem],
    which: &[usize],
    rng: &mut ChaCha8Rng,
) -> Result<Vec<Option<Found>>> {
    let fm = load::flops_model(base)?;
    let budget = cfg.traces.budget_r;
    let mut spent: Vec<(u64, u64, f64)> = vec![(0, 0, 0.0); which.len()]; // attempts, tokens, flops
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
                for r in c * ro.n..(c + 1) * ro.n {
                    let s = &mut spent[a];
                    s.0 += 1;
                    s.1 += ro.completions[r].len() as u64;
                    s.2 += load::row_flops(&fm, ro, r);
                    let p = &pool[which[a]];
                    if load::score(task, p, "", &ro.completions[r], &base.codec)?.reward == 1.0 {
                        let (trace, _) = base.codec.decode(&ro.completions[r])?;
                        found[a] = Some(Found {
                            trace,
                            attempts: s.0,
                            gen_tokens: s.1,
                            flops: s.2,
                            logprobs: ro.model_logprobs[r].clone(),
                        });
                        break;
                    }
                }
            }
            Ok(())
        })?;
        used += k;
        block = (block * 2).min(MAX_BLOCK);
        active.retain(|&a| found[a].is_none());
    }
    Ok(found)
}

/// `<bos>` prompt contexts of `problems`.
fn prompts(base: &Base, problems: &[Problem]) -> Result<Vec<Context>> {
    problems
        .iter()
        .map(|p| Ok(Context::unprefixed(base.codec.prompt(p)?)))
        .collect()
}
