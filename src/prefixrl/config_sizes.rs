//! Size bounds of [`PrefixrlConfig`]: counts that would end in a failed allocation (an abort),
//! a process killed for memory or a run that never ends are refused before any stage runs,
//! naming the key. The bounds are far above the spec's sizes (§7.6: 200k pretraining problems,
//! 1024 samples per problem, B = 32 x n = 64 rows):
//! * generated problems per set: [`MAX_PROBLEMS`];
//! * samples per problem or context, and cuts per trace: [`MAX_SAMPLES`];
//! * completions sampled and held at once (a training step's B x n, an evaluation set x its
//!   samples per problem): [`MAX_ROWS`];
//! * one forward pass (pretraining, SFT and policy-gradient batches): [`MAX_ACTIVATION`]
//!   entries of its widest activation tensor, for the configured `model:`;
//! * task levels: what the task can generate (countdown: 2 to [`MAX_COUNTDOWN_LEVEL`] numbers,
//!   path: 1 to `task.nodes - 1` hops).
use super::config::PrefixrlConfig;
use super::stages::gendata::N_EASY;
use super::task::TaskConfig;
use crate::config::Checker;
use crate::nn::config::ModelKind;

/// Most problems generated per set (pretraining, pool, held-out, OOD, calibration level).
pub const MAX_PROBLEMS: usize = 1 << 22;
/// Most samples per problem or context (and cuts per trace).
pub const MAX_SAMPLES: usize = 1 << 16;
/// Most completions sampled and held at once.
pub const MAX_ROWS: u128 = 1 << 20;
/// Most entries of one activation tensor of a forward pass: 2^30 (4 GiB in f32).
pub const MAX_ACTIVATION: f64 = (1u64 << 30) as f64;
/// Most numbers of a countdown problem (its text alone is over 8 tokens per number).
pub const MAX_COUNTDOWN_LEVEL: u32 = 64;

pub fn check(cfg: &PrefixrlConfig, c: &mut Checker) {
    check_counts(cfg, c);
    check_rows(cfg, c);
    check_activations(cfg, c);
    check_levels(cfg, c);
}

fn check_counts(cfg: &PrefixrlConfig, c: &mut Checker) {
    let d = &cfg.data;
    for (key, n) in [
        ("data.n_pretrain", d.n_pretrain),
        ("data.pool_size", d.pool_size),
        ("data.n_heldout", d.n_heldout),
        ("data.n_ood", d.n_ood),
        ("calibrate.problems", cfg.calibrate.problems),
    ] {
        c.check(
            key,
            n <= MAX_PROBLEMS,
            format!("must be at most {MAX_PROBLEMS} problems, got {n}"),
        );
    }
    let samples = [
        ("rl.n", cfg.rl.n),
        ("eval.k_eval", cfg.eval.k_eval),
        ("eval.k_final", cfg.eval.k_final.unwrap_or(0)),
        ("calibrate.samples", cfg.calibrate.samples),
        ("calibrate.prefix_samples", cfg.calibrate.prefix_samples),
        ("hard.k_probe", cfg.hard.k_probe),
        ("prefix.m_cal", cfg.prefix.m_cal),
        ("prefix.per_trace", cfg.prefix.per_trace),
    ];
    for (key, n) in samples {
        c.check(
            key,
            n <= MAX_SAMPLES,
            format!("must be at most {MAX_SAMPLES}, got {n}"),
        );
    }
}

/// Completions held at once: a training step's B x n, and the largest evaluation set (the
/// unprefixed and prefixed training problems, held-out, OOD, panel, easy) x its samples.
fn check_rows(cfg: &PrefixrlConfig, c: &mut Checker) {
    let (r, e) = (&cfg.rl, &cfg.eval);
    let rows = r.batch_problems as u128 * r.n as u128;
    c.relation(
        "rl.batch_problems",
        &["rl.n"],
        rows <= MAX_ROWS,
        format!(
            "rl.batch_problems x rl.n = {} x {} = {rows} completions sampled at once, more \
             than the {MAX_ROWS} lab allows; lower either",
            r.batch_problems, r.n
        ),
    );
    let n_train = cfg.train.n_problems as u128;
    let sets = [
        ("train.n_problems", n_train),
        ("prefix.per_trace", n_train * cfg.prefix.per_trace as u128),
        ("eval.n_heldout", e.n_heldout as u128),
        ("eval.n_ood", e.n_ood as u128),
        ("eval.panel", (e.panel as u128).min(n_train)),
        ("(the easy set)", N_EASY as u128),
    ];
    let (set, largest) = sets
        .iter()
        .fold(sets[0], |a, b| if b.1 > a.1 { *b } else { a });
    for (key, k) in [
        ("eval.k_eval", e.k_eval),
        ("eval.k_final", e.k_final.unwrap_or(0)),
    ] {
        let rows = largest * k as u128;
        let (what, others): (&str, Vec<&str>) = match set {
            "prefix.per_trace" => (
                "train.n_problems x prefix.per_trace prefixed problems",
                vec!["train.n_problems", "prefix.per_trace"],
            ),
            "(the easy set)" => ("the easy set", vec![]),
            other => (other, vec![other]),
        };
        c.relation(
            key,
            &others,
            rows <= MAX_ROWS,
            format!(
                "{k} samples of each of {largest} problems ({what}) are {rows} completions \
                 sampled at once in an evaluation, more than the {MAX_ROWS} lab allows; lower \
                 it or that set"
            ),
        );
    }
}

/// The widest activation of one forward pass over `rows` sequences of `model.block_size`.
fn activation(cfg: &PrefixrlConfig, rows: usize) -> f64 {
    let m = &cfg.model;
    let f = |v: i64| v.max(1) as f64;
    let t = f(m.block_size);
    let width = match m.kind {
        ModelKind::Gpt => (f(m.n_head) * t).max(f(m.d_ff)).max(4.0 * f(m.d_model)),
        _ => (4.0 * f(m.hidden)).max(f(m.embedding)),
    };
    rows as f64 * t * width.max(259.0)
}

fn check_activations(cfg: &PrefixrlConfig, c: &mut Checker) {
    let block = cfg.model.block_size;
    for (key, rows) in [
        ("pretrain.batch", cfg.pretrain.batch),
        ("sft.batch", cfg.sft.batch),
    ] {
        let need = activation(cfg, rows);
        c.relation(
            key,
            &["model.block_size"],
            need <= MAX_ACTIVATION,
            format!(
                "one forward pass of {rows} sequences of model.block_size {block} tokens needs \
                 about {need:.2e} activation entries at once, more than the \
                 {MAX_ACTIVATION:.2e} lab allows; lower it"
            ),
        );
    }
    let r = &cfg.rl;
    let rows = r.batch_problems.saturating_mul(r.n);
    let chunk = rows.div_ceil(r.micro_batches.max(1));
    let need = activation(cfg, chunk);
    c.relation(
        "rl.micro_batches",
        &["rl.batch_problems", "rl.n", "model.block_size"],
        need <= MAX_ACTIVATION,
        format!(
            "one forward pass of rl.batch_problems x rl.n / rl.micro_batches = {rows} / {} = \
             {chunk} rows of model.block_size {block} tokens needs about {need:.2e} activation \
             entries at once, more than the {MAX_ACTIVATION:.2e} lab allows; raise \
             rl.micro_batches or lower rl.batch_problems or rl.n",
            r.micro_batches
        ),
    );
}

/// The levels gen-data and calibrate generate: each easy level, the hard level and, when OOD
/// problems are drawn, the level above it.
fn check_levels(cfg: &PrefixrlConfig, c: &mut Checker) {
    let (lo, hi, what) = match &cfg.task {
        TaskConfig::Countdown(_) => (
            2,
            MAX_COUNTDOWN_LEVEL,
            format!("countdown levels are 2 to {MAX_COUNTDOWN_LEVEL} numbers"),
        ),
        TaskConfig::Path(p) => {
            let hi = p.nodes.saturating_sub(1).min(u32::MAX as usize) as u32;
            (
                1,
                hi,
                format!("path levels are 1 to task.nodes - 1 = {hi} hops"),
            )
        }
        _ => return,
    };
    let d = &cfg.data;
    for level in &d.easy_levels {
        c.check(
            "data.easy_levels",
            (lo..=hi).contains(level),
            format!("{what}, got {level}"),
        );
    }
    c.check(
        "data.hard_level",
        (lo..=hi).contains(&d.hard_level),
        format!("{what}, got {}", d.hard_level),
    );
    c.relation(
        "data.hard_level",
        &["data.n_ood"],
        d.n_ood == 0 || d.hard_level != hi,
        format!(
            "{what}, and the OOD problems (data.n_ood > 0) are one level above data.hard_level \
             = {hi}: lower it, or set data.n_ood to 0"
        ),
    );
}
