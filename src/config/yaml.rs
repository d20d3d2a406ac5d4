//! Reading a config's YAML: the file's text (without a byte order mark) and the parse, with
//! YAML 1.1's `<<:` merge keys applied.
use crate::error::usage;
use anyhow::Result;
use serde_yaml_ng::Value;
use std::path::Path;

/// The text of the config file `path`, without a UTF-8 byte order mark (which some Windows
/// editors write): left in, it hid the first line's key from the line numbers of errors.
pub fn read_config(path: &Path) -> Result<String> {
    let text = crate::input::read_to_string(path)
        .map_err(|e| usage(format!("cannot read config file {}: {e}", path.display())))?;
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    })
}

/// Parse a YAML text with its `<<:` merge keys applied (YAML 1.1's, which most YAML tools
/// apply): `solver: {<<: *base, tol: 1e-9}` takes the keys of the mapping anchored `&base`
/// that it does not set itself. Before, `<<` reached the typed config as an unknown key.
/// The error is serde_yaml_ng's, with a hint where a tab indents the line it points at, or
/// names a nonzero number too small for a 64-bit float (`1e-400`, which reads as 0).
pub fn parse_yaml(text: &str) -> std::result::Result<Value, String> {
    let mut value: Value = serde_yaml_ng::from_str(text).map_err(|e| with_hint(text, &e))?;
    if let Some(tiny) = super::underflow::find(text, &value) {
        return Err(tiny.to_string());
    }
    // A merged mapping may bring a `<<` of its own (an anchor built on another): one pass
    // per link of such a chain, each link's own keys winning over the next one's.
    for _ in 0..64 {
        if !has_merge_key(&value) {
            break;
        }
        value
            .apply_merge()
            .map_err(|e| format!("a `<<:` merge key: {e}"))?;
    }
    Ok(value)
}

fn has_merge_key(v: &Value) -> bool {
    match v {
        Value::Mapping(m) => m.contains_key("<<") || m.values().any(has_merge_key),
        Value::Sequence(items) => items.iter().any(has_merge_key),
        Value::Tagged(t) => has_merge_key(&t.value),
        _ => false,
    }
}

/// serde_yaml_ng's message, with what it leaves out: YAML forbids tabs in indentation, where
/// libyaml says only "found character that cannot start any token" (so a line indented with a
/// tab is named as such), and a key written twice comes without its lines.
fn with_hint(text: &str, e: &serde_yaml_ng::Error) -> String {
    let line = e
        .location()
        .and_then(|at| text.lines().nth(at.line().checked_sub(1)?));
    let tab = line.is_some_and(|l| l[..l.len() - l.trim_start().len()].contains('\t'));
    if tab {
        return format!("{e}; that line is indented with a tab: YAML indents with spaces only");
    }
    let msg = e.to_string();
    if let Some(plain) = super::numbers::wide_integer_hint(&msg) {
        return plain;
    }
    match msg
        .split_once("duplicate entry with key \"")
        .map(|(_, rest)| rest)
    {
        Some(rest) => {
            let key = rest.split('"').next().unwrap_or_default();
            let lines = key_lines(text, key);
            if lines.len() < 2 {
                return msg;
            }
            let lines: Vec<String> = lines.iter().map(usize::to_string).collect();
            format!(
                "{msg}, a key a mapping may hold once (`{key}:` is on lines {})",
                lines.join(", ")
            )
        }
        None => msg,
    }
}

/// The lines (1-based) where `key:` starts a block mapping entry: serde_yaml_ng names no line
/// for a key written twice.
fn key_lines(text: &str, key: &str) -> Vec<usize> {
    let starts = [
        format!("{key}:"),
        format!("\"{key}\":"),
        format!("'{key}':"),
    ];
    text.lines()
        .enumerate()
        .filter(|(_, line)| {
            let entry = line.trim_start();
            let entry = entry.strip_prefix("- ").unwrap_or(entry).trim_start();
            starts.iter().any(|s| entry.starts_with(s.as_str()))
        })
        .map(|(i, _)| i + 1)
        .collect()
}
