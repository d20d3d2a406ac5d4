//! `self_bleu4` (§4.3): for each sample, BLEU-4 against all other samples as references,
//! averaged over samples. Uniform weights on the 1–4-gram precisions; a candidate n-gram's count
//! is clipped by its largest count in any **single** reference; a precision with a clipped count
//! of 0 becomes `0.1 / (total + 0.1)`; the brevity penalty `exp(1 − r/c)` (when `c ≤ r`) uses the
//! reference length `r` closest to the candidate's length `c` (ties to the shorter).
//!
//! Cost: linear in the total number of n-grams. For every n-gram the two largest per-sample
//! counts (and the owner of the largest) are kept, so "the largest count among the others" is
//! known without pairing samples. Samples shorter than 4 tokens have no BLEU-4 of their own but
//! still serve as references.
use super::{mean, FxMap};

/// The two largest per-sample counts of an n-gram, and which sample holds the largest.
#[derive(Clone, Copy, Default)]
struct Top2 {
    first: usize,
    owner: usize,
    second: usize,
}

impl Top2 {
    fn add(&mut self, count: usize, sample: usize) {
        if count > self.first {
            self.second = self.first;
            self.first = count;
            self.owner = sample;
        } else if count > self.second {
            self.second = count;
        }
    }

    fn max_excluding(&self, sample: usize) -> usize {
        if self.owner == sample {
            self.second
        } else {
            self.first
        }
    }
}

/// The n-gram counts of one sample, into `own` (cleared first).
fn count_into<'a>(s: &'a [u32], n: usize, own: &mut FxMap<&'a [u32], usize>) {
    own.clear();
    for g in s.windows(n) {
        *own.entry(g).or_insert(0) += 1;
    }
}

/// Per sample, (clipped matches, total) of its n-grams against the other samples.
fn clipped_counts(samples: &[Vec<u32>], n: usize) -> Vec<(usize, usize)> {
    let mut top: FxMap<&[u32], Top2> = FxMap::default();
    let mut own: FxMap<&[u32], usize> = FxMap::default();
    for (j, s) in samples.iter().enumerate() {
        count_into(s, n, &mut own);
        for (&g, &c) in own.iter() {
            top.entry(g).or_default().add(c, j);
        }
    }
    samples
        .iter()
        .enumerate()
        .map(|(i, s)| {
            count_into(s, n, &mut own);
            let clipped = own
                .iter()
                .map(|(g, &c)| c.min(top[g].max_excluding(i)))
                .sum();
            (clipped, s.len().saturating_sub(n - 1))
        })
        .collect()
}

/// The reference length closest to `c` among `sorted` (all lengths, ascending) without one
/// copy of `c` itself; ties go to the shorter.
fn closest_other(sorted: &[usize], c: usize) -> Option<usize> {
    let lo = sorted.partition_point(|&x| x < c);
    let hi = sorted.partition_point(|&x| x <= c);
    if hi - lo >= 2 {
        return Some(c);
    }
    let below = lo.checked_sub(1).map(|i| sorted[i]);
    let above = sorted.get(hi).copied();
    match (below, above) {
        (Some(b), Some(a)) => Some(if c - b <= a - c { b } else { a }),
        (b, a) => b.or(a),
    }
}

/// Mean self-BLEU-4 (None with fewer than two samples or no sample of 4+ tokens).
pub fn self_bleu4(samples: &[Vec<u32>]) -> Option<f64> {
    if samples.len() < 2 {
        return None;
    }
    let counts: Vec<Vec<(usize, usize)>> = (1..=4).map(|n| clipped_counts(samples, n)).collect();
    let mut lengths: Vec<usize> = samples.iter().map(Vec::len).collect();
    lengths.sort_unstable();
    let per: Vec<f64> = samples
        .iter()
        .enumerate()
        .filter(|(_, s)| s.len() >= 4)
        .map(|(i, s)| {
            let log_p: f64 = counts
                .iter()
                .map(|per_n| {
                    let (m, total) = per_n[i];
                    if m > 0 {
                        (m as f64 / total as f64).ln()
                    } else {
                        (0.1 / (total as f64 + 0.1)).ln()
                    }
                })
                .sum();
            let c = s.len();
            let r = closest_other(&lengths, c).unwrap_or(c);
            let bp = if c > r {
                1.0
            } else {
                (1.0 - r as f64 / c as f64).exp()
            };
            bp * (log_p / 4.0).exp()
        })
        .collect();
    mean(&per)
}
