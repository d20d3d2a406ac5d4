//! Stage `gen-data` (§2.6 step 0, §7.4–§7.6): the problem files of [`Split`], drawn from the
//! task with the stage's seeded RNG. A generating task (countdown, path) samples each split:
//! `pretrain` (data.n_pretrain oracle-solved problems, levels data.easy_levels in the shares
//! data.easy_mix), the hard `pool` (data.pool_size, level data.hard_level, distinct prompts),
//! `heldout` (data.n_heldout, same level, prompts disjoint from the pool), `ood` (data.n_ood,
//! level hard_level + 1) and `easy` (100 easy problems for easy_pass1). A file-backed task
//! (exact-answer) shuffles its fixed pool once and deals it out instead, each problem to at
//! most one split. A task that cannot generate (external) is refused: its problems come from
//! a directory of the user's files named by `inputs.data` ([`crate::prefixrl::inputs::own_problems`]).
use super::load::{self, Split};
use crate::error::usage;
use crate::experiment::Ctx;
use crate::prefixrl::config::{PrefixrlConfig, Stage, TaskConfig};
use crate::prefixrl::task::{self, Problem, Task};
use crate::run::Run;
use anyhow::Result;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;

/// Easy problems for `easy_pass1` (§7.9: tracks forgetting).
pub const N_EASY: usize = 100;

/// Redraws allowed per problem when its prompt is taken already.
const REDRAWS: usize = 1000;

pub fn run(cfg: &PrefixrlConfig, run: &mut Run, _ctx: &mut Ctx) -> Result<()> {
    if matches!(cfg.task, TaskConfig::External(_)) {
        return Err(usage(
            "task kind `external` does not generate problems, so gen-data cannot run: write \
             your problems (§7.2 lines) into a directory as problems.jsonl (the hard pool), \
             pretrain.jsonl (oracle-solved, for pretrain), heldout.jsonl and ood.jsonl (for the \
             evaluations) and optionally easy.jsonl, and set inputs.data to that directory \
             (docs/prefixrl.md, \"Your own task\"); or use kind `exact-answer` with task.file",
        ));
    }
    let task = task::build(&cfg.task)?;
    let mut rng = load::stage_rng(cfg.seed, Stage::GenData, 0);
    let splits = match task.fixed_pool() {
        Some(pool) => deal(cfg, pool, &mut rng)?,
        None => generate(cfg, task.as_ref(), &mut rng)?,
    };
    let mut counts = serde_json::Map::new();
    for (split, rows) in Split::ALL.iter().zip(&splits) {
        load::write_split(&run.dir, *split, rows)?;
        counts.insert(split.file().into(), rows.len().into());
    }
    if !run.quiet {
        let shown: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
        eprintln!("gen-data: {}", shown.join(", "));
    }
    let summary = serde_json::json!({
        "task": task.name(),
        "fixed_pool": task.fixed_pool().is_some(),
        "hard_level": cfg.data.hard_level,
        "files": counts,
    });
    load::update_summary(run, "gen_data", summary)
}

/// How many of `n` fall to each level: `n·share` rounded down, the remainder to the levels
/// with the largest fractional parts (so the counts sum to `n`).
pub fn level_counts(n: usize, shares: &[f64]) -> Vec<usize> {
    let exact: Vec<f64> = shares.iter().map(|s| s * n as f64).collect();
    let mut counts: Vec<usize> = exact.iter().map(|e| e.floor() as usize).collect();
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|&a, &b| (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor())));
    let missing = n.saturating_sub(counts.iter().sum());
    for &i in order.iter().cycle().take(missing) {
        counts[i] += 1;
    }
    counts
}

/// The five splits of a generating task, in [`Split::ALL`] order.
fn generate(
    cfg: &PrefixrlConfig,
    task: &dyn Task,
    rng: &mut ChaCha8Rng,
) -> Result<[Vec<Problem>; 5]> {
    let d = &cfg.data;
    let mut pretrain = Vec::with_capacity(d.n_pretrain);
    for (level, count) in d
        .easy_levels
        .iter()
        .zip(level_counts(d.n_pretrain, &d.easy_mix))
    {
        for _ in 0..count {
            let id = format!("pre{level}-{:06}", pretrain.len());
            pretrain.push(task.sample(rng, *level, id)?);
        }
    }
    pretrain.shuffle(rng);
    let mut taken = HashSet::new();
    let pool = distinct(
        task,
        rng,
        d.hard_level,
        d.pool_size,
        "pool",
        &mut taken,
        "data.pool_size",
    )?;
    let heldout = distinct(
        task,
        rng,
        d.hard_level,
        d.n_heldout,
        "heldout",
        &mut taken,
        "data.n_heldout",
    )?;
    let ood = (0..d.n_ood)
        .map(|i| task.sample(rng, d.hard_level + 1, format!("ood-{i:06}")))
        .collect::<Result<Vec<_>>>()?;
    let mut easy = Vec::with_capacity(N_EASY);
    for (level, count) in d.easy_levels.iter().zip(level_counts(N_EASY, &d.easy_mix)) {
        for _ in 0..count {
            let id = format!("easy-{:06}", easy.len());
            easy.push(task.sample(rng, *level, id)?);
        }
    }
    Ok([pretrain, pool, heldout, ood, easy])
}

/// `n` problems of `level` whose prompts are not in `taken` (they are added to it).
fn distinct(
    task: &dyn Task,
    rng: &mut ChaCha8Rng,
    level: u32,
    n: usize,
    tag: &str,
    taken: &mut HashSet<String>,
    key: &str,
) -> Result<Vec<Problem>> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let id = format!("{tag}-{:06}", out.len());
        let mut tries = 0;
        let p = loop {
            let p = task.sample(rng, level, id.clone())?;
            if taken.insert(p.prompt.clone()) {
                break p;
            }
            tries += 1;
            if tries >= REDRAWS {
                return Err(usage(format!(
                    "gen-data: found only {} distinct new problems of level {level} for {key} = \
                     {n} ({REDRAWS} draws in a row repeated a prompt): lower {key} or raise \
                     data.hard_level or the task's ranges",
                    out.len()
                )));
            }
        };
        out.push(p);
    }
    Ok(out)
}

/// The five splits of a fixed pool: shuffled once, then the hard level's problems go to the
/// pool and the held-out set, level hard+1's to ood, and the easy levels' to pretrain (those
/// with an oracle solution) and easy; no problem lands in two splits. A short split is filled
/// as far as the file allows (the summary counts say how far); an empty pool is an error.
fn deal(
    cfg: &PrefixrlConfig,
    fixed: &[Problem],
    rng: &mut ChaCha8Rng,
) -> Result<[Vec<Problem>; 5]> {
    let d = &cfg.data;
    let mut rest: Vec<Problem> = fixed.to_vec();
    rest.shuffle(rng);
    let mut take = |n: usize, keep: &dyn Fn(&Problem) -> bool| -> Vec<Problem> {
        let (mut hit, mut miss) = (Vec::new(), Vec::new());
        for p in rest.drain(..) {
            if hit.len() < n && keep(&p) {
                hit.push(p);
            } else {
                miss.push(p);
            }
        }
        rest = miss;
        hit
    };
    let hard = d.hard_level;
    let pool = take(d.pool_size, &|p| p.difficulty == hard);
    if pool.is_empty() {
        return Err(usage(format!(
            "gen-data: the task's problem file has no problem of difficulty {hard} \
             (data.hard_level): set data.hard_level to a difficulty the file has"
        )));
    }
    let heldout = take(d.n_heldout, &|p| p.difficulty == hard);
    let ood = take(d.n_ood, &|p| p.difficulty == hard + 1);
    let easy_level = |p: &Problem| d.easy_levels.contains(&p.difficulty);
    let pretrain = take(d.n_pretrain, &|p| easy_level(p) && p.oracle.is_some());
    let easy = take(N_EASY, &easy_level);
    Ok([pretrain, pool, heldout, ood, easy])
}
