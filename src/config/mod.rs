//! Configs: the embedded default YAML, the user's file merged over it, then `--set` overrides,
//! typed with `deny_unknown_fields`, then range-checked. Errors name the file, key path and line.
mod check;
mod diagnose;
mod kinds;
mod numbers;
mod origin;
pub mod resume;
mod underflow;
mod yaml;

pub use check::{changed_keys, differences, Checker, Validate};
pub use kinds::Kinds;
pub use origin::{locate, lookup};
pub use yaml::{parse_yaml, read_config};

use crate::error::usage;
use anyhow::Result;
use diagnose::Seg;
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
    /// The `--set`s in the order they were applied (kinds first).
    pub sets: Vec<String>,
    /// Per-kind defaults and a study cell's settings.
    pub layers: Layers,
}

/// What else shapes the merged config besides the default, the file and the `--set`s.
#[derive(Clone, Debug, Default)]
pub struct Layers {
    /// Per-kind defaults of the kind-tagged sections.
    pub kinds: Kinds,
    /// A study cell's settings: (key path, how the cell set it), the key's origin.
    pub cell: Vec<(String, String)>,
}

/// Load `default`, merge the optional user file over it, apply `key.path=value` overrides.
pub fn load(default: Source, file: Option<&Path>, sets: &[String]) -> Result<Loaded> {
    load_with_kinds(default, Kinds::default(), file, sets)
}

/// [`load`], with per-kind defaults filled into every kind-tagged section. The `--set`s of a
/// `kind` apply first (outer sections before inner), so `--set x.n=5 --set x.kind=k` keeps `n`.
pub fn load_with_kinds(
    default: Source,
    kinds: Kinds,
    file: Option<&Path>,
    sets: &[String],
) -> Result<Loaded> {
    let mut value = parse(&default)?;
    let user = match file {
        Some(path) => {
            let text = read_config(path)?;
            Some(Source {
                name: path.display().to_string(),
                text,
            })
        }
        None => None,
    };
    let mut file_value = Value::Null;
    if let Some(src) = &user {
        file_value = parse(src)?;
        if !file_value.is_null() && !file_value.is_mapping() {
            return Err(usage(format!(
                "{}: the top level must be a mapping of keys",
                src.name
            )));
        }
        // An empty or comment-only file is YAML null: it changes nothing (all defaults).
        if !file_value.is_null() {
            merge(&mut value, file_value.clone());
        }
    }
    let mut ordered = sets.to_vec();
    ordered.sort_by_key(|s| match s.split_once('=') {
        Some((k, _))
            if kinds::TAGS
                .iter()
                .any(|t| k.trim() == *t || k.trim().ends_with(&format!(".{t}"))) =>
        {
            (0, k.matches('.').count())
        }
        _ => (1, 0),
    });
    for s in &ordered {
        if let Some(src) = &user {
            let dropped = kinds::dropped_file_keys(&value, &file_value, &src.name, s, &ordered);
            if let Some(note) = dropped {
                eprintln!("note: {note}");
            }
        }
        apply_set(&mut value, s)?;
    }
    kinds.fill(&mut value);
    Ok(Loaded {
        value,
        default,
        user,
        sets: ordered,
        layers: Layers {
            kinds,
            cell: Vec::new(),
        },
    })
}

fn parse(src: &Source) -> Result<Value> {
    parse_yaml(&src.text).map_err(|e| match e.strip_prefix("line ") {
        // A number too small for a float is valid YAML: its message starts with the line.
        Some(_) => usage(format!("{} {e}", src.name)),
        None => usage(format!("{}: invalid YAML: {e}", src.name)),
    })
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

/// Deep merge: mappings merge key by key, anything else replaces. A mapping that names another
/// `kind` or `preset` than the default's replaces it whole (its other keys belong to another
/// kind; [`kinds::retags`]).
pub fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Mapping(b), Value::Mapping(o)) => {
            if kinds::retags(b, &o) {
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
    let value = parse_yaml(raw).map_err(|e| match e.strip_prefix("line 1: ") {
        Some(tiny) => usage(format!("--set `{spec}`: {tiny}")),
        None => usage(format!("--set `{spec}`: value is not valid YAML: {e}")),
    })?;
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
        // A mapping may hold the rest of the path as one dotted key (a study grid's
        // `matrix.n: [..]`): that key is the same setting, so it is the one replaced.
        let rest = keys[i..].join(".");
        if i + 1 < keys.len() && map.contains_key(rest.as_str()) {
            map.insert(Value::from(rest), value);
            return Ok(());
        }
        let k = Value::from(*key);
        if i + 1 == keys.len() {
            // Switching a section to another `kind` (or model `preset`) drops the keys that
            // belonged to the old one.
            if kinds::TAGS.contains(key) && kinds::retags(map, &kinds::tag_map(key, &value)) {
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
        self.layers.kinds.fill(&mut value);
        integral_floats_to_integers(&mut value);
        serde_path_to_error::deserialize(value.clone()).map_err(|e| {
            let inner = e.inner().to_string();
            let at = diagnose::segs(e.path());
            let at = match inner.strip_prefix("missing field `") {
                Some(rest) => {
                    let field = rest.split('`').next().unwrap_or_default().to_string();
                    let mut at = diagnose::missing_in::<T>(&value, at, &inner, &field);
                    at.push(Seg::Key(field));
                    at
                }
                None => diagnose::pinpoint::<T>(&value, at, &inner),
            };
            usage(self.describe_error(&value, &at, &inner))
        })
    }

    fn describe_error(&self, value: &Value, at: &[Seg], inner: &str) -> String {
        let path = diagnose::show(at);
        if inner.starts_with("missing field") {
            return self.describe_missing(&path);
        }
        if let Some((bad, expected)) = unknown_name(inner) {
            if inner.starts_with("unknown variant") {
                let key = match lookup(value, &path) {
                    Some(v) if v.is_mapping() => join(&path, "kind"),
                    _ => path.clone(),
                };
                let mut msg = format!("unknown value `{bad}` for `{key}` {}", self.origin(&key));
                push_hint(&mut msg, &bad, &expected);
                return msg;
            }
            let full = if path.ends_with(bad.as_str()) {
                path.clone()
            } else {
                join(&path, &bad)
            };
            let mut msg = format!("unknown key `{full}` {}", self.origin(&full));
            push_hint(&mut msg, &bad, &expected);
            return msg;
        }
        let key = if path.is_empty() {
            "<top level>"
        } else {
            &path
        };
        let words = diagnose::plain_words(inner);
        format!("bad value for `{key}` {}: {words}", self.origin(key))
    }

    /// A key the config needs but nobody set: say which section's kind needs it.
    fn describe_missing(&self, path: &str) -> String {
        let (section, _) = path.rsplit_once('.').unwrap_or(("", path));
        let kind_path = join(section, "kind");
        match lookup(&self.value, &kind_path).and_then(Value::as_str) {
            Some(kind) => format!(
                "missing key `{path}`: `{kind_path}: {kind}` ({}) needs it and it has no default",
                self.origin(&kind_path)
                    .trim_matches(|c| c == '(' || c == ')')
            ),
            None => format!("missing key `{path}` {}", self.origin(section)),
        }
    }

    /// Range-check a typed config; all problems are reported together, each with the
    /// origin of every key it involves.
    pub fn validate<T: Validate>(&self, cfg: &T) -> Result<()> {
        let mut c = Checker::default();
        cfg.validate(&mut c);
        if c.problems.is_empty() {
            return Ok(());
        }
        let lines: Vec<String> = c
            .problems
            .iter()
            .enumerate()
            .map(|(i, (k, m))| {
                let m = check::compact_numbers(m);
                let mut line = format!("invalid value for `{k}` {}: {m}", self.origin(k));
                for other in c.related.get(&i).into_iter().flatten() {
                    line.push_str(&format!("; `{other}` {}", self.origin(other)));
                }
                line
            })
            .collect();
        Err(usage(lines.join("\n")))
    }
}

fn push_hint(msg: &mut String, bad: &str, expected: &[String]) {
    if let Some(best) = closest(bad, expected) {
        msg.push_str(&format!("; did you mean `{best}`?"));
    } else if !expected.is_empty() {
        msg.push_str(&format!("; valid: {}", expected.join(", ")));
    }
}

pub(crate) fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() || parent == "." {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
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

#[cfg(test)]
mod tests;
