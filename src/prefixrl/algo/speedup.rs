//! The "k× faster" and final-reward-ratio metrics of spec §5.2, on eval curves `(x, y)`:
//! `x` the FLOPs axis, `y` the training reward at each eval.
//! * compute to reach `r*`: the first `x` where the EMA of `y` (span `s`, `α = 2/(s+1)`,
//!   pandas `ewm(span=s, adjust=False)`: `e_0 = y_0`, `e_i = (1−α)·e_{i−1} + α·y_i`) is `≥ r*`;
//! * speed-up = baseline compute ÷ method compute;
//! * final-reward ratio = mean of the method's last evals ÷ the same for the baseline.
//!
//! Helpers return `None` where the metric is undefined (a target never reached, a zero
//! denominator), never inf or NaN.
use crate::error::usage;
use anyhow::Result;

/// Exponential moving average, pandas `ewm(span, adjust=False).mean()`; `span >= 1`.
pub fn ema(y: &[f64], span: usize) -> Result<Vec<f64>> {
    if span == 0 {
        return Err(usage("EMA span must be >= 1, got 0"));
    }
    let alpha = 2.0 / (span as f64 + 1.0);
    let mut out = Vec::with_capacity(y.len());
    for &v in y {
        let next = match out.last() {
            None => v,
            Some(&prev) => (1.0 - alpha) * prev + alpha * v,
        };
        out.push(next);
    }
    Ok(out)
}

/// The first `x[i]` where the EMA of `y` reaches `target`; `None` if it never does. `x` and `y`
/// have one entry per eval; values must be finite.
pub fn flops_to_target(x: &[f64], y: &[f64], target: f64, span: usize) -> Result<Option<f64>> {
    if x.len() != y.len() {
        return Err(usage(format!(
            "flops_to_target: {} x values but {} rewards",
            x.len(),
            y.len()
        )));
    }
    if let Some(bad) = x.iter().chain(y).chain([&target]).find(|v| !v.is_finite()) {
        return Err(usage(format!(
            "flops_to_target: values must be finite, got {bad}"
        )));
    }
    let smooth = ema(y, span)?;
    Ok(smooth.iter().position(|&e| e >= target).map(|i| x[i]))
}

/// Mean of the last `last` values of `y` (all of them when fewer); `None` when there are none.
pub fn final_mean(y: &[f64], last: usize) -> Option<f64> {
    let tail = &y[y.len().saturating_sub(last)..];
    (!tail.is_empty()).then(|| tail.iter().sum::<f64>() / tail.len() as f64)
}

/// `num / den` when both exist and the quotient is finite with `den != 0`.
fn ratio(num: Option<f64>, den: Option<f64>) -> Option<f64> {
    let (n, d) = (num?, den?);
    (d != 0.0).then_some(n / d).filter(|r| r.is_finite())
}

/// Speed-up = baseline FLOPs to target ÷ method FLOPs to target (§5.2).
pub fn speedup(baseline_flops: Option<f64>, method_flops: Option<f64>) -> Option<f64> {
    ratio(baseline_flops, method_flops)
}

/// Final-reward ratio = the method's final mean ÷ the baseline's (§5.2).
pub fn final_ratio(method_final: Option<f64>, baseline_final: Option<f64>) -> Option<f64> {
    ratio(method_final, baseline_final)
}
