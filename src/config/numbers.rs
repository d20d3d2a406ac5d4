//! Number-like YAML scalars that the YAML 1.2 parser reads as text (or cannot hold), said in
//! the words of what to write instead. Before, `1e400`, `010` and `1_000` under a numeric key
//! gave only "invalid type: string", which does not say what was wrong with the number.

/// Why the scalar `text`, which a numeric key got as a string, is not a number, and what to
/// write instead; `None` where it does not look like a number at all.
pub fn text_number_hint(text: &str) -> Option<String> {
    let (sign, digits) = match text.strip_prefix(['-', '+']) {
        Some(rest) => (&text[..1], rest),
        None => ("", text),
    };
    let sign = if sign == "+" { "" } else { sign };
    if leading_zero(digits) {
        let plain = digits.trim_start_matches('0');
        let plain = if plain.is_empty() { "0" } else { plain };
        let octal = digits.bytes().all(|b| (b'0'..=b'7').contains(&b));
        let or_octal = if octal {
            format!(", or {sign}0o{plain} for the octal number YAML 1.1 read")
        } else {
            String::new()
        };
        return Some(format!(
            "{text} has a leading zero, which YAML 1.2 reads as text: write {sign}{plain}{or_octal}"
        ));
    }
    if digits.contains('_') {
        let plain = digits.replace('_', "");
        if !plain.is_empty() && !leading_zero(&plain) && plain.parse::<f64>().is_ok() {
            return Some(format!(
                "{text} has `_` digit separators, which YAML 1.2 reads as text: write {sign}{plain}"
            ));
        }
        return None;
    }
    match float_text(digits).then(|| digits.parse::<f64>()) {
        Some(Ok(x)) if x.is_infinite() => Some(format!(
            "{text} is out of range of a 64-bit float (the largest is about 1.8e308)"
        )),
        Some(Ok(_)) => Some(format!(
            "{text} is quoted or tagged as text: write it without quotes"
        )),
        _ => None,
    }
}

/// `msg` with serde_yaml_ng's words for a whole number too large for 64 bits (read as a
/// 128-bit integer, which its `Value` cannot hold: "invalid type: integer `N` as u128,
/// expected any YAML value") replaced by what is wrong with it; `None` for other messages.
pub fn wide_integer_hint(msg: &str) -> Option<String> {
    let (head, rest) = msg.split_once("invalid type: integer `")?;
    let (int, rest) = rest.split_once('`')?;
    let tail = [" as u128", " as i128"].iter().find_map(|w| {
        rest.strip_prefix(w)?
            .strip_prefix(", expected any YAML value")
    })?;
    let float = int.parse::<f64>().ok()?;
    Some(format!(
        "{head}{int} is out of range of a 64-bit integer (from {} to {}); where a key takes a \
         decimal number, write it as a float: {float:e}{tail}",
        i64::MIN,
        u64::MAX
    ))
}

/// `0` followed by more digits: an octal number in YAML 1.1, text in YAML 1.2.
fn leading_zero(digits: &str) -> bool {
    digits.len() > 1 && digits.starts_with('0') && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Digits, at most one `.` and an exponent: what Rust's float parser reads as a number (it
/// also reads `inf` and `nan`, which YAML writes `.inf` and `.nan`).
fn float_text(s: &str) -> bool {
    s.bytes().any(|b| b.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_form_says_what_to_write() {
        let hint = |s| text_number_hint(s).unwrap_or_default();
        assert!(hint("1e400").contains("out of range of a 64-bit float"));
        assert!(hint("-1e400").contains("out of range of a 64-bit float"));
        assert!(hint("010").ends_with("write 10, or 0o10 for the octal number YAML 1.1 read"));
        assert!(hint("-010").contains("write -10, or -0o10"));
        assert!(hint("08").ends_with("write 8"), "{}", hint("08"));
        assert!(hint("00").contains("write 0"));
        assert!(hint("1_000").ends_with("write 1000"));
        assert!(hint("1_000.5").ends_with("write 1000.5"));
        assert!(hint("10").contains("without quotes"));
        for text in ["many", "inf", "nan", "1_x", "_", "ref", ""] {
            assert_eq!(text_number_hint(text), None, "{text}");
        }
    }

    #[test]
    fn a_128_bit_integer_is_named_out_of_range() {
        let msg = "a.b: invalid type: integer `99999999999999999999` as u128, expected any YAML \
                   value at line 2 column 5";
        let hint = wide_integer_hint(msg).unwrap_or_default();
        assert!(hint.starts_with("a.b: 99999999999999999999 is out of range of a 64-bit integer"));
        assert!(hint.ends_with("float: 1e20 at line 2 column 5"), "{hint}");
        assert_eq!(
            wide_integer_hint("invalid type: integer `5`, expected a string"),
            None
        );
    }
}
