//! Stage `calibrate` (§7.4): is the hard level "very off-policy but findable" for this base
//! model?
//!
//! * Per difficulty level (data.easy_levels and data.hard_level): `calibrate.samples` base
//!   samples for each of `calibrate.problems` problems (the hard level takes the first ones
//!   of the pool, so the numbers predict what collect will find; the other levels are drawn
//!   fresh, or taken from a file-backed task's pool); pass@1/8/64/1024 by the unbiased
//!   estimator (empty when k > samples) and the share of problems solved at least once
//!   (`frac_solved_1024`, written when samples ≥ 1024; the summary holds it at the samples
//!   drawn).
//! * On the hard problems, the success-versus-prefix-fraction curve with the oracle trace as
//!   the prefix (`calibrate.fractions`, `calibrate.prefix_samples` each).
//!
//! Verdict (§7.4): acceptable when the hard level's mean pass@8 ≤ 0.02, the solved share is
//! ≥ 0.3 and the prefixed success at the fraction nearest 0.6 is ≥ 0.1; otherwise the knob to
//! turn. All sampling is batched; FLOPs are reported in the summary.
use super::load::{self, Base, Split};
use super::prefixes::cut;
use crate::experiment::Ctx;
use crate::prefixrl::algo::pass_at_k;
use crate::prefixrl::columns::CALIBRATION;
use crate::prefixrl::config::{PrefixrlConfig, Stage};
use crate::prefixrl::inputs::Artifact;
use crate::prefixrl::policy::Context;
use crate::prefixrl::task::{self, Problem, Task};
use crate::run::Run;
use anyhow::Result;
use rand_chacha::ChaCha8Rng;

/// The k of calibration.csv's pass@k columns.
pub const PASS_K: [u64; 4] = [1, 8, 64, 1024];
/// §7.4's thresholds.
pub const MAX_PASS8: f64 = 0.02;
pub const MIN_SOLVED: f64 = 0.3;
pub const MIN_PREFIX_SUCCESS: f64 = 0.1;
pub const PREFIX_FRAC: f64 = 0.6;

/// One level's numbers.
struct Level {
    level: u32,
    problems: usize,
    pass: Vec<Option<f64>>,
    solved: f64,
}

pub fn run(cfg: &PrefixrlConfig, run: &mut Run, ctx: &mut Ctx) -> Result<()> {
    let data_dir = load::input_dir(cfg, run, Artifact::Problems)?;
    let pool = load::read_split(&data_dir, Split::Pool)?;
    let base = load::load_base(&load::input_dir(cfg, run, Artifact::Base)?, ctx.device)?;
    let mut task = task::build(&cfg.task)?;
    let mut rng = load::stage_rng(cfg.seed, Stage::Calibrate, 0);
    let k = &cfg.calibrate;
    let hard = cfg.data.hard_level;
    let mut levels: Vec<u32> = cfg.data.easy_levels.clone();
    levels.push(hard);
    levels.sort_unstable();
    levels.dedup();
    let mut flops = 0.0;
    let mut rows = Vec::new();
    let mut progress = run.progress(levels.len() as u64 + 1, "calibrate");
    for (i, &level) in levels.iter().enumerate() {
        run.check_interrupt()?;
        let problems = if level == hard {
            pool.iter().take(k.problems).cloned().collect()
        } else {
            draw(task.as_ref(), level, k.problems, &mut rng)?
        };
        let (successes, f) = count(cfg, &base, task.as_mut(), &problems, &mut rng)?;
        flops += f;
        rows.push(level_row(level, &successes, k.samples as u64)?);
        progress.set(i as u64 + 1, &format!("level {level}"));
    }
    let hard_problems: Vec<Problem> = pool
        .iter()
        .filter(|p| p.oracle.is_some())
        .take(k.problems)
        .cloned()
        .collect();
    let (curve, f) = prefix_curve(cfg, &base, task.as_mut(), &hard_problems, &mut rng)?;
    flops += f;
    progress.finish("done");
    let Some(hard_row) = rows.iter().find(|r| r.level == hard) else {
        anyhow::bail!("internal: no row for the hard level");
    };
    let (verdict, advice) = verdict(hard_row, &curve, k.samples);
    write_csv(
        run,
        &rows,
        hard,
        hard_problems.len(),
        &curve,
        &verdict,
        k.samples,
    )?;
    if !run.quiet {
        eprintln!("calibrate: {verdict}");
        for a in &advice {
            eprintln!("  suggestion: {a}");
        }
    }
    let summary = serde_json::json!({
        "verdict": verdict,
        "suggestions": advice,
        "hard_level": hard,
        "samples": k.samples,
        "hard_pass8": hard_row.pass[1],
        "hard_frac_solved": hard_row.solved,
        "prefix_curve": curve.iter().map(|(f, s)| serde_json::json!({"frac": f, "success": s})).collect::<Vec<_>>(),
        "flops": flops,
    });
    load::update_summary(run, "calibrate", summary)
}

/// `n` problems of `level`: a file-backed task's first ones at that level, else fresh draws.
fn draw(task: &dyn Task, level: u32, n: usize, rng: &mut ChaCha8Rng) -> Result<Vec<Problem>> {
    if let Some(fixed) = task.fixed_pool() {
        return Ok(fixed
            .iter()
            .filter(|p| p.difficulty == level)
            .take(n)
            .cloned()
            .collect());
    }
    (0..n)
        .map(|i| task.sample(rng, level, format!("cal{level}-{i:06}")))
        .collect()
}

/// Successes out of `calibrate.samples` per problem, and the sampling FLOPs.
fn count(
    cfg: &PrefixrlConfig,
    base: &Base,
    task: &mut dyn Task,
    problems: &[Problem],
    rng: &mut ChaCha8Rng,
) -> Result<(Vec<u64>, f64)> {
    let contexts = problems
        .iter()
        .map(|p| Ok(Context::unprefixed(base.codec.prompt(p)?)))
        .collect::<Result<Vec<_>>>()?;
    let sampling = (
        cfg.calibrate.samples,
        cfg.rl.max_new_tokens,
        cfg.traces.temperature,
    );
    let owners: Vec<(&Problem, &str)> = problems.iter().map(|p| (p, "")).collect();
    let (wins, flops) = load::successes(base, task, &contexts, &owners, sampling, rng)?;
    Ok((wins.into_iter().map(|w| w as u64).collect(), flops))
}

/// Mean pass@k over the problems (None when k > n) and the share solved at least once.
fn level_row(level: u32, successes: &[u64], n: u64) -> Result<Level> {
    let m = successes.len().max(1) as f64;
    let mut pass = Vec::with_capacity(PASS_K.len());
    for k in PASS_K {
        pass.push(if k <= n && !successes.is_empty() {
            let each = successes.iter().map(|&c| pass_at_k(n, c, k));
            Some(each.sum::<Result<f64>>()? / m)
        } else {
            None
        });
    }
    let solved = successes.iter().filter(|&&c| c > 0).count() as f64 / m;
    Ok(Level {
        level,
        problems: successes.len(),
        pass,
        solved,
    })
}

/// (fraction, mean success) with the first `cut(f, |y|)` oracle tokens as the prefix.
fn prefix_curve(
    cfg: &PrefixrlConfig,
    base: &Base,
    task: &mut dyn Task,
    problems: &[Problem],
    rng: &mut ChaCha8Rng,
) -> Result<(Vec<(f64, f64)>, f64)> {
    let fracs = &cfg.calibrate.fractions;
    let (mut contexts, mut owners) = (Vec::new(), Vec::new());
    for (i, p) in problems.iter().enumerate() {
        let ids = base.codec.text(p.oracle.as_deref().unwrap_or_default())?;
        for (j, &f) in fracs.iter().enumerate() {
            if let Some(h) = cut(f, ids.len()) {
                let prefix = base.codec.decode(&ids[..h])?.0;
                contexts.push(Context::new(base.codec.prompt(p)?, ids[..h].to_vec()));
                owners.push((i, j, prefix));
            }
        }
    }
    let n = cfg.calibrate.prefix_samples;
    let sampling = (n, cfg.rl.max_new_tokens, cfg.traces.temperature);
    let pairs: Vec<(&Problem, &str)> = owners
        .iter()
        .map(|(i, _, prefix)| (&problems[*i], prefix.as_str()))
        .collect();
    let (per_context, flops) = load::successes(base, task, &contexts, &pairs, sampling, rng)?;
    let (mut wins, mut tried) = (vec![0usize; fracs.len()], vec![0usize; fracs.len()]);
    for ((_, j, _), w) in owners.iter().zip(per_context) {
        wins[*j] += w;
        tried[*j] += n;
    }
    let curve = fracs
        .iter()
        .zip(wins.iter().zip(&tried))
        .map(|(&f, (&w, &t))| (f, w as f64 / t.max(1) as f64))
        .collect();
    Ok((curve, flops))
}

/// "acceptable" or "adjust: …" and the suggested knobs (§7.4).
fn verdict(hard: &Level, curve: &[(f64, f64)], samples: usize) -> (String, Vec<String>) {
    let mut advice = Vec::new();
    match hard.pass[1] {
        Some(p8) if p8 > MAX_PASS8 => advice.push(format!(
            "the hard level is too easy (mean pass@8 {p8:.3} > {MAX_PASS8}): raise data.hard_level (more numbers) or task.vmax"
        )),
        Some(_) => {}
        None => advice.push(format!(
            "pass@8 is unknown with calibrate.samples = {samples} < 8: raise calibrate.samples"
        )),
    }
    if hard.solved < MIN_SOLVED {
        advice.push(format!(
            "only {:.0}% of hard problems are solved within {samples} samples (< {:.0}%): add larger instances to the pretraining mix (data.easy_levels / data.easy_mix), pretrain longer (pretrain.steps), or lower data.hard_level",
            100.0 * hard.solved,
            100.0 * MIN_SOLVED
        ));
    }
    let near = curve.iter().min_by(|a, b| {
        (a.0 - PREFIX_FRAC)
            .abs()
            .total_cmp(&(b.0 - PREFIX_FRAC).abs())
    });
    match near {
        Some(&(f, s)) if s < MIN_PREFIX_SUCCESS => advice.push(format!(
            "success after {:.0}% of the oracle trace is {s:.3} (< {MIN_PREFIX_SUCCESS}): the base model cannot finish from a prefix; pretrain longer or on larger instances",
            100.0 * f
        )),
        Some(_) => {}
        None => advice.push("no prefix curve: set calibrate.fractions (and give the hard problems oracle solutions)".into()),
    }
    let verdict = if advice.is_empty() {
        "acceptable".to_string()
    } else {
        format!("adjust ({} issue(s))", advice.len())
    };
    (verdict, advice)
}

fn write_csv(
    run: &Run,
    rows: &[Level],
    hard: u32,
    hard_problems: usize,
    curve: &[(f64, f64)],
    verdict: &str,
    samples: usize,
) -> Result<()> {
    let mut csv = run.csv("calibration.csv", CALIBRATION)?;
    for l in rows {
        let mut row = csv.new_row();
        row.num("level", l.level as f64)
            .num("n_problems", l.problems as f64);
        for (name, p) in ["pass1", "pass8", "pass64", "pass1024"].iter().zip(&l.pass) {
            row.opt(name, *p);
        }
        row.opt("frac_solved_1024", (samples >= 1024).then_some(l.solved));
        if l.level == hard {
            row.text("verdict", verdict);
        }
        csv.write(&row)?;
    }
    for &(f, s) in curve {
        let mut row = csv.new_row();
        row.num("level", hard as f64)
            .num("n_problems", hard_problems as f64)
            .num("prefix_frac", f)
            .num("prefix_success", s);
        csv.write(&row)?;
    }
    Ok(())
}
