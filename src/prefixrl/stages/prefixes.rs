//! Stage `make-prefixes` (§2.3 Stage B): prefixes.jsonl, cut points of the traces of the
//! training set D (the first `train.n_problems` problems of traces.jsonl, one trace each).
//!
//! A trace of `|y|` tokens (its text encoded, no `<eos>`) is cut after `h` tokens,
//! `1 ≤ h < |y|`; the prefix is the text of those tokens and `frac = h / |y|`. Modes:
//! * `uniform`: `prefix.per_trace` cuts, `f ~ U[frac_lo, frac_hi]`, `h = clamp(round(f·|y|), 1, |y|−1)`;
//! * `fixed`: one cut per `prefix.fractions` entry, same rounding;
//! * `step_boundary`: uniform draws, each `h` snapped to the nearest end of a reasoning step
//!   (just after the task's step delimiter; ties to the earlier end), one cut per distinct end;
//! * `calibrated`: `4·per_trace` uniform candidates, each given `prefix.m_cal` base-model
//!   samples; the first `per_trace` whose success lies in `prefix.band` are kept with their
//!   `base_success`, and every candidate's sampling FLOPs are charged (summary.json
//!   `flops_calibration`, §2.3). Sampling is batched over all candidates of all traces.
//!
//! A trace too short to cut (`|y| < 2`) or without a cut left is skipped and counted.
//! `prefix_id` counts 0.. per problem.
use super::load::{self, Base, Codec, Split};
use crate::error::usage;
use crate::experiment::Ctx;
use crate::prefixrl::config::{PrefixMode, PrefixrlConfig, Stage};
use crate::prefixrl::inputs::Artifact;
use crate::prefixrl::jsonl::{self, PrefixRecord, TraceRecord};
use crate::prefixrl::policy::Context;
use crate::prefixrl::task::{self, Problem};
use crate::run::Run;
use anyhow::Result;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;

/// Candidates per kept cut in mode `calibrated`.
pub const CANDIDATES_PER_CUT: usize = 4;

/// `h = clamp(round(f·len), 1, len−1)` (§2.3); None when `len < 2`.
pub fn cut(frac: f64, len: usize) -> Option<usize> {
    (len >= 2).then(|| ((frac * len as f64).round() as usize).clamp(1, len - 1))
}

/// The step end nearest to `h` among `ends` that leave a non-empty prefix and completion
/// (`1 ≤ end < len`); ties go to the earlier end.
pub fn snap(h: usize, ends: &[usize], len: usize) -> Option<usize> {
    let inside = ends.iter().copied().filter(|&e| e >= 1 && e < len);
    inside.min_by_key(|&e| (e.abs_diff(h), e))
}

/// Token positions just after each `delimiter` token of `ids`.
pub fn step_ends(ids: &[i64], delimiter: i64) -> Vec<usize> {
    ids.iter()
        .enumerate()
        .filter(|(_, &t)| t == delimiter)
        .map(|(i, _)| i + 1)
        .collect()
}

pub fn run(cfg: &PrefixrlConfig, run: &mut Run, ctx: &mut Ctx) -> Result<()> {
    let traces_dir = load::input_dir(cfg, run, Artifact::Traces)?;
    let all = jsonl::read_traces(&load::traces_path(&traces_dir))?;
    let traces = load::first_per_problem(all, cfg.train.n_problems);
    let task = task::build(&cfg.task)?;
    let base = match cfg.prefix.mode {
        PrefixMode::Calibrated => Some(load::load_base(
            &load::input_dir(cfg, run, Artifact::Base)?,
            ctx.device,
        )?),
        _ => None,
    };
    let codec = match &base {
        Some(b) => b.codec.clone(),
        None => Codec::for_task(task.as_ref())?,
    };
    let delimiter = match cfg.prefix.mode {
        PrefixMode::StepBoundary => Some(delimiter_id(task.as_ref(), &codec)?),
        _ => None,
    };
    let mut rng = load::stage_rng(cfg.seed, Stage::MakePrefixes, 0);
    let mut cands: Vec<Candidate> = Vec::new();
    for (t, trace) in traces.iter().enumerate() {
        let ids = codec.text(&trace.trace)?;
        for (h, frac) in cuts(cfg, &ids, delimiter, &mut rng) {
            let prefix = codec.decode(&ids[..h])?.0;
            cands.push(Candidate {
                trace: t,
                h,
                frac,
                prefix,
                ids: ids[..h].to_vec(),
                success: None,
            });
        }
    }
    let mut flops_cal = None;
    if let Some(base) = &base {
        let data_dir = load::input_dir(cfg, run, Artifact::Problems)?;
        let pool = load::read_split(&data_dir, Split::Pool)?;
        let mut task = task;
        flops_cal = Some(calibrate(
            cfg,
            base,
            task.as_mut(),
            &pool,
            &traces,
            &mut cands,
            &mut rng,
        )?);
    }
    let records = records(cfg, &traces, cands);
    jsonl::write_jsonl(&run.path(Artifact::Prefixes.file()), &records)?;
    let with_prefix = records.iter().filter(|r| r.prefix_id == 0).count();
    if !run.quiet {
        eprintln!(
            "make-prefixes: {} prefixes of {with_prefix} of {} traces (mode {})",
            records.len(),
            traces.len(),
            mode_name(cfg.prefix.mode)
        );
    }
    if records.is_empty() {
        return Err(usage(format!(
            "make-prefixes: no prefix from {} traces (mode {}): traces too short, no step \
             boundary inside them, or (calibrated) no cut in prefix.band; widen prefix.band or \
             use mode uniform",
            traces.len(),
            mode_name(cfg.prefix.mode)
        )));
    }
    let summary = serde_json::json!({
        "mode": cfg.prefix.mode,
        "traces": traces.len(),
        "traces_with_prefix": with_prefix,
        "prefixes": records.len(),
        "flops_calibration": flops_cal,
    });
    load::update_summary(run, "make_prefixes", summary)
}

/// The mode as the config spells it.
fn mode_name(mode: PrefixMode) -> &'static str {
    match mode {
        PrefixMode::Uniform => "uniform",
        PrefixMode::Fixed => "fixed",
        PrefixMode::Calibrated => "calibrated",
        PrefixMode::StepBoundary => "step_boundary",
    }
}

/// One cut of one trace (index into the traces of D).
struct Candidate {
    trace: usize,
    h: usize,
    frac: f64,
    prefix: String,
    ids: Vec<i64>,
    success: Option<f64>,
}

/// The token id of the task's step delimiter (mode step_boundary).
fn delimiter_id(task: &dyn task::Task, codec: &Codec) -> Result<i64> {
    let d = task.step_delimiter().ok_or_else(|| {
        usage(format!(
            "prefix.mode step_boundary needs a task with a step delimiter; task `{}` has none: \
             use mode uniform or fixed",
            task.name()
        ))
    })?;
    match codec.text(&d.to_string())?.as_slice() {
        [id] => Ok(*id),
        _ => Err(usage(format!(
            "the step delimiter {d:?} of task `{}` is not one token",
            task.name()
        ))),
    }
}

/// The cut points (h, frac) of one trace of token ids under the config's mode.
fn cuts(
    cfg: &PrefixrlConfig,
    ids: &[i64],
    delimiter: Option<i64>,
    rng: &mut ChaCha8Rng,
) -> Vec<(usize, f64)> {
    let p = &cfg.prefix;
    let len = ids.len();
    let mut uniform = |k: usize| -> Vec<usize> {
        (0..k)
            .filter_map(|_| cut(rng.gen_range(p.frac_lo..=p.frac_hi), len))
            .collect()
    };
    let hs: Vec<usize> = match p.mode {
        PrefixMode::Uniform => uniform(p.per_trace),
        PrefixMode::Calibrated => uniform(CANDIDATES_PER_CUT * p.per_trace),
        PrefixMode::Fixed => p.fractions.iter().filter_map(|&f| cut(f, len)).collect(),
        PrefixMode::StepBoundary => {
            let ends = step_ends(ids, delimiter.unwrap_or(-1));
            let mut hs: Vec<usize> = uniform(p.per_trace)
                .into_iter()
                .filter_map(|h| snap(h, &ends, len))
                .collect();
            hs.sort_unstable();
            hs.dedup();
            hs
        }
    };
    hs.into_iter().map(|h| (h, h as f64 / len as f64)).collect()
}

/// Base success of every candidate (`prefix.m_cal` samples each, scored on prefix ⊕
/// completion); returns the sampling FLOPs.
fn calibrate(
    cfg: &PrefixrlConfig,
    base: &Base,
    task: &mut dyn task::Task,
    pool: &[Problem],
    traces: &[TraceRecord],
    cands: &mut [Candidate],
    rng: &mut ChaCha8Rng,
) -> Result<f64> {
    let by_id: HashMap<&str, &Problem> = pool.iter().map(|p| (p.id.as_str(), p)).collect();
    let mut problems = Vec::with_capacity(cands.len());
    let mut contexts = Vec::with_capacity(cands.len());
    for c in cands.iter() {
        let id = traces[c.trace].problem_id.as_str();
        let p = by_id.get(id).ok_or_else(|| {
            usage(format!(
                "traces.jsonl: problem `{id}` is not in the problem pool (inputs.data)"
            ))
        })?;
        contexts.push(Context::new(base.codec.prompt(p)?, c.ids.clone()));
        problems.push(*p);
    }
    let m = cfg.prefix.m_cal;
    let sampling = (m, cfg.rl.max_new_tokens, cfg.traces.temperature);
    let owners: Vec<(&Problem, &str)> = problems
        .iter()
        .zip(cands.iter())
        .map(|(p, c)| (*p, c.prefix.as_str()))
        .collect();
    let (wins, flops) = load::successes(base, task, &contexts, &owners, sampling, rng)?;
    for (c, w) in cands.iter_mut().zip(wins) {
        c.success = Some(w as f64 / m as f64);
    }
    Ok(flops)
}

/// The prefix records in trace order: calibrated mode keeps the first `per_trace` candidates
/// of each trace whose success is in the band.
fn records(
    cfg: &PrefixrlConfig,
    traces: &[TraceRecord],
    cands: Vec<Candidate>,
) -> Vec<PrefixRecord> {
    let [lo, hi] = cfg.prefix.band;
    let mut next_id = vec![0u32; traces.len()];
    let mut out = Vec::with_capacity(cands.len());
    for c in cands {
        if let Some(s) = c.success {
            if !(lo..=hi).contains(&s) || next_id[c.trace] as usize >= cfg.prefix.per_trace {
                continue;
            }
        }
        out.push(PrefixRecord {
            problem_id: traces[c.trace].problem_id.clone(),
            prefix_id: next_id[c.trace],
            h_tokens: c.h as u32,
            frac: c.frac,
            prefix: c.prefix,
            base_success: c.success,
        });
        next_id[c.trace] += 1;
    }
    out
}
