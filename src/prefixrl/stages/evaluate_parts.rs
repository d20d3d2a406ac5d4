//! The pure pieces of the evaluator (spec §5.2), kept apart so tests can check them on
//! hand-made numbers and strings: pass@k over a set of problems, the prefix-panel cut, the
//! "first reasoning step" of a solution and strategy agreement.
use crate::prefixrl::algo;
use anyhow::Result;

/// A sample counts as correct when its reward is above this (rewards are 0/1 for every built-in
/// task; an external checker's partial credit below one half is a miss).
pub const CORRECT: f64 = 0.5;

/// Correct samples per problem, from rewards laid out `problems × samples` (row `r` belongs to
/// problem `r / samples`, as [`crate::prefixrl::policy::Rollouts`] groups them).
pub fn successes(rewards: &[f64], samples: usize) -> Vec<u64> {
    if samples == 0 {
        return Vec::new();
    }
    rewards
        .chunks(samples)
        .map(|g| g.iter().filter(|&&r| r > CORRECT).count() as u64)
        .collect()
}

/// Mean over problems of the unbiased pass@k (§5.2) with `samples` draws per problem and
/// `counts[i]` correct ones; `None` (an empty column) when there are no problems or
/// `k > samples`.
pub fn pass_at(counts: &[u64], samples: u64, k: u64) -> Result<Option<f64>> {
    if counts.is_empty() || k == 0 || k > samples {
        return Ok(None);
    }
    let mut sum = 0.0;
    for &c in counts {
        sum += algo::pass_at_k(samples, c, k)?;
    }
    Ok(Some(sum / counts.len() as f64))
}

/// Tokens of a `len`-token trace kept as the panel prefix at fraction `frac` (§5.2, the
/// success-versus-prefix-fraction curve): `round(frac·len)`, at most `len − 1` so something is
/// left to generate; 0 at `frac = 0` (the unprefixed problem).
pub fn panel_cut(len: usize, frac: f64) -> usize {
    let h = (frac * len as f64).round().max(0.0) as usize;
    h.min(len.saturating_sub(1))
}

/// The first reasoning step of a solution: the text before the first `delim` (all of it when
/// there is none), surrounding whitespace trimmed.
pub fn first_step(text: &str, delim: char) -> &str {
    text.split(delim).next().unwrap_or("").trim()
}

/// Strategy agreement (§5.2): among `(correct solution, stored trace)` pairs, the share whose
/// first step equals the trace's. `None` when the task has no step delimiter or there is no
/// correct solution to compare.
pub fn strategy_agreement(pairs: &[(String, String)], delim: Option<char>) -> Option<f64> {
    let delim = delim?;
    if pairs.is_empty() {
        return None;
    }
    let same = pairs
        .iter()
        .filter(|(sol, trace)| first_step(sol, delim) == first_step(trace, delim))
        .count();
    Some(same as f64 / pairs.len() as f64)
}

/// Mean of all values of all rows; `None` when there are none.
pub fn mean_of_rows(rows: &[Vec<f64>]) -> Option<f64> {
    let n: usize = rows.iter().map(Vec::len).sum();
    (n > 0).then(|| rows.iter().flatten().sum::<f64>() / n as f64)
}
