//! Text metrics on samples (spec §4.2–§4.4), pure Rust over token ids. A sample is the
//! continuation only. Functions return `None` where the spec asks for an empty CSV cell (an
//! empty denominator), never NaN or 0.
use std::collections::{HashMap, HashSet};

/// `distinct_n`, corpus level: distinct n-grams across all samples / all n-grams.
pub fn distinct_n(samples: &[Vec<u32>], n: usize) -> Option<f64> {
    let mut seen = HashSet::new();
    let mut total = 0usize;
    for s in samples {
        for g in s.windows(n) {
            seen.insert(g);
            total += 1;
        }
    }
    (total > 0 && n > 0).then(|| seen.len() as f64 / total as f64)
}

/// `seq_rep_n`: per sample `1 − |unique n-grams| / |n-grams|`, averaged over samples that have
/// at least one n-gram.
pub fn seq_rep_n(samples: &[Vec<u32>], n: usize) -> Option<f64> {
    let per: Vec<f64> = samples
        .iter()
        .filter(|s| n > 0 && s.len() >= n)
        .map(|s| {
            let grams: Vec<&[u32]> = s.windows(n).collect();
            let unique: HashSet<&[u32]> = grams.iter().copied().collect();
            1.0 - unique.len() as f64 / grams.len() as f64
        })
        .collect();
    mean(&per)
}

/// The smallest period `P` in `1..=64` such that the last `3·P` tokens satisfy
/// `s[i] = s[i − P]` (a terminal loop), if any.
pub fn terminal_loop(s: &[u32]) -> Option<usize> {
    (1..=64).find(|&p| s.len() >= 3 * p && (s.len() - 2 * p..s.len()).all(|i| s[i] == s[i - p]))
}

/// Fraction of samples ending in a loop, and the mean period over those that do.
pub fn loops(samples: &[Vec<u32>]) -> (Option<f64>, Option<f64>) {
    let periods: Vec<f64> = samples
        .iter()
        .filter_map(|s| terminal_loop(s).map(|p| p as f64))
        .collect();
    let frac = (!samples.is_empty()).then(|| periods.len() as f64 / samples.len() as f64);
    (frac, mean(&periods))
}

/// Length of the longest substring occurring at least twice (overlaps allowed), by the
/// O(L²) dynamic programme over pairs of end positions.
pub fn longest_repeat(s: &[u32]) -> usize {
    let l = s.len();
    let mut prev = vec![0usize; l + 1];
    let mut best = 0;
    for i in 1..=l {
        let mut cur = vec![0usize; l + 1];
        for j in (i + 1)..=l {
            if s[i - 1] == s[j - 1] {
                cur[j] = prev[j - 1] + 1;
                best = best.max(cur[j]);
            }
        }
        prev = cur;
    }
    best
}

/// `copy_rate_n`: per sample, the fraction of its n-token windows found verbatim in `train`,
/// averaged over samples with at least one window.
pub fn copy_rate(samples: &[Vec<u32>], train: &[u32], n: usize) -> Option<f64> {
    if n == 0 {
        return None;
    }
    let grams: HashSet<&[u32]> = train.windows(n).collect();
    let per: Vec<f64> = samples
        .iter()
        .filter(|s| s.len() >= n)
        .map(|s| {
            let w: Vec<&[u32]> = s.windows(n).collect();
            w.iter().filter(|g| grams.contains(*g)).count() as f64 / w.len() as f64
        })
        .collect();
    mean(&per)
}

/// Counts of every n-gram over the sequences.
fn ngram_counts(seqs: &[Vec<u32>], n: usize) -> HashMap<&[u32], usize> {
    let mut c = HashMap::new();
    for s in seqs {
        for g in s.windows(n) {
            *c.entry(g).or_insert(0) += 1;
        }
    }
    c
}

/// `coverage_4` (n = 4): of the `top` most frequent training n-grams (ties by id order), how
/// many the samples contain, relative to how many the real continuations contain.
pub fn coverage(
    samples: &[Vec<u32>],
    real: &[Vec<u32>],
    train: &[u32],
    n: usize,
    top: usize,
) -> Option<f64> {
    let train_seq = [train.to_vec()];
    let mut ranked: Vec<(&[u32], usize)> = ngram_counts(&train_seq, n).into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let m: Vec<&[u32]> = ranked.into_iter().take(top).map(|(g, _)| g).collect();
    let (gen, data) = (ngram_counts(samples, n), ngram_counts(real, n));
    let hits = |c: &HashMap<&[u32], usize>| m.iter().filter(|g| c.contains_key(**g)).count();
    let denominator = hits(&data);
    (denominator > 0).then(|| hits(&gen) as f64 / denominator as f64)
}

/// Share of all n-gram occurrences taken by the `k` most frequent n-grams.
pub fn top_share(seqs: &[Vec<u32>], n: usize, k: usize) -> Option<f64> {
    let mut counts: Vec<usize> = ngram_counts(seqs, n).into_values().collect();
    let total: usize = counts.iter().sum();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    (total > 0).then(|| counts.iter().take(k).sum::<usize>() as f64 / total as f64)
}

/// Add-`alpha` smoothed distribution from the counts of every cell (§4.2 uses alpha 0.5).
pub fn smoothed(counts: &[u64], alpha: f64) -> Vec<f64> {
    let total: f64 = counts.iter().map(|&c| c as f64 + alpha).sum();
    counts.iter().map(|&c| (c as f64 + alpha) / total).collect()
}

/// Jensen–Shannon divergence (nats) of two distributions on the same cells.
pub fn js(p: &[f64], q: &[f64]) -> f64 {
    let m: Vec<f64> = p.iter().zip(q).map(|(a, b)| 0.5 * (a + b)).collect();
    0.5 * super::toys::kl(p, &m) + 0.5 * super::toys::kl(q, &m)
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}
