//! Paired comparisons across seeds and rank correlation, all seeded and deterministic: paired
//! differences matched by key, a percentile bootstrap CI of their mean, sign agreement, a
//! standardised effect size, and Spearman's ρ with a one-sided permutation p-value.
use super::stats;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::collections::BTreeMap;

/// `treated − baseline` for every key present in both with finite values, in key order.
/// A key that appears twice on one side keeps its first value.
pub fn paired_diffs<K: Ord + Clone>(treated: &[(K, f64)], baseline: &[(K, f64)]) -> Vec<(K, f64)> {
    let mut base: BTreeMap<&K, f64> = BTreeMap::new();
    for (k, v) in baseline.iter().filter(|(_, v)| v.is_finite()) {
        base.entry(k).or_insert(*v);
    }
    let mut out: BTreeMap<&K, f64> = BTreeMap::new();
    for (k, v) in treated.iter().filter(|(_, v)| v.is_finite()) {
        if let Some(b) = base.get(k) {
            out.entry(k).or_insert(v - b);
        }
    }
    out.into_iter().map(|(k, d)| (k.clone(), d)).collect()
}

/// Mean of `xs` with the 95% percentile-bootstrap CI of the mean (`resamples` resamples drawn
/// with a ChaCha8 RNG seeded with `seed`); None for an empty slice.
pub fn mean_ci(xs: &[f64], resamples: usize, seed: u64) -> Option<(f64, f64, f64)> {
    if xs.is_empty() {
        return None;
    }
    let (lo, hi) = stats::bootstrap_ci_with(xs, resamples, seed);
    Some((stats::mean(xs), lo, hi))
}

/// How many of `diffs` have the sign `positive` asks for (zeros agree with neither side).
pub fn sign_agreement(diffs: &[f64], positive: bool) -> usize {
    diffs
        .iter()
        .filter(|&&d| if positive { d > 0.0 } else { d < 0.0 })
        .count()
}

/// ⌈0.75 · n⌉: the number of seeds that must agree in sign (4 of 5, 3 of 3, 2 of 2).
pub fn agreement_needed(n: usize) -> usize {
    (3 * n).div_ceil(4)
}

/// Mean over sample standard deviation (n − 1) of the differences; None below two values or
/// when they are all equal.
pub fn standardized_effect(diffs: &[f64]) -> Option<f64> {
    if diffs.len() < 2 {
        return None;
    }
    let m = stats::mean(diffs);
    let var = diffs.iter().map(|d| (d - m).powi(2)).sum::<f64>() / (diffs.len() - 1) as f64;
    let sd = var.sqrt();
    (sd > 0.0 && sd.is_finite()).then(|| m / sd)
}

/// Ranks 1..n, ties given the average of the ranks they span.
pub fn average_ranks(xs: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..xs.len()).collect();
    order.sort_by(|&a, &b| xs[a].total_cmp(&xs[b]));
    let mut ranks = vec![0.0; xs.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && xs[order[j + 1]] == xs[order[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            ranks[k] = avg;
        }
        i = j + 1;
    }
    ranks
}

/// Spearman's ρ (Pearson correlation of average ranks); None with fewer than two pairs, unequal
/// lengths or a constant side.
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    RankPairs::new(x, y).map(|r| r.rho(&r.cy))
}

/// Spearman's ρ with one-sided permutation p-values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpearmanTest {
    pub rho: f64,
    pub n: usize,
    /// (1 + #{ρ_perm ≥ ρ}) / (1 + permutations): evidence for ρ > 0.
    pub p_greater: f64,
    /// (1 + #{ρ_perm ≤ ρ}) / (1 + permutations): evidence for ρ < 0.
    pub p_less: f64,
}

impl SpearmanTest {
    /// The one-sided p-value on the side of the observed sign (ρ ≥ 0: `p_greater`).
    pub fn p_own_side(&self) -> f64 {
        if self.rho >= 0.0 {
            self.p_greater
        } else {
            self.p_less
        }
    }
}

/// Spearman's ρ of (x, y) and its permutation distribution: `permutations` shuffles of y's
/// ranks with a ChaCha8 RNG seeded with `seed`. Permuted values within 1e-12 of ρ count as ties
/// (as large and as small), so the identity permutation always counts.
pub fn spearman_test(x: &[f64], y: &[f64], permutations: usize, seed: u64) -> Option<SpearmanTest> {
    let pairs = RankPairs::new(x, y)?;
    let rho = pairs.rho(&pairs.cy);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut shuffled = pairs.cy.clone();
    let (mut ge, mut le) = (0usize, 0usize);
    for _ in 0..permutations {
        shuffled.shuffle(&mut rng);
        let r = pairs.rho(&shuffled);
        ge += usize::from(r >= rho - 1e-12);
        le += usize::from(r <= rho + 1e-12);
    }
    let denom = (1 + permutations) as f64;
    Some(SpearmanTest {
        rho,
        n: x.len(),
        p_greater: (1 + ge) as f64 / denom,
        p_less: (1 + le) as f64 / denom,
    })
}

/// Centred ranks of both sides; the sums of squares do not change under permutation.
struct RankPairs {
    cx: Vec<f64>,
    cy: Vec<f64>,
    norm: f64,
}

impl RankPairs {
    fn new(x: &[f64], y: &[f64]) -> Option<RankPairs> {
        if x.len() != y.len() || x.len() < 2 {
            return None;
        }
        let centre = |v: &[f64]| {
            let r = average_ranks(v);
            let m = stats::mean(&r);
            r.into_iter().map(|a| a - m).collect::<Vec<f64>>()
        };
        let (cx, cy) = (centre(x), centre(y));
        let ss = |v: &[f64]| v.iter().map(|a| a * a).sum::<f64>();
        let norm = (ss(&cx) * ss(&cy)).sqrt();
        (norm > 0.0).then_some(RankPairs { cx, cy, norm })
    }

    fn rho(&self, cy: &[f64]) -> f64 {
        let dot: f64 = self.cx.iter().zip(cy).map(|(a, b)| a * b).sum();
        dot / self.norm
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diffs_are_matched_by_key_and_skip_unpaired_or_non_finite() {
        let treated = [(2, 5.0), (0, 1.0), (1, f64::NAN), (3, 4.0)];
        let baseline = [(0, 0.5), (1, 1.0), (2, 2.0), (2, 9.0)];
        assert_eq!(paired_diffs(&treated, &baseline), [(0, 0.5), (2, 3.0)]);
    }

    #[test]
    fn bootstrap_of_constant_differences_is_that_constant() {
        let (m, lo, hi) = mean_ci(&[-0.25; 5], 10_000, 7).unwrap();
        assert_eq!((m, lo, hi), (-0.25, -0.25, -0.25));
        assert!(mean_ci(&[], 10, 7).is_none());
        let xs = [0.1, -0.4, 0.9, 0.3];
        assert_eq!(mean_ci(&xs, 10_000, 7), mean_ci(&xs, 10_000, 7));
    }

    #[test]
    fn signs_needed_and_effect_size() {
        assert_eq!(sign_agreement(&[-1.0, 0.0, 2.0, -3.0], false), 2);
        assert_eq!(sign_agreement(&[-1.0, 0.0, 2.0, -3.0], true), 1);
        let needed: Vec<usize> = [1, 2, 3, 4, 5].map(agreement_needed).to_vec();
        assert_eq!(needed, [1, 2, 3, 3, 4]);
        // mean 2, sample sd of [1, 2, 3] = 1
        assert_eq!(standardized_effect(&[1.0, 2.0, 3.0]), Some(2.0));
        assert_eq!(standardized_effect(&[2.0, 2.0]), None);
        assert_eq!(standardized_effect(&[2.0]), None);
    }

    #[test]
    fn spearman_with_ties_matches_hand_values() {
        assert_eq!(
            average_ranks(&[10.0, 30.0, 20.0, 20.0]),
            [1.0, 4.0, 2.5, 2.5]
        );
        // y ranks (2, 1, 3.5, 3.5, 5): Σ centred products 8.5, sums of squares 10 and 9.5.
        let rho = spearman(&[1.0, 2.0, 3.0, 4.0, 5.0], &[2.0, 1.0, 4.0, 4.0, 5.0]).unwrap();
        assert!((rho - 8.5 / 95f64.sqrt()).abs() < 1e-12, "{rho}");
        // ties in x: ranks (1.5, 1.5, 3, 4) against (1, 2, 3, 4) give 3 / sqrt(10).
        let rho = spearman(&[1.0, 1.0, 2.0, 3.0], &[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert!((rho - 3.0 / 10f64.sqrt()).abs() < 1e-12, "{rho}");
        assert_eq!(spearman(&[1.0, 1.0], &[1.0, 2.0]), None);
        assert_eq!(spearman(&[1.0, 2.0], &[1.0]), None);
    }

    #[test]
    fn permutation_p_of_a_monotone_set_is_near_its_floor() {
        let x: Vec<f64> = (0..8).map(f64::from).collect();
        let up: Vec<f64> = x.iter().map(|v| 2.0 * v + 1.0).collect();
        let t = spearman_test(&x, &up, 10_000, 3).unwrap();
        assert_eq!((t.rho, t.n, t.p_less), (1.0, 8, 1.0));
        // Exact p = 1/8! = 2.5e-5 < the floor 1/10001; expected extra hits 10000/8! = 0.25.
        assert!(t.p_greater >= 1.0 / 10_001.0 && t.p_greater <= 3.0 / 10_001.0);
        let down: Vec<f64> = up.iter().map(|v| -v).collect();
        let t = spearman_test(&x, &down, 10_000, 3).unwrap();
        assert_eq!((t.rho, t.p_greater), (-1.0, 1.0));
        assert!(t.p_less <= 3.0 / 10_001.0 && t.p_own_side() == t.p_less);
    }

    #[test]
    fn permutation_p_of_unrelated_data_is_not_small_and_is_reproducible() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
        let y = [4.0, 8.0, 1.0, 6.0, 3.0, 7.0, 2.0, 5.0];
        let t = spearman_test(&x, &y, 10_000, 11).unwrap();
        assert!(t.rho.abs() < 0.3, "{t:?}");
        assert!(t.p_greater > 0.2 && t.p_less > 0.2, "{t:?}");
        // Both tails plus the ties cover every permutation at least once.
        assert!(t.p_greater + t.p_less >= 1.0);
        assert_eq!(Some(t), spearman_test(&x, &y, 10_000, 11));
    }
}
