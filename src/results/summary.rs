//! A run's summary.json as numbers: every number and boolean (as 0/1), nested objects flattened
//! to `a.b` names; and the entries that look like results but cannot be used as one, which
//! `report`, `plot` and `compare` name in a note instead of leaving them out without a word.
use super::runs::RunInfo;
use serde_yaml_ng::Value;

/// The entries of one summary.json.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Entries {
    /// Finite numbers and booleans (as 0/1), in file order.
    pub numbers: Vec<(String, f64)>,
    /// Numbers that are not finite (`.inf`, `.nan`, `1e999`): no run writes one (JSON has no
    /// such numbers), so a hand edit or another tool wrote it.
    pub non_finite: Vec<(String, f64)>,
    /// Text values, in file order (a note names those where a number was expected).
    pub texts: Vec<(String, String)>,
}

/// The entries of a parsed summary (a mapping; anything else has none).
pub fn entries(v: &Value) -> Entries {
    let mut out = Entries::default();
    flatten("", v, &mut out);
    out
}

fn flatten(prefix: &str, v: &Value, out: &mut Entries) {
    match v {
        Value::Number(n) => {
            if let Some(x) = n.as_f64() {
                let entry = (prefix.to_string(), x);
                match x.is_finite() {
                    true => out.numbers.push(entry),
                    false => out.non_finite.push(entry),
                }
            }
        }
        Value::Bool(b) => out
            .numbers
            .push((prefix.to_string(), f64::from(u8::from(*b)))),
        Value::String(s) => out.texts.push((prefix.to_string(), s.clone())),
        Value::Mapping(map) => {
            for (k, v) in map {
                let Some(k) = k.as_str() else { continue };
                let name = if prefix.is_empty() {
                    k.to_string()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&name, v, out);
            }
        }
        _ => {}
    }
}

/// One note per run whose summary.json holds an entry that reads as no number although one was
/// expected: a non-finite number, or text where other runs have a number under the same key
/// or that spells a non-finite one (`"NaN"`, `"Infinity"`, as some JSON writers emit). Such
/// an entry counts as not reported: the note names the file and the keys. Other text is a
/// label, even where it happens to parse as a number (a hex id such as grng's `run_id` may be
/// `"123456789012"` or `"12e456789012"`).
pub fn unusable_notes<'a>(runs: impl IntoIterator<Item = &'a RunInfo> + Clone) -> Vec<String> {
    let numeric: std::collections::HashSet<&str> = runs
        .clone()
        .into_iter()
        .flat_map(|r| &r.summary)
        .map(|(k, _)| k.as_str())
        .collect();
    let mut notes = Vec::new();
    for run in runs {
        let mut bad: Vec<String> = run
            .non_finite
            .iter()
            .map(|(k, v)| format!("`{k}` is {v}"))
            .collect();
        bad.extend(
            run.texts
                .iter()
                .filter(|(k, s)| numeric.contains(k.as_str()) || spells_non_finite(s))
                .map(|(k, s)| match s.trim().parse::<f64>() {
                    // `1e999` (too large for a number, so read as text), `NaN`, `Infinity`.
                    Ok(v) if !v.is_finite() => format!("`{k}` is {}", s.trim()),
                    _ => format!("`{k}` is the text {s:?}"),
                }),
        );
        if bad.is_empty() {
            continue;
        }
        notes.push(format!(
            "{}: {} (not a finite number): left out of the statistics, as if the run did not \
             report {}",
            run.dir.join("summary.json").display(),
            bad.join(", "),
            if bad.len() == 1 { "it" } else { "them" }
        ));
    }
    notes
}

/// `NaN`, `inf`, `-Infinity` and the like (any case, optional sign): how JSON writers that allow
/// them spell non-finite numbers.
fn spells_non_finite(text: &str) -> bool {
    let t = text
        .trim()
        .trim_start_matches(['+', '-'])
        .to_ascii_lowercase();
    matches!(t.as_str(), "nan" | "inf" | "infinity")
}

#[cfg(test)]
mod tests {
    #[test]
    fn summary_numbers_in_file_order_with_nested_names() {
        let v = serde_yaml_ng::from_str(
            r#"{"z": 1, "ok": true, "s": "x", "a": {"b": 2.5, "c": null, "d": .inf}}"#,
        )
        .unwrap();
        let got = super::entries(&v);
        let want = [("z", 1.0), ("ok", 1.0), ("a.b", 2.5)].map(|(k, v)| (k.to_string(), v));
        assert_eq!(got.numbers, want);
        assert_eq!(got.non_finite, [("a.d".to_string(), f64::INFINITY)]);
        assert_eq!(got.texts, [("s".to_string(), "x".to_string())]);
    }
}
