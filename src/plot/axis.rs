//! Tick labels: one format per axis, chosen from the axis range, so an axis never mixes
//! `50000` with `1.000e5`. Plain numbers with a shared count of decimals for moderate ranges,
//! scientific with one shared exponent (`0.5e5`, `1.0e5`, `1.5e5`) for very large or small ones.

/// A formatter for the ticks of a linear axis spanning `lo..hi` with at most `count` labels.
pub fn linear(lo: f64, hi: f64, count: usize) -> impl Fn(&f64) -> String {
    let step = nice_step((hi - lo).abs() / count.max(1) as f64);
    let biggest = lo.abs().max(hi.abs());
    let exponent = if biggest > 0.0 {
        biggest.log10().floor() as i32
    } else {
        0
    };
    let step_exp = if step > 0.0 {
        step.log10().floor() as i32
    } else {
        0
    };
    let scientific = !(-3..5).contains(&exponent);
    move |v: &f64| {
        let v = if v.abs() < step * 1e-9 { 0.0 } else { *v };
        if v == 0.0 {
            return "0".into();
        }
        if scientific {
            let decimals = (exponent - step_exp).clamp(0, 6) as usize;
            let mantissa = v / 10f64.powi(exponent);
            format!("{mantissa:.decimals$}e{exponent}")
        } else {
            let decimals = (-step_exp).clamp(0, 9) as usize;
            format!("{v:.decimals$}")
        }
    }
}

/// Ticks of a log10 axis spanning `lo..hi` (log10 of the data): the data value as `1e-5`,
/// with a decimal or two (`2.5e-1`) when the axis spans too few decades for whole ones.
pub fn log(lo: f64, hi: f64) -> impl Fn(&f64) -> String {
    let decades = (hi - lo).abs();
    let decimals = if decades >= 3.0 {
        0
    } else if decades >= 0.5 {
        1
    } else {
        2
    };
    move |v: &f64| {
        let value = 10f64.powf(*v);
        format!("{value:.decimals$e}")
    }
}

/// The smallest of 1, 2, 5 × 10^k that is at least `raw`.
fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let base = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * base)
        .find(|s| *s >= raw * (1.0 - 1e-12))
        .unwrap_or(10.0 * base)
}

/// x in axis units: log10 on a log axis, where x <= 0 has no place.
pub fn x_axis(x: f64, log: bool) -> Option<f64> {
    if !log {
        Some(x)
    } else {
        (x > 0.0).then(|| x.log10())
    }
}

/// log10 of `v`, never below `floor` (nor for v <= 0).
pub fn log_or(v: f64, floor: f64) -> f64 {
    if v > 0.0 {
        v.log10().max(floor)
    } else {
        floor
    }
}

/// The finite values' smallest and largest (∞, −∞ when there is none).
pub fn min_max(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        })
}

/// Add a 5% margin and make empty or flat spans drawable.
pub fn widen((lo, hi): (f64, f64)) -> (f64, f64) {
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    let span = hi - lo;
    let pad = if span > 0.0 {
        0.05 * span
    } else {
        0.5 * lo.abs().max(1.0)
    };
    (lo - pad, hi + pad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_format_per_axis() {
        let f = linear(0.0, 150000.0, 10);
        let labels: Vec<String> = [0.0, 50000.0, 100000.0, 150000.0].iter().map(&f).collect();
        assert_eq!(labels, ["0", "0.5e5", "1.0e5", "1.5e5"]);
        let f = linear(0.0, 1.0, 10);
        assert_eq!([f(&0.1), f(&0.5), f(&1.0)], ["0.1", "0.5", "1.0"]);
        let f = linear(0.0, 40.0, 10);
        assert_eq!([f(&5.0), f(&40.0)], ["5", "40"]);
        let f = linear(0.0, 2e-5, 10);
        assert_eq!([f(&1e-5), f(&2e-5)], ["1.0e-5", "2.0e-5"]);
        let f = log(-6.0, 0.0);
        assert_eq!([f(&-5.0), f(&0.0)], ["1e-5", "1e0"]);
        let f = log(-0.6, 0.4);
        assert_eq!([f(&-0.5), f(&0.0)], ["3.2e-1", "1.0e0"]);
    }
}
