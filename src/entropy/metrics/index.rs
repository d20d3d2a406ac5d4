//! Copying and coverage against the training split (§4.4), with the training side indexed once
//! per run by [`TrainIndex`].
//!
//! - `copy_rate_32`: per sample, the fraction of its 32-token windows that occur verbatim in the
//!   training split, averaged over the samples with at least one window. The training windows
//!   are kept as 61-bit rolling hashes (polynomial mod 2^61 − 1), so a lookup is a false
//!   positive with probability about `|train| · 32 / 2^61` (≈ 6e-11 for 4 M tokens).
//! - `coverage_4`: with M the 1,000 most frequent training 4-grams (ties by ascending ids),
//!   `|M ∩ sample 4-grams| / |M ∩ real 4-grams|` (None when the real side hits none).
use super::tokens::ngram_counts;
use super::{mean, FxSet};

const P61: u64 = (1 << 61) - 1;
const BASE: u64 = 0x1f3d_5b79_a9c1_e38d % P61;

fn mulmod(a: u64, b: u64) -> u64 {
    let x = u128::from(a) * u128::from(b);
    let y = ((x & u128::from(P61)) + (x >> 61)) as u64;
    if y >= P61 {
        y - P61
    } else {
        y
    }
}

/// Rolling hashes of every `n`-token window of `s` (nothing when `s` is shorter than `n`).
pub fn window_hashes(s: &[u32], n: usize) -> Vec<u64> {
    if n == 0 || s.len() < n {
        return Vec::new();
    }
    let top = (1..n).fold(1u64, |acc, _| mulmod(acc, BASE)); // BASE^(n-1)
    let digit = |x: u32| u64::from(x) + 1;
    let mut h = s[..n]
        .iter()
        .fold(0u64, |h, &x| (mulmod(h, BASE) + digit(x)) % P61);
    let mut out = Vec::with_capacity(s.len() - n + 1);
    out.push(h);
    for i in n..s.len() {
        let drop = mulmod(digit(s[i - n]), top);
        h = (h + P61 - drop) % P61;
        h = (mulmod(h, BASE) + digit(s[i])) % P61;
        out.push(h);
    }
    out
}

/// The training split's n-gram index, built once per run.
pub struct TrainIndex {
    copy_n: usize,
    windows: FxSet<u64>,
    top: Vec<Vec<u32>>,
    cov_n: usize,
}

impl TrainIndex {
    /// §4.4's sizes: 32-token copy windows, the 1,000 most frequent 4-grams.
    pub fn new(train: &[u32]) -> TrainIndex {
        TrainIndex::with_sizes(train, 32, 4, 1000)
    }

    /// Copy windows of `copy_n` tokens; the `top` most frequent `cov_n`-grams.
    pub fn with_sizes(train: &[u32], copy_n: usize, cov_n: usize, top: usize) -> TrainIndex {
        let windows = window_hashes(train, copy_n).into_iter().collect();
        let train_seq = [train.to_vec()];
        let mut ranked: Vec<(&[u32], usize)> =
            ngram_counts(&train_seq, cov_n).into_iter().collect();
        ranked.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let top = ranked
            .into_iter()
            .take(top)
            .map(|(g, _)| g.to_vec())
            .collect();
        TrainIndex {
            copy_n,
            windows,
            top,
            cov_n,
        }
    }

    /// The coverage set M, most frequent first.
    pub fn top_ngrams(&self) -> &[Vec<u32>] {
        &self.top
    }

    /// `copy_rate_n` of the samples (None when no sample has a full window).
    pub fn copy_rate(&self, samples: &[Vec<u32>]) -> Option<f64> {
        let per: Vec<f64> = samples
            .iter()
            .map(|s| window_hashes(s, self.copy_n))
            .filter(|w| !w.is_empty())
            .map(|w| w.iter().filter(|h| self.windows.contains(h)).count() as f64 / w.len() as f64)
            .collect();
        mean(&per)
    }

    fn hits(&self, seqs: &[Vec<u32>]) -> usize {
        let present: FxSet<&[u32]> = seqs.iter().flat_map(|s| s.windows(self.cov_n)).collect();
        self.top
            .iter()
            .filter(|g| present.contains(g.as_slice()))
            .count()
    }

    /// `coverage_n` of the samples relative to the real continuations.
    pub fn coverage(&self, samples: &[Vec<u32>], real: &[Vec<u32>]) -> Option<f64> {
        if self.cov_n == 0 {
            return None;
        }
        let denominator = self.hits(real);
        (denominator > 0).then(|| self.hits(samples) as f64 / denominator as f64)
    }
}

/// `copy_rate_n` against `train` without a prebuilt index (tests, one-off use).
pub fn copy_rate(samples: &[Vec<u32>], train: &[u32], n: usize) -> Option<f64> {
    TrainIndex::with_sizes(train, n, 0, 0).copy_rate(samples)
}

/// `coverage_n` with the `top` most frequent training n-grams, without a prebuilt index.
pub fn coverage(
    samples: &[Vec<u32>],
    real: &[Vec<u32>],
    train: &[u32],
    n: usize,
    top: usize,
) -> Option<f64> {
    TrainIndex::with_sizes(train, 0, n, top).coverage(samples, real)
}
