//! Range checks of typed configs: each problem names its key path (and the other keys a
//! constraint between keys involves), so the error can say where each value came from.
use serde_yaml_ng::Value;
use std::collections::BTreeMap;

/// Implemented by each subcommand's config to check value ranges.
pub trait Validate {
    fn validate(&self, c: &mut Checker);
}

/// Collects (key path, problem) pairs.
#[derive(Default)]
pub struct Checker {
    pub problems: Vec<(String, String)>,
    /// Other keys a problem involves (by index into `problems`), shown with their origins.
    pub related: std::collections::BTreeMap<usize, Vec<String>>,
}

impl Checker {
    pub fn check(&mut self, key: &str, ok: bool, why: impl Into<String>) {
        if !ok {
            self.problems.push((key.to_string(), why.into()));
        }
    }
    /// A constraint between keys: reported against `key`, naming where `others` came from.
    pub fn relation(&mut self, key: &str, others: &[&str], ok: bool, why: impl Into<String>) {
        if !ok {
            let others = others.iter().map(|o| o.to_string()).collect();
            self.related.insert(self.problems.len(), others);
            self.problems.push((key.to_string(), why.into()));
        }
    }
    pub fn positive(&mut self, key: &str, v: f64) {
        self.check(
            key,
            v.is_finite() && v > 0.0,
            format!("must be > 0, got {v}"),
        );
    }
    pub fn in_open_unit(&mut self, key: &str, v: f64) {
        self.check(
            key,
            v > 0.0 && v < 1.0,
            format!("must be in (0, 1), got {v}"),
        );
    }
    pub fn at_least(&mut self, key: &str, v: usize, min: usize) {
        self.check(key, v >= min, format!("must be >= {min}, got {v}"));
    }
    /// A thread count, when set: 1 ..= [`crate::device::MAX_THREADS`].
    pub fn threads(&mut self, key: &str, v: Option<usize>) {
        if let Some(v) = v {
            let max = crate::device::MAX_THREADS;
            self.check(
                key,
                crate::device::threads_ok(v),
                format!("must be a thread count from 1 to {max}, got {v}"),
            );
        }
    }
}

/// `section.key` for each top-level key of the section `now` whose value differs from the
/// same section of a default config (`None`: no default to compare with, so every key). In a
/// kind-tagged section whose `kind` differs, only `section.kind`: its other keys belong to
/// the kind. For refusing keys that the config in force does not read only when a user
/// changed them, so that a config copied whole from `--print-config` still loads.
pub fn changed_keys<T: serde::Serialize>(
    section: &str,
    now: &T,
    default: Option<&T>,
) -> Vec<String> {
    let as_map = |t: &T| match serde_yaml_ng::to_value(t) {
        Ok(serde_yaml_ng::Value::Mapping(m)) => m,
        _ => Default::default(),
    };
    let now = as_map(now);
    let default = default.map(as_map).unwrap_or_default();
    let kind = serde_yaml_ng::Value::from("kind");
    if now.contains_key(&kind) && now.get(&kind) != default.get(&kind) {
        return vec![format!("{section}.kind")];
    }
    now.iter()
        .filter(|(k, v)| default.get(*k) != Some(*v))
        .filter_map(|(k, _)| k.as_str().map(|k| format!("{section}.{k}")))
        .collect()
}

/// The leaf keys (dotted paths) whose values differ between `old` and `new`, with both values
/// written as JSON (`absent` for a key one side lacks).
pub fn differences(old: &Value, new: &Value) -> Vec<(String, String, String)> {
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    leaves("", old, &mut a);
    leaves("", new, &mut b);
    let show = |v: Option<&Value>| {
        v.map_or_else(
            || "absent".to_string(),
            |v| serde_json::to_string(v).unwrap_or_else(|_| format!("{v:?}")),
        )
    };
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| (k.clone(), show(a.get(k)), show(b.get(k))))
        .collect()
}

fn leaves(at: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Mapping(m) if !m.is_empty() => {
            for (k, v) in m {
                let k = match k {
                    Value::String(s) => s.clone(),
                    other => serde_json::to_string(other).unwrap_or_default(),
                };
                let path = if at.is_empty() {
                    k
                } else {
                    format!("{at}.{k}")
                };
                leaves(&path, v, out);
            }
        }
        _ => {
            out.insert(at.to_string(), v.clone());
        }
    }
}

/// `msg` with each number Rust printed in full decimal that runs longer than 24 characters
/// (`{v}` of 1e-310 is `0.000…0001`, of 1e300 a 301-digit integer) written as `1e-310`, so a
/// range check's "got {v}" stays readable. Shorter numbers, and whole numbers of up to 20
/// digits (every 64-bit integer), are left as they are.
pub fn compact_numbers(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut rest = msg;
    while let Some(digit) = rest.find(|c: char| c.is_ascii_digit()) {
        let start = match rest[..digit].ends_with('-') {
            true => digit - 1,
            false => digit,
        };
        let end = rest[digit..]
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .map_or(rest.len(), |n| digit + n);
        let token = &rest[start..end];
        out.push_str(&rest[..start]);
        match token.parse::<f64>() {
            Ok(x) if token.len() > 24 && x.is_finite() => out.push_str(&format!("{x:e}")),
            _ => out.push_str(token),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_decimal_numbers_are_written_with_an_exponent() {
        let tiny = format!("must be > 0, got {}", -1e-310);
        assert_eq!(super::compact_numbers(&tiny), "must be > 0, got -1e-310");
        let huge = format!("at most 10, got {}; see a.b2", 1e300);
        assert_eq!(
            super::compact_numbers(&huge),
            "at most 10, got 1e300; see a.b2"
        );
        for kept in [
            "got 18446744073709551615",
            "got 0.5 and 1e-3",
            "x-1.25",
            "v1.2.3",
        ] {
            assert_eq!(super::compact_numbers(kept), kept);
        }
    }
}
