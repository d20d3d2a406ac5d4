//! How numbers are shown to a reader (tables, plot ticks, comparisons).

/// Four significant digits, plain for moderate magnitudes and scientific otherwise; `–` for NaN.
pub fn sig(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    if v == 0.0 {
        return "0".into();
    }
    let mag = v.abs().log10().floor() as i32;
    if !(-3..5).contains(&mag) {
        return format!("{v:.3e}");
    }
    let decimals = (3 - mag).max(0) as usize;
    let text = format!("{v:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// `decimals` fixed decimals, without a minus sign on a value that rounds to zero (`-0.0004` at
/// three decimals is `0.000`, not `-0.000`); `–` for NaN.
pub fn fixed(v: f64, decimals: usize) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let text = format!("{v:.decimals$}");
    match text.strip_prefix('-') {
        Some(rest) if rest.bytes().all(|b| b == b'0' || b == b'.') => rest.to_string(),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::{fixed, sig};

    #[test]
    fn fixed_decimals_never_show_minus_zero() {
        assert_eq!(fixed(-0.0004, 3), "0.000");
        assert_eq!(fixed(-0.0, 4), "0.0000");
        assert_eq!(fixed(-0.0, 0), "0");
        assert_eq!(fixed(-0.0006, 3), "-0.001");
        assert_eq!(fixed(0.25, 3), "0.250");
        assert_eq!(fixed(f64::NAN, 3), "–");
    }

    #[test]
    fn significant_digits() {
        assert_eq!(sig(7.5), "7.5");
        assert_eq!(sig(12.0), "12");
        assert_eq!(sig(0.0123456), "0.01235");
        assert_eq!(sig(123456.0), "1.235e5");
        assert_eq!(sig(-2.5e-9), "-2.500e-9");
        assert_eq!(sig(f64::NAN), "–");
    }
}
