//! The train stage's outputs per step: one metrics.csv row (§7.9; FLOPs columns cumulative,
//! token counts and the rest per step) and, every `rollouts_every` steps, the step's rows in
//! `rollouts.jsonl` (§8: prompt, prefix, completion, reward, advantage).
use super::train_rollout::{Batch, Env};
use super::train_state::Totals;
use super::train_update::UpdateReport;
use crate::run::Row;
use anyhow::{Context, Result};
use serde::Serialize;
use std::io::Write;
use std::path::Path;

pub const ROLLOUTS: &str = "rollouts.jsonl";

/// Mean of the values, `None` when there are none.
fn mean(v: impl IntoIterator<Item = f64>) -> Option<f64> {
    let (mut s, mut n) = (0.0, 0usize);
    for x in v {
        s += x;
        n += 1;
    }
    (n > 0).then(|| s / n as f64)
}

/// The identity columns of a row: run, method, seed, step.
pub struct RowId<'a> {
    pub run: &'a str,
    pub method: &'a str,
    pub seed: u64,
    pub step: u64,
}

/// Fill a metrics.csv row (§7.9). `totals` already includes this step.
pub fn fill(row: &mut Row, id: &RowId, b: &Batch, u: &UpdateReport, t: &Totals, env: &Env) {
    row.text("run", id.run)
        .text("method", id.method)
        .num("seed", id.seed as f64)
        .num("step", id.step as f64)
        .num("flops_total", t.flops_total());
    for (name, value) in t.columns() {
        row.num(name, value);
    }
    let on: Vec<usize> = (0..b.rows.len()).filter(|&r| !b.off_policy[r]).collect();
    let (pre, unpre): (Vec<usize>, Vec<usize>) = on.iter().partition(|&&r| b.prefixed(r));
    let gen: u64 = on.iter().map(|&r| b.rows[r].1.len() as u64).sum();
    let ctx: u64 = on.iter().map(|&r| b.rows[r].0.len() as u64).sum();
    let trained_pre: u64 = pre.iter().map(|&r| b.rows[r].1.len() as u64).sum();
    let trained: u64 = b.rows.iter().map(|r| r.1.len() as u64).sum();
    let n_pre = b.slots.iter().filter(|s| s.variant.is_some()).count();
    row.num("tokens_generated", gen as f64)
        .num("tokens_context", ctx as f64)
        .num("tokens_trained", u.tokens_trained as f64)
        .num("n_groups_prefixed", n_pre as f64)
        .num("n_groups_unprefixed", (b.slots.len() - n_pre) as f64)
        .num(
            "tok_share_prefixed",
            trained_pre as f64 / trained.max(1) as f64,
        );
    let reward = |rows: &[usize]| mean(rows.iter().map(|&r| b.rewards[r]));
    row.opt("reward_prefixed_mean", reward(&pre))
        .opt("reward_unprefixed_mean", reward(&unpre))
        .opt("reward_all_mean", reward(&on))
        .num("frac_groups_all0", b.groups.all_zero)
        .num("frac_groups_all1", b.groups.all_one)
        .num("frac_nonzero_adv", b.groups.nonzero_adv)
        .opt("adv_abs_mean", mean(b.advantages.iter().map(|a| a.abs())))
        .num("loss", u.loss)
        .num("grad_norm", u.grad_norm)
        .opt("grad_var_micro", u.grad_var_micro)
        .num("lr", u.lr);
    let entropy = |rows: &[usize]| mean(rows.iter().flat_map(|&r| b.entropies[r].iter().copied()));
    let len = |rows: &[usize]| mean(rows.iter().map(|&r| b.rows[r].1.len() as f64));
    let prefix_len = mean(
        b.slots
            .iter()
            .filter_map(|s| s.variant.map(|v| env.prefixes[s.problem][v].len() as f64)),
    );
    row.opt("entropy_mean", entropy(&on))
        .opt("entropy_prefixed", entropy(&pre))
        .opt("entropy_unprefixed", entropy(&unpre))
        .num("kl_base_mean", u.kl_mean)
        .opt("completion_len_prefixed", len(&pre))
        .opt("completion_len_unprefixed", len(&unpre))
        .opt("prefix_len_mean", prefix_len)
        .opt("is_ratio_mean", u.is_ratio.map(|r| r.0))
        .opt("is_ratio_max", u.is_ratio.map(|r| r.1))
        .opt("is_ratio_min", u.is_ratio.map(|r| r.2))
        .num("checker_errors", b.checker_errors as f64);
}

#[derive(Serialize)]
struct RolloutLine<'a> {
    step: u64,
    problem_id: &'a str,
    prefix_id: Option<u32>,
    off_policy: bool,
    prompt: &'a str,
    prefix: &'a str,
    completion: &'a str,
    reward: f64,
    advantage: f64,
}

/// Append the step's rows to `<run>/rollouts.jsonl`.
pub fn append_rollouts(run_dir: &Path, step: u64, b: &Batch, env: &Env) -> Result<()> {
    let path = run_dir.join(ROLLOUTS);
    let mut text = String::new();
    for r in 0..b.rows.len() {
        let slot = b.slots[b.slot_of[r]];
        let (problem, _) = &env.data.problems[slot.problem];
        let prefix = if b.off_policy[r] {
            None
        } else {
            env.data.prefix(slot)
        };
        let line = RolloutLine {
            step,
            problem_id: &problem.id,
            prefix_id: prefix.map(|p| p.prefix_id),
            off_policy: b.off_policy[r],
            prompt: &problem.prompt,
            prefix: prefix.map_or("", |p| p.prefix.as_str()),
            completion: &b.texts[r],
            reward: b.rewards[r],
            advantage: b.advantages[r],
        };
        text.push_str(&serde_json::to_string(&line)?);
        text.push('\n');
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}
