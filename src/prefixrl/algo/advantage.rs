//! Group advantages from sequence rewards (spec §2.8) and the signal diagnostics of §5.2.
//!
//! A group is the `n` rollouts of one (problem, prefix variant); `m` is its mean and `s` its
//! **unbiased** standard deviation (n−1 denominator, the default of verl, TRL and OpenRLHF):
//!
//! | kind | `A_i` |
//! |---|---|
//! | `grpo` | `(r_i − m) / (s + ε)` |
//! | `mean` (Dr.GRPO) | `r_i − m` |
//! | `rloo` | `(r_i − m)·n/(n−1)` = `r_i − mean of the others` |
//! | `batchstd` | `(r_i − m) / (s_batch + ε)`, `s_batch` the unbiased std of every reward in the batch |
//!
//! Conventions (verl): a group of one has `m = 0, s = 1`, so `A = r` (`r/(1+ε)` under grpo);
//! a group whose rewards are all equal gets `A = 0` exactly, never NaN, whatever ε.
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// Which advantage estimator (§2.8); YAML / CLI names `grpo`, `mean`, `rloo`, `batchstd`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdvantageKind {
    Grpo,
    Mean,
    Rloo,
    BatchStd,
}

impl FromStr for AdvantageKind {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        Ok(match s {
            "grpo" => Self::Grpo,
            "mean" => Self::Mean,
            "rloo" => Self::Rloo,
            "batchstd" => Self::BatchStd,
            other => {
                return Err(crate::error::usage(format!(
                    "unknown advantage estimator `{other}`; expected grpo, mean, rloo or batchstd"
                )))
            }
        })
    }
}

fn mean(r: &[f64]) -> f64 {
    r.iter().sum::<f64>() / r.len() as f64
}

/// Unbiased standard deviation; 1 for fewer than two values (verl's size-1 convention).
fn unbiased_std(r: &[f64]) -> f64 {
    if r.len() < 2 {
        return 1.0;
    }
    let m = mean(r);
    let ss: f64 = r.iter().map(|x| (x - m) * (x - m)).sum();
    (ss / (r.len() - 1) as f64).sqrt()
}

fn all_equal(r: &[f64]) -> bool {
    r.windows(2).all(|w| w[0] == w[1])
}

/// Advantages of each group's rollouts, in the groups' order (§2.8). `eps` is the ε of the
/// std-normalised kinds (verl 1e-6, TRL 1e-4); `mean` and `rloo` ignore it.
pub fn advantages(groups: &[Vec<f64>], kind: AdvantageKind, eps: f64) -> Vec<Vec<f64>> {
    let batch_std = match kind {
        AdvantageKind::BatchStd => unbiased_std(&groups.concat()),
        _ => 1.0,
    };
    groups
        .iter()
        .map(|r| group_advantages(r, kind, eps, batch_std))
        .collect()
}

fn group_advantages(r: &[f64], kind: AdvantageKind, eps: f64, batch_std: f64) -> Vec<f64> {
    let n = r.len();
    if n >= 2 && all_equal(r) {
        return vec![0.0; n]; // zero numerator: A = 0 exactly, even with ε = 0
    }
    let m = if n < 2 { 0.0 } else { mean(r) };
    let scale = match kind {
        AdvantageKind::Grpo => 1.0 / (unbiased_std(r) + eps),
        AdvantageKind::Mean => 1.0,
        AdvantageKind::Rloo if n < 2 => 1.0,
        AdvantageKind::Rloo => n as f64 / (n - 1) as f64,
        AdvantageKind::BatchStd => 1.0 / (batch_std + eps),
    };
    r.iter().map(|x| (x - m) * scale).collect()
}

/// Signal diagnostics (§5.2): fractions of groups whose rewards are all 0, all 1, and whose
/// advantages are not all zero. All 0 for an empty batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct GroupStats {
    pub all_zero: f64,
    pub all_one: f64,
    pub nonzero_adv: f64,
}

/// [`GroupStats`] of `groups` (rewards) with their `advantages` (as [`advantages`] returns).
pub fn group_stats(groups: &[Vec<f64>], advantages: &[Vec<f64>]) -> GroupStats {
    if groups.is_empty() {
        return GroupStats::default();
    }
    let frac = |count: usize| count as f64 / groups.len() as f64;
    let count = |pred: &dyn Fn(&[f64]) -> bool| groups.iter().filter(|g| pred(g)).count();
    GroupStats {
        all_zero: frac(count(&|g| !g.is_empty() && g.iter().all(|&x| x == 0.0))),
        all_one: frac(count(&|g| !g.is_empty() && g.iter().all(|&x| x == 1.0))),
        nonzero_adv: frac(
            advantages
                .iter()
                .filter(|a| a.iter().any(|&x| x != 0.0))
                .count(),
        ),
    }
}
