//! Configs: the embedded default YAML, the user's file merged over it, then `--set` overrides,
//! typed with `deny_unknown_fields`, then range-checked. Errors name the file, key path and line.
use crate::error::usage;
use anyhow::Result;
use serde::de::DeserializeOwned;
use serde_yaml_ng::{Mapping, Value};
use std::path::Path;

/// One YAML text and where it came from (a file path or the embedded default).
#[derive(Clone, Debug)]
pub struct Source {
    pub name: String,
    pub text: String,
}

/// The merged, untyped config plus what is needed to point at a key's origin in errors.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub value: Value,
    pub default: Source,
    pub user: Option<Source>,
    pub sets: Vec<String>,
}

/// Load `default`, merge the optional user file over it, apply `key.path=value` overrides.
pub fn load(default: Source, file: Option<&Path>, sets: &[String]) -> Result<Loaded> {
    let mut value = parse(&default)?;
    let user = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| usage(format!("cannot read config file {}: {e}", path.display())))?;
            Some(Source {
                name: path.display().to_string(),
                text,
            })
        }
        None => None,
    };
    if let Some(src) = &user {
        let over = parse(src)?;
        if !over.is_null() && !over.is_mapping() {
            return Err(usage(format!(
                "{}: the top level must be a mapping of keys",
                src.name
            )));
        }
        // An empty or comment-only file is YAML null: it changes nothing (all defaults).
        if !over.is_null() {
            merge(&mut value, over);
        }
    }
    for s in sets {
        apply_set(&mut value, s)?;
    }
    Ok(Loaded {
        value,
        default,
        user,
        sets: sets.to_vec(),
    })
}

fn parse(src: &Source) -> Result<Value> {
    serde_yaml_ng::from_str(&src.text)
        .map_err(|e| usage(format!("{}: invalid YAML: {e}", src.name)))
}

/// Floats with an exact integer value (`1e6`, `200000.0`) become integers, so integer keys
/// accept them; float keys take integers as they are.
fn integral_floats_to_integers(v: &mut Value) {
    match v {
        Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|f| n.is_f64() && f.fract() == 0.0) {
                if f.abs() < 9.007_199_254_740_992e15 {
                    *v = Value::from(f as i64);
                }
            }
        }
        Value::Sequence(items) => items.iter_mut().for_each(integral_floats_to_integers),
        Value::Mapping(map) => map.values_mut().for_each(integral_floats_to_integers),
        Value::Tagged(tagged) => integral_floats_to_integers(&mut tagged.value),
        _ => {}
    }
}

/// Deep merge: mappings merge key by key, anything else replaces. A mapping whose `kind`
/// differs from the default's replaces it whole (its other keys belong to another kind).
pub fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Mapping(b), Value::Mapping(o)) => {
            let kind = Value::from("kind");
            let kinds_differ = matches!((b.get(&kind), o.get(&kind)), (Some(x), Some(y)) if x != y);
            if kinds_differ {
                *b = o;
                return;
            }
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// Apply one `a.b.c=value` override; the value is parsed as YAML (so `1e-3`, `true`, `[1,2]` work).
pub fn apply_set(root: &mut Value, spec: &str) -> Result<()> {
    let (path, raw) = spec
        .split_once('=')
        .ok_or_else(|| usage(format!("--set `{spec}`: expected KEY.PATH=VALUE")))?;
    let path = path.trim();
    if path.is_empty() || path.split('.').any(str::is_empty) {
        return Err(usage(format!("--set `{spec}`: empty key in `{path}`")));
    }
    let value: Value = serde_yaml_ng::from_str(raw)
        .map_err(|e| usage(format!("--set `{spec}`: value is not valid YAML: {e}")))?;
    set_path(root, path, value).map_err(|why| usage(format!("--set `{spec}`: {why}")))
}

/// Set `path` (dot separated) inside `root`, creating mappings on the way.
pub fn set_path(root: &mut Value, path: &str, value: Value) -> std::result::Result<(), String> {
    let mut cur = root;
    let keys: Vec<&str> = path.split('.').collect();
    for (i, key) in keys.iter().enumerate() {
        if cur.is_null() {
            *cur = Value::Mapping(Mapping::new());
        }
        let map = cur
            .as_mapping_mut()
            .ok_or_else(|| format!("`{}` is not a mapping", keys[..i].join(".")))?;
        let k = Value::from(*key);
        if i + 1 == keys.len() {
            // Switching a section to another `kind` drops the keys that belonged to the old one.
            if *key == "kind" && map.get(&k).is_some_and(|old| *old != value) {
                map.clear();
            }
            map.insert(k, value);
            return Ok(());
        }
        if !map.contains_key(&k) {
            map.insert(k.clone(), Value::Null);
        }
        cur = map.get_mut(&k).expect("key inserted above");
    }
    Ok(())
}

impl Loaded {
    /// Type the merged config. Unknown keys, wrong types and bad enum values become
    /// usage errors that say where the key was set and suggest the closest valid name.
    pub fn typed<T: DeserializeOwned>(&self) -> Result<T> {
        let mut value = self.value.clone();
        integral_floats_to_integers(&mut value);
        serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.inner().to_string();
            usage(self.describe_error(&path, &inner))
        })
    }

    fn describe_error(&self, path: &str, inner: &str) -> String {
        if let Some((bad, expected)) = unknown_name(inner) {
            let is_variant = inner.starts_with("unknown variant");
            let full = if is_variant || path.ends_with(bad.as_str()) {
                path.to_string()
            } else {
                join(path, &bad)
            };
            let what = if is_variant {
                "unknown value"
            } else {
                "unknown key"
            };
            let shown = if is_variant {
                bad.clone()
            } else {
                full.clone()
            };
            let mut msg = format!("{what} `{shown}` {}", self.origin(&full));
            if let Some(best) = closest(&bad, &expected) {
                msg.push_str(&format!("; did you mean `{best}`?"));
            } else if !expected.is_empty() {
                msg.push_str(&format!("; valid: {}", expected.join(", ")));
            }
            return msg;
        }
        let key = if path == "." || path.is_empty() {
            "<top level>"
        } else {
            path
        };
        format!("bad value for `{key}` {}: {inner}", self.origin(key))
    }

    /// " in FILE line N" / " (from --set ...)" for a key path.
    pub fn origin(&self, path: &str) -> String {
        let clean = strip_indices(path);
        if let Some(s) = self.sets.iter().rev().find(|s| {
            s.split_once('=').map(|(k, _)| strip_indices(k.trim())) == Some(clean.clone())
        }) {
            return format!("(from --set {s})");
        }
        for src in self.user.iter().chain(std::iter::once(&self.default)) {
            if let Some(line) = locate(&src.text, &clean) {
                return format!("in {} line {line}", src.name);
            }
        }
        let name = self.user.as_ref().unwrap_or(&self.default).name.clone();
        format!("in {name}")
    }

    /// Range-check a typed config; all problems are reported together.
    pub fn validate<T: Validate>(&self, cfg: &T) -> Result<()> {
        let mut c = Checker::default();
        cfg.validate(&mut c);
        if c.problems.is_empty() {
            return Ok(());
        }
        let lines: Vec<String> = c
            .problems
            .iter()
            .map(|(k, m)| format!("invalid value for `{k}` {}: {m}", self.origin(k)))
            .collect();
        Err(usage(lines.join("\n")))
    }
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() || parent == "." {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

fn strip_indices(path: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for ch in path.chars() {
        match ch {
            '[' => depth += 1,
            ']' => depth -= 1,
            _ if depth == 0 => out.push(ch),
            _ => {}
        }
    }
    out
}

/// Parse serde's "unknown field `x`, expected one of `a`, `b`" (or variant) messages.
fn unknown_name(msg: &str) -> Option<(String, Vec<String>)> {
    let rest = msg
        .strip_prefix("unknown field ")
        .or_else(|| msg.strip_prefix("unknown variant "))?;
    let mut ticks = rest.split('`').skip(1).step_by(2).map(str::to_string);
    let bad = ticks.next()?;
    Some((bad, ticks.collect()))
}

/// The closest valid name by edit distance, if it is close enough to be a typo.
pub fn closest(bad: &str, options: &[String]) -> Option<String> {
    options
        .iter()
        .map(|o| (strsim::damerau_levenshtein(bad, o), o))
        .filter(|(d, o)| *d <= (o.len().max(bad.len()) / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, o)| o.clone())
}

/// 1-based line where the dotted key `path` is written in a block-style YAML text.
pub fn locate(text: &str, path: &str) -> Option<usize> {
    let target: Vec<&str> = path.split('.').collect();
    let mut stack: Vec<(usize, String)> = Vec::new();
    for (no, line) in text.lines().enumerate() {
        let body = line.split(" #").next().unwrap_or("");
        let trimmed = body.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let mut indent = body.len() - trimmed.len();
        let mut entry = trimmed;
        if let Some(item) = entry.strip_prefix("- ") {
            indent += 2;
            entry = item.trim_start();
        }
        let Some((key, _)) = entry.split_once(':') else {
            continue;
        };
        let key = key.trim().trim_matches(|c| c == '"' || c == '\'');
        if key.contains(' ') || key.is_empty() {
            continue;
        }
        while stack.last().is_some_and(|(i, _)| *i >= indent) {
            stack.pop();
        }
        stack.push((indent, key.to_string()));
        if stack.len() == target.len() && stack.iter().zip(&target).all(|((_, k), t)| k == t) {
            return Some(no + 1);
        }
    }
    None
}

/// Implemented by each subcommand's config to check value ranges.
pub trait Validate {
    fn validate(&self, c: &mut Checker);
}

/// Collects (key path, problem) pairs.
#[derive(Default)]
pub struct Checker {
    pub problems: Vec<(String, String)>,
}

impl Checker {
    pub fn check(&mut self, key: &str, ok: bool, why: impl Into<String>) {
        if !ok {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_finds_nested_keys() {
        let text = "seed: 1\nsolver:\n  # comment\n  tol: 1e-3\n  inner:\n    x: 2\nother: 3\n";
        assert_eq!(locate(text, "seed"), Some(1));
        assert_eq!(locate(text, "solver.tol"), Some(4));
        assert_eq!(locate(text, "solver.inner.x"), Some(6));
        assert_eq!(locate(text, "other"), Some(7));
        assert_eq!(locate(text, "solver.x"), None);
    }

    #[test]
    fn merge_replaces_sections_of_another_kind() {
        let mut base: Value = serde_yaml_ng::from_str("m: {kind: a, n: 3}\nk: 1").unwrap();
        merge(
            &mut base,
            serde_yaml_ng::from_str("m: {kind: b, path: x}").unwrap(),
        );
        let m = base.get("m").unwrap().as_mapping().unwrap();
        assert!(m.get("n").is_none());
        assert_eq!(base.get("k").unwrap().as_i64(), Some(1));
        merge(&mut base, serde_yaml_ng::from_str("m: {path: y}").unwrap());
        assert_eq!(base["m"]["kind"].as_str(), Some("b"));
        assert_eq!(base["m"]["path"].as_str(), Some("y"));
    }

    #[test]
    fn set_parses_yaml_values_and_rejects_garbage() {
        let mut v: Value = serde_yaml_ng::from_str("a: {b: 1}").unwrap();
        apply_set(&mut v, "a.b=2.5e-3").unwrap();
        apply_set(&mut v, "a.c=[1, 2]").unwrap();
        assert_eq!(v["a"]["b"].as_f64(), Some(2.5e-3));
        assert_eq!(v["a"]["c"].as_sequence().unwrap().len(), 2);
        assert!(apply_set(&mut v, "novalue").is_err());
        let mut m: Value = serde_yaml_ng::from_str("s: {kind: a, n: 3}").unwrap();
        apply_set(&mut m, "s.kind=b").unwrap();
        apply_set(&mut m, "s.path=x").unwrap();
        assert!(m["s"].get("n").is_none(), "keys of the old kind must go");
        apply_set(&mut m, "s.kind=b").unwrap();
        assert_eq!(m["s"]["path"].as_str(), Some("x"), "same kind keeps keys");
        assert!(apply_set(&mut v, "a..b=1").is_err());
    }

    #[test]
    fn suggestions_are_close_names_only() {
        let opts = vec!["learning_rate".to_string(), "momentum".to_string()];
        assert_eq!(
            closest("learing_rate", &opts).as_deref(),
            Some("learning_rate")
        );
        assert_eq!(closest("zzz", &opts), None);
    }
}
