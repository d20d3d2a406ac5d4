//! The unbiased pass@k estimator (spec §5.2; Chen et al. 2021): from `n` samples of which `c`
//! are correct, `pass@k = 1 − C(n−c, k) / C(n, k)`, computed as the product
//! `C(n−c, k)/C(n, k) = Π_{i=n−c+1}^{n} (1 − k/i)` so no binomial coefficient is ever formed.
use crate::error::usage;
use anyhow::Result;

/// Unbiased pass@k; errors when `k` is 0 or above `n`, or `c > n`.
pub fn pass_at_k(n: u64, c: u64, k: u64) -> Result<f64> {
    if k == 0 || k > n {
        return Err(usage(format!(
            "pass@k needs 1 <= k <= n samples; got k = {k}, n = {n}"
        )));
    }
    if c > n {
        return Err(usage(format!(
            "pass@k: {c} correct out of {n} samples is impossible"
        )));
    }
    if n - c < k {
        return Ok(1.0); // every k-subset holds a correct sample
    }
    let miss: f64 = (n - c + 1..=n).map(|i| 1.0 - k as f64 / i as f64).product();
    Ok(1.0 - miss)
}
