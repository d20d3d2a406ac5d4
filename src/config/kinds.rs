//! Per-kind defaults: a section tagged `kind: K` takes the keys it leaves out from the
//! subcommand's `configs/<sub>/kinds.yaml` (section path → kind → keys), so switching a
//! section to another kind (`--set algo.kind=ppo`) gives that kind's documented defaults.
use super::origin::{locate_keys, lookup};
use serde_yaml_ng::{Mapping, Value};

/// The parsed kinds table and its text (for line numbers in messages).
#[derive(Clone, Debug, Default)]
pub struct Kinds {
    pub name: String,
    pub text: String,
    table: Value,
}

impl Kinds {
    /// Parse an embedded kinds table (section path → kind → default keys).
    pub fn parse(name: &str, text: &str) -> Kinds {
        let table = serde_yaml_ng::from_str(text).expect("an embedded kinds table parses");
        Kinds {
            name: name.to_string(),
            text: text.to_string(),
            table,
        }
    }

    /// The documented default keys of `kind` for the section at `path` (`algo.step_rule`).
    pub fn defaults(&self, path: &str, kind: &Value) -> Option<&Mapping> {
        self.table.get(path)?.get(kind)?.as_mapping()
    }

    /// " in FILE line N" where the defaults of `kind` for section `path` are written.
    pub fn origin(&self, path: &str, kind: &str) -> String {
        match locate_keys(&self.text, &[path, kind]) {
            Some(line) => format!("{} line {line}", self.name),
            None => self.name.clone(),
        }
    }

    /// Give every kind-tagged section in `value` its kind's defaults for the keys it lacks.
    pub fn fill(&self, value: &mut Value) {
        self.fill_at(value, "");
    }

    fn fill_at(&self, value: &mut Value, path: &str) {
        let Some(map) = value.as_mapping_mut() else {
            return;
        };
        if let Some(kind) = map.get("kind").cloned() {
            if let Some(defaults) = self.defaults(path, &kind) {
                for (k, v) in defaults {
                    if !map.contains_key(k) {
                        map.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        for (k, child) in map.iter_mut() {
            if let Some(k) = k.as_str() {
                self.fill_at(child, &super::join(path, k));
            }
        }
    }
}

/// The keys that say what a section is: its `kind`, and an nn model's `preset` (which picks a
/// kind and its sizes). A run's resolved config.yaml names the kind; the defaults name a preset.
pub const TAGS: [&str; 2] = ["kind", "preset"];

/// Whether `over`, laid over the section `base`, makes it something else: `over` gives a tag
/// with another value than `base`'s, or gives one tag where `base` names only the other
/// (`kind: gru` over `preset: gpt-tiny`, `preset: gpt-small` over a run's `kind: gpt` and
/// sizes). `base`'s keys then belong to what it was, not to what `over` names.
pub fn retags(base: &Mapping, over: &Mapping) -> bool {
    TAGS.iter().any(|t| match (over.get(*t), base.get(*t)) {
        (None, _) => false,
        (Some(new), Some(old)) => new != old,
        (Some(_), None) => TAGS.iter().any(|o| base.contains_key(*o)),
    })
}

/// `{tag: value}`: the section a `--set PATH.tag=value` lays over it.
pub fn tag_map(tag: &str, value: &Value) -> Mapping {
    let mut m = Mapping::new();
    m.insert(Value::from(tag), value.clone());
    m
}

/// What `set` (one `--set`, of `all` given) drops from the user's `file` (named `file_name`) when
/// it switches a section to another kind (`value` is the config before it): the keys the file
/// wrote in that section, which belonged to the old kind, less those the `--set`s give again.
/// A note for stderr, so that a switched section does not lose a file's `lr` in silence.
pub fn dropped_file_keys(
    value: &Value,
    file: &Value,
    file_name: &str,
    set: &str,
    all: &[String],
) -> Option<String> {
    let (path, raw) = set.split_once('=')?;
    let (section, tag) = TAGS
        .iter()
        .find_map(|t| Some((path.trim().strip_suffix(&format!(".{t}"))?, *t)))?;
    let new: Value = serde_yaml_ng::from_str(raw).ok()?;
    let before = lookup(value, section)?.as_mapping()?;
    if !retags(before, &tag_map(tag, &new)) {
        return None;
    }
    let old = TAGS
        .iter()
        .find_map(|t| Some((*t, before.get(*t)?)))
        .map(|(t, v)| {
            format!(
                "{t} {}",
                serde_yaml_ng::to_string(v).unwrap_or_default().trim()
            )
        })?;
    let given_again = |key: &str| {
        let full = super::join(section, key);
        all.iter().filter_map(|s| s.split_once('=')).any(|(p, _)| {
            let p = p.trim();
            p == full || p.starts_with(&format!("{full}."))
        })
    };
    let keys: Vec<String> = lookup(file, section)?
        .as_mapping()?
        .keys()
        .filter_map(Value::as_str)
        .filter(|k| !TAGS.contains(k) && !given_again(k))
        .map(|k| format!("`{k}`"))
        .collect();
    if keys.is_empty() {
        return None;
    }
    Some(format!(
        "--set {set} switches `{section}` from {old} to another {tag}, so the keys {file_name} \
         gives it ({}) are dropped with the old {} and the new {tag}'s defaults apply; to keep \
         one, give it again: --set {section}.KEY=VALUE",
        keys.join(", "),
        old.split(' ').next().unwrap_or(tag)
    ))
}
