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

#[cfg(test)]
mod tests {
    use super::sig;

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
