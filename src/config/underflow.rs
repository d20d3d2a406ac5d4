//! Nonzero number literals that a 64-bit float cannot hold: `1e-400` parses to 0 without a
//! word, so a tolerance or learning rate the user wrote as tiny but nonzero silently became
//! zero. The parsed value keeps no trace of the literal, so the YAML text is scanned for it.
//! Subnormals (`1e-310`, down to about 4.9e-324) are accepted: they are finite and nonzero,
//! the nearest 64-bit float to what was written, only with fewer significant digits, and a
//! config that means "as small as possible" may write one on purpose.
use serde_yaml_ng::Value;

/// The smallest positive 64-bit float (a subnormal), as a message names it.
const SMALLEST: &str = "4.9e-324";

/// A nonzero literal of `text` that reads as 0: where it is and what it is.
#[derive(Debug, PartialEq)]
pub struct Underflow {
    pub line: usize,
    /// The dotted key the line sets, or holds an item of (empty at the top level).
    pub key: String,
    pub literal: String,
}

impl std::fmt::Display for Underflow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = match self.key.as_str() {
            "" => format!("line {}", self.line),
            key => format!("line {} (`{key}`)", self.line),
        };
        write!(
            f,
            "{at}: {} is not zero, but closer to zero than the smallest 64-bit float (about \
             {SMALLEST}), so it would be read as 0; write 0 if you mean zero, else a number \
             of at least {SMALLEST} in size",
            self.literal
        )
    }
}

/// The first nonzero number literal in `text` that reads as 0, if `value` (its parse) holds a
/// zero float at all (so a literal the scan takes from a multi-line string is not named).
pub fn find(text: &str, value: &Value) -> Option<Underflow> {
    if !has_zero_float(value) {
        return None;
    }
    scan(text)
}

/// Whether `token` (a plain scalar) is a decimal number with a nonzero digit before its
/// exponent that parses to 0 (`1e-400`, `-2.5e-330`); `0`, `0.0`, `0e5`, `-0.0` are zero.
pub fn underflows(token: &str) -> bool {
    let digits = token.strip_prefix(['-', '+']).unwrap_or(token);
    let numeric = digits
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    let mantissa = digits.split(['e', 'E']).next().unwrap_or_default();
    let nonzero = mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b));
    numeric && nonzero && digits.parse::<f64>().is_ok_and(|x| x == 0.0)
}

fn has_zero_float(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.is_f64() && n.as_f64() == Some(0.0),
        Value::Sequence(items) => items.iter().any(has_zero_float),
        Value::Mapping(m) => m
            .iter()
            .any(|(k, v)| has_zero_float(k) || has_zero_float(v)),
        Value::Tagged(t) => has_zero_float(&t.value),
        _ => false,
    }
}

/// Scan block-style YAML line by line (keys tracked by indentation, as [`super::locate`]
/// does), skipping comments, quoted text and block scalars (`|`, `>`).
fn scan(text: &str) -> Option<Underflow> {
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut block_scalar: Option<usize> = None;
    for (no, line) in text.lines().enumerate() {
        let body = unquoted(line);
        let trimmed = body.trim_start();
        let mut indent = body.len() - trimmed.len();
        if let Some(at) = block_scalar {
            if trimmed.is_empty() || indent > at {
                continue;
            }
            block_scalar = None;
        }
        if trimmed.is_empty() {
            continue;
        }
        let mut entry = trimmed;
        while let Some(item) = entry.strip_prefix("- ") {
            indent += 2;
            entry = item.trim_start();
        }
        let split = match entry.strip_suffix(':') {
            Some(key) => Some((key, "")),
            None => entry.split_once(": ").or_else(|| entry.split_once(":\t")),
        };
        let value = match split {
            Some((key, value)) if !key.contains(['[', '{', ',']) => {
                while stack.last().is_some_and(|(i, _)| *i >= indent) {
                    stack.pop();
                }
                stack.push((indent, key.trim().to_string()));
                value
            }
            _ => entry,
        };
        if value.trim_start().starts_with(['|', '>']) {
            block_scalar = Some(indent);
            continue;
        }
        let tokens = value.split(|c: char| c.is_whitespace() || "[]{},".contains(c));
        if let Some(literal) = tokens
            .map(|t| t.trim_end_matches(':'))
            .find(|t| underflows(t))
        {
            let keys: Vec<&str> = stack.iter().map(|(_, k)| k.as_str()).collect();
            return Some(Underflow {
                line: no + 1,
                key: keys.join("."),
                literal: literal.to_string(),
            });
        }
    }
    None
}

/// `line` with its comment cut and each quoted span ('...' or "...") blanked to spaces, so
/// that neither is scanned for numbers (a `#` inside quotes starts no comment).
fn unquoted(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut quote: Option<char> = None;
    let mut prev = ' ';
    for c in line.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => out.push(' '),
            None if c == '#' && prev.is_whitespace() => break,
            None if (c == '"' || c == '\'') && (prev.is_whitespace() || "[{,:".contains(prev)) => {
                quote = Some(c);
                out.push(' ');
            }
            None => out.push(c),
        }
        prev = c;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_nonzero_literals_that_read_as_zero_underflow() {
        for t in ["1e-400", "-1e-400", "+2.5E-330", "0.1e-323", "3e-324"] {
            assert_eq!(underflows(t), t != "3e-324", "{t}"); // 3e-324 rounds up to 4.9e-324
        }
        for t in [
            "0", "0.0", "-0.0", "0e5", "0e-400", ".0", "1e-310", "4.9e-324", "x", "",
        ] {
            assert!(!underflows(t), "{t}");
        }
    }

    #[test]
    fn the_scan_names_line_and_key_and_skips_comments_quotes_and_block_text() {
        let text = "a: 1\nsolver:\n  note: |\n    1e-400 in prose\n  x: '1e-400' # 1e-400\n  \
                    tol: [0.5, 1e-400]\n";
        let found = scan(text).expect("found");
        assert_eq!((found.line, found.key.as_str()), (6, "solver.tol"));
        assert_eq!(found.literal, "1e-400");
        let item = scan("grid:\n  lr:\n    - 1e-3\n    - -5e-999\n").expect("an item");
        assert_eq!((item.line, item.key.as_str()), (4, "grid.lr"));
        assert_eq!(scan("a: 0.0\nb: 0e5\nc: -0.0\nd: 1e-310\n"), None);
    }
}
