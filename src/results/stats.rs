//! Across-seed statistics: mean, standard error of the mean, percentile bootstrap 95% CI.
use rand::Rng;
use rand::SeedableRng;

/// Resamples for the bootstrap; the RNG seed is fixed so reports are reproducible.
const BOOTSTRAP_SAMPLES: usize = 2000;
const BOOTSTRAP_SEED: u64 = 0x1ab;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    pub n: usize,
    pub mean: f64,
    /// Sample standard deviation / sqrt(n); NaN for n < 2.
    pub se: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

/// Statistics of the finite values in `xs`; None when there are none.
pub fn summarize(xs: &[f64]) -> Option<Stats> {
    let xs: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    if xs.is_empty() {
        return None;
    }
    let mean = mean(&xs);
    let (ci_low, ci_high) = bootstrap_ci(&xs);
    Some(Stats {
        n: xs.len(),
        mean,
        se: std_error(&xs),
        ci_low,
        ci_high,
    })
}

pub fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// Standard error of the mean (n - 1 in the variance); NaN below two values.
pub fn std_error(xs: &[f64]) -> f64 {
    let n = xs.len();
    if n < 2 {
        return f64::NAN;
    }
    let m = mean(xs);
    let var = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1) as f64;
    (var / n as f64).sqrt()
}

/// 2.5% and 97.5% percentiles of the means of resamples drawn with replacement.
pub fn bootstrap_ci(xs: &[f64]) -> (f64, f64) {
    bootstrap_ci_with(xs, BOOTSTRAP_SAMPLES, BOOTSTRAP_SEED)
}

/// [`bootstrap_ci`] with a given number of resamples and RNG seed (percentile method, 95%).
pub fn bootstrap_ci_with(xs: &[f64], resamples: usize, seed: u64) -> (f64, f64) {
    match xs {
        [] => return (f64::NAN, f64::NAN),
        [x] => return (*x, *x),
        _ if resamples == 0 => return (f64::NAN, f64::NAN),
        _ => {}
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut means: Vec<f64> = (0..resamples)
        .map(|_| {
            let sum: f64 = (0..xs.len()).map(|_| xs[rng.gen_range(0..xs.len())]).sum();
            sum / xs.len() as f64
        })
        .collect();
    means.sort_by(f64::total_cmp);
    (percentile(&means, 0.025), percentile(&means, 0.975))
}

/// Linear interpolation between order statistics of sorted `xs`.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_standard_error_match_hand_values() {
        let s = summarize(&[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(s.n, 4);
        assert!((s.mean - 2.5).abs() < 1e-12);
        // sample sd = sqrt(5/3), se = sd / 2
        assert!((s.se - (5.0f64 / 3.0).sqrt() / 2.0).abs() < 1e-12);
        assert!(s.ci_low >= 1.0 && s.ci_low < s.mean && s.ci_high > s.mean && s.ci_high <= 4.0);
    }

    #[test]
    fn single_values_and_non_finite_entries() {
        let s = summarize(&[f64::NAN, 7.0]).unwrap();
        assert_eq!((s.n, s.mean, s.ci_low, s.ci_high), (1, 7.0, 7.0, 7.0));
        assert!(s.se.is_nan());
        assert!(summarize(&[]).is_none());
    }

    #[test]
    fn bootstrap_is_reproducible_and_covers_the_mean() {
        let xs = [0.3, 1.9, 2.2, 0.8, 1.4, 3.1];
        assert_eq!(bootstrap_ci(&xs), bootstrap_ci(&xs));
        let (lo, hi) = bootstrap_ci(&xs);
        let m = mean(&xs);
        assert!(lo < m && m < hi, "{lo} < {m} < {hi}");
    }
}
