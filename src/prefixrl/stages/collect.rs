//! Stage `collect` (§2.2 Stage A, §7.5): the off-policy traces D_off of the hard pool.
//!
//! 1. Probe filter: `hard.k_probe` samples of the base model per pool problem; the problems it
//!    never solves pass (mimics "pass@512 = 0"). It runs whenever a base model is at hand
//!    (`inputs.base`, or the run's own `base/` under `stage: all`; else the `model:` source's);
//!    without one (sources `oracle`, `jsonl:` alone) every pool problem passes.
//! 2. Traces from `traces.source`: `base` / `model:<run dir>` rejection-sample up to
//!    `traces.budget_r` attempts per problem ([`super::collect_sample`]); `oracle` takes the
//!    task's solutions; `jsonl:<file>` reads the user's traces (problems must be in the pool,
//!    every trace must score 1; errors name the line).
//! 3. `traces.allow_oracle_fallback`: a problem left without a trace takes its oracle solution
//!    (source `oracle`, flops 0), counted in the summary — never silently.
//!
//! Writes traces.jsonl (pool order), collect.csv (one row per pool problem) and the summary;
//! a pool with no trace at all is an error naming the knobs to turn.
//!
//! Compute (§2.2, §5.1): every attempt is charged, so the summary's `flops_rejection` is the
//! kept traces' FLOPs (`flops_traces`, the records' `flops`) plus `flops_failed`, all
//! `budget_r` attempts of each filtered problem that found no trace (oracle fallback or not).
//! Train charges that sum. `flops_failed` is 0 for source `oracle` (nothing sampled) and null
//! for `jsonl:` (what the file's producer spent on failures is not known).
//! `fraction_with_trace` counts only the traces the source found, not oracle fallbacks.
use super::collect_sample::{self, Found, Spent};
use super::load::{self, Base, Codec, Split};
use crate::error::usage;
use crate::experiment::Ctx;
use crate::prefixrl::config::{PrefixrlConfig, Stage, TraceSource};
use crate::prefixrl::inputs::{self, Artifact};
use crate::prefixrl::jsonl::{self, TraceRecord};
use crate::prefixrl::task::{self, Problem, Task};
use crate::run::Run;
use anyhow::{anyhow, Result};
use std::collections::HashMap;

/// collect.csv's columns: one row per pool problem. `attempts`, `gen_tokens`, `flops`: the
/// problem's rejection sampling, every attempt, found or not (sources `base`, `model:`);
/// otherwise its first trace record's.
pub const COLUMNS: &[&str] = &[
    "problem_id",
    "probe_successes",
    "passed_filter",
    "traces",
    "source",
    "attempts",
    "gen_tokens",
    "flops",
];

/// Below this share of filtered problems with a trace, calibrate again (§9).
pub const MIN_TRACE_SHARE: f64 = 0.3;

pub fn run(cfg: &PrefixrlConfig, run: &mut Run, ctx: &mut Ctx) -> Result<()> {
    let data_dir = load::input_dir(cfg, run, Artifact::Problems)?;
    let pool = load::read_split(&data_dir, Split::Pool)?;
    let mut task = task::build(&cfg.task)?;
    let own = own_base(cfg, run, ctx)?;
    let other = match &cfg.traces.source {
        TraceSource::Model(dir) => {
            inputs::check_run("traces.source", dir, true)?;
            Some(load::load_base(dir, ctx.device)?)
        }
        _ => None,
    };
    let mut rng = load::stage_rng(cfg.seed, Stage::Collect, 0);
    let filter_model = own.as_ref().or(other.as_ref());
    let probe = match filter_model {
        Some(b) => Some(collect_sample::probe(
            cfg,
            b,
            task.as_mut(),
            &pool,
            &mut rng,
        )?),
        None => None,
    };
    let passed: Vec<bool> = match &probe {
        Some(p) => p.successes.iter().map(|&s| s == 0).collect(),
        None => vec![true; pool.len()],
    };
    let hard: Vec<usize> = (0..pool.len()).filter(|&i| passed[i]).collect();
    let mut traces: Vec<Vec<TraceRecord>> = vec![Vec::new(); pool.len()];
    // What each sampled problem's attempts cost (sources base and model: only).
    let mut cost: Vec<Option<Spent>> = vec![None; pool.len()];
    match &cfg.traces.source {
        TraceSource::Base | TraceSource::Model(_) => {
            let (sampler, tag) = match (&cfg.traces.source, &own, &other) {
                (TraceSource::Base, Some(b), _) => (b, "rejection:base".to_string()),
                (TraceSource::Model(dir), _, Some(b)) => {
                    (b, format!("rejection:model:{}", dir.display()))
                }
                _ => return Err(anyhow!("internal: no model for traces.source")),
            };
            let tried =
                collect_sample::rejection(cfg, sampler, task.as_mut(), &pool, &hard, &mut rng)?;
            for (&i, a) in hard.iter().zip(tried) {
                cost[i] = Some(a.spent);
                traces[i].extend(a.found.map(|f| sampled(&pool[i], f, a.spent, &tag)));
            }
        }
        TraceSource::Oracle => {
            let codec = sampling_codec(&own, &other, task.as_ref())?;
            for &i in &hard {
                traces[i].push(oracle_trace(task.as_mut(), &pool[i], &codec)?);
            }
        }
        TraceSource::Jsonl(file) => {
            for (i, t) in user_traces(file, &pool, task.as_mut(), &own, &other)? {
                if passed[i] {
                    traces[i].push(t);
                }
            }
        }
    }
    let with_trace = hard.iter().filter(|&&i| !traces[i].is_empty()).count();
    let flops_failed = match &cfg.traces.source {
        TraceSource::Base | TraceSource::Model(_) => Some(
            hard.iter()
                .filter(|&&i| traces[i].is_empty())
                .filter_map(|&i| cost[i].map(|c| c.flops))
                .fold(0.0, |sum, f| sum + f),
        ),
        TraceSource::Oracle => Some(0.0),
        TraceSource::Jsonl(_) => None,
    };
    let mut fallback = 0;
    if cfg.traces.allow_oracle_fallback {
        let codec = sampling_codec(&own, &other, task.as_ref())?;
        for &i in &hard {
            if traces[i].is_empty() {
                traces[i].push(oracle_trace(task.as_mut(), &pool[i], &codec)?);
                fallback += 1;
            }
        }
    }
    write_csv(run, &pool, probe.as_ref(), &passed, &traces, &cost)?;
    let all: Vec<TraceRecord> = traces.iter().flatten().cloned().collect();
    jsonl::write_jsonl(&run.path(Artifact::Traces.file()), &all)?;
    let counts = Counts {
        with_trace,
        fallback,
        flops_failed,
    };
    summarize(cfg, run, &pool, probe.as_ref(), &hard, &traces, &counts)
}

/// What the summary counts besides the traces: the filtered problems whose source found a
/// trace, the oracle fallbacks, and the FLOPs of the problems that found none (None: unknown).
struct Counts {
    with_trace: usize,
    fallback: usize,
    flops_failed: Option<f64>,
}

/// The base model of `inputs.base` (or the run's own under `stage: all`) when the config has
/// one; required for `traces.source: base`.
fn own_base(cfg: &PrefixrlConfig, run: &Run, ctx: &Ctx) -> Result<Option<Base>> {
    let at_hand = match cfg.stage {
        Stage::All => inputs::local(run, Artifact::Base).exists(),
        _ => cfg.inputs.base.is_some(),
    };
    if !at_hand && cfg.traces.source != TraceSource::Base {
        return Ok(None);
    }
    let dir = load::input_dir(cfg, run, Artifact::Base)?;
    Ok(Some(load::load_base(&dir, ctx.device)?))
}

/// The codec traces are encoded with: the base model's, else the task's.
fn sampling_codec(own: &Option<Base>, other: &Option<Base>, task: &dyn Task) -> Result<Codec> {
    match own.as_ref().or(other.as_ref()) {
        Some(b) => Ok(b.codec.clone()),
        None => Codec::for_task(task),
    }
}

/// A sampled trace's record, with what its attempts cost (`spent`).
fn sampled(p: &Problem, f: Found, spent: Spent, source: &str) -> TraceRecord {
    TraceRecord {
        problem_id: p.id.clone(),
        trace: f.trace,
        source: source.to_string(),
        attempts: spent.attempts,
        gen_tokens: spent.gen_tokens,
        flops: spent.flops,
        reward: 1.0,
        behaviour_logprobs: Some(f.logprobs),
    }
}

/// The task's solution of `p` as a trace (source `oracle`, nothing charged); it must score 1.
fn oracle_trace(task: &mut dyn Task, p: &Problem, codec: &Codec) -> Result<TraceRecord> {
    let trace = task.oracle(p).ok_or_else(|| {
        usage(format!(
            "problem `{}` has no oracle solution (traces.source oracle / allow_oracle_fallback)",
            p.id
        ))
    })?;
    let v = load::score(task, p, "", &codec.completion(&trace)?, codec)?;
    if v.reward != 1.0 {
        return Err(usage(format!(
            "problem `{}`: its oracle solution fails the checker ({})",
            p.id,
            v.reason.unwrap_or("?")
        )));
    }
    Ok(TraceRecord {
        problem_id: p.id.clone(),
        trace,
        source: "oracle".into(),
        attempts: 0,
        gen_tokens: 0,
        flops: 0.0,
        reward: 1.0,
        behaviour_logprobs: None,
    })
}

/// The traces of a user's file with the pool index of their problem; a problem not in the
/// pool or a trace the checker rejects is an error naming the line.
fn user_traces(
    file: &std::path::Path,
    pool: &[Problem],
    task: &mut dyn Task,
    own: &Option<Base>,
    other: &Option<Base>,
) -> Result<Vec<(usize, TraceRecord)>> {
    jsonl::read_traces(file)?; // checks every line first
    let rows: Vec<(usize, TraceRecord)> = jsonl::read_lines(file)?;
    let codec = sampling_codec(own, other, task)?;
    let index: HashMap<&str, usize> = pool
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id.as_str(), i))
        .collect();
    let mut out = Vec::with_capacity(rows.len());
    for (line, t) in rows {
        let at = |why: String| usage(format!("{}:{line}: {why}", file.display()));
        let Some(&i) = index.get(t.problem_id.as_str()) else {
            return Err(at(format!(
                "problem `{}` is not in the problem pool (problems.jsonl of inputs.data)",
                t.problem_id
            )));
        };
        let ids = codec
            .completion(&t.trace)
            .map_err(|e| at(format!("{e:#}")))?;
        let v = load::score(task, &pool[i], "", &ids, &codec)?;
        if v.reward != 1.0 {
            return Err(at(format!(
                "the trace of `{}` fails the task's checker ({})",
                t.problem_id,
                v.reason.unwrap_or("?")
            )));
        }
        out.push((i, t));
    }
    out.sort_by_key(|(i, _)| *i); // pool order, file order within a problem
    Ok(out)
}

fn write_csv(
    run: &Run,
    pool: &[Problem],
    probe: Option<&collect_sample::Probe>,
    passed: &[bool],
    traces: &[Vec<TraceRecord>],
    cost: &[Option<Spent>],
) -> Result<()> {
    let mut csv = run.csv("collect.csv", COLUMNS)?;
    for (i, p) in pool.iter().enumerate() {
        let mut row = csv.new_row();
        row.text("problem_id", &p.id)
            .opt("probe_successes", probe.map(|pr| pr.successes[i] as f64))
            .num("passed_filter", f64::from(u8::from(passed[i])))
            .num("traces", traces[i].len() as f64);
        if let Some(t) = traces[i].first() {
            row.text("source", &t.source);
        }
        let spent = cost[i].or_else(|| {
            traces[i].first().map(|t| Spent {
                attempts: t.attempts,
                gen_tokens: t.gen_tokens,
                flops: t.flops,
            })
        });
        if let Some(c) = spent {
            row.num("attempts", c.attempts as f64)
                .num("gen_tokens", c.gen_tokens as f64)
                .num("flops", c.flops);
        }
        csv.write(&row)?;
    }
    Ok(())
}

fn summarize(
    cfg: &PrefixrlConfig,
    run: &Run,
    pool: &[Problem],
    probe: Option<&collect_sample::Probe>,
    hard: &[usize],
    traces: &[Vec<TraceRecord>],
    counts: &Counts,
) -> Result<()> {
    let Counts {
        with_trace,
        fallback,
        flops_failed,
    } = *counts;
    let share = with_trace as f64 / hard.len().max(1) as f64;
    let flops = traces.iter().flatten().fold(0.0, |sum, t| sum + t.flops);
    let rejection = flops_failed.map(|f| flops + f);
    let summary = serde_json::json!({
        "source": String::from(cfg.traces.source.clone()),
        "pool": pool.len(),
        "probe_filter": probe.map(|_| "base model").unwrap_or("skipped: no base model"),
        "k_probe": cfg.hard.k_probe,
        "passed_filter": hard.len(),
        "with_trace": with_trace,
        "fraction_with_trace": share,
        "oracle_fallback": fallback,
        "flops_probe": probe.map(|p| p.flops),
        "flops_traces": flops,
        "flops_failed": flops_failed,
        "flops_rejection": rejection,
        "warning": (share < MIN_TRACE_SHARE).then(|| format!(
            "only {:.0}% of the filtered problems got a trace from the source ({fallback} oracle \
             fallback not counted; < {:.0}%, §9): calibrate again",
            100.0 * share,
            100.0 * MIN_TRACE_SHARE
        )),
    });
    load::update_summary(run, "collect", summary)?;
    if !run.quiet {
        let failed = flops_failed.map_or("unknown (jsonl traces)".into(), |f| format!("{f:.3e}"));
        eprintln!(
            "collect: pool {}, passed filter {}, with trace {with_trace} ({:.0}%; {fallback} oracle fallback), traces FLOPs {flops:.3e}, failed problems' FLOPs {failed}",
            pool.len(),
            hard.len(),
            100.0 * share
        );
    }
    if with_trace + fallback == 0 {
        // Not a usage error: the run directory (collect.csv) stays for diagnosis.
        return Err(anyhow!(
            "no problem got a trace ({} of {} pool problems passed the probe filter): raise \
             traces.budget_r, pretrain longer (pretrain.steps) or on harder data \
             (data.easy_levels), lower data.hard_level, or use traces.source oracle \
             (allow_oracle_fallback only for smoke runs, §9)",
            hard.len(),
            pool.len()
        ));
    }
    if share < MIN_TRACE_SHARE && !run.quiet {
        eprintln!(
            "warning: only {:.0}% of the filtered problems got a trace from the source \
             ({fallback} oracle fallback not counted; < {:.0}%, §9): run calibrate and adjust \
             data.hard_level or traces.budget_r",
            100.0 * share,
            100.0 * MIN_TRACE_SHARE
        );
    }
    Ok(())
}
