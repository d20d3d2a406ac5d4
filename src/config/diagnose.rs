//! Turn a serde error into the key path it is about and a message in the user's words.
//! serde reports paths only down to an internally tagged section (`matrix`): inside it the
//! path is lost, so the key is found again by deserializing truncated copies of the section.
use serde::de::DeserializeOwned;
use serde_yaml_ng::Value;

#[derive(Clone, Debug, PartialEq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// serde_path_to_error's path as segments.
pub fn segs(path: &serde_path_to_error::Path) -> Vec<Seg> {
    use serde_path_to_error::Segment;
    path.iter()
        .filter_map(|s| match s {
            Segment::Seq { index } => Some(Seg::Index(*index)),
            Segment::Map { key } => Some(Seg::Key(key.clone())),
            _ => None,
        })
        .collect()
}

/// `a.b[0].c`
pub fn show(segs: &[Seg]) -> String {
    let mut out = String::new();
    for s in segs {
        match s {
            Seg::Key(k) if out.is_empty() => out.push_str(k),
            Seg::Key(k) => out.push_str(&format!(".{k}")),
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

fn get<'a>(v: &'a Value, segs: &[Seg]) -> Option<&'a Value> {
    segs.iter().try_fold(v, |v, s| match s {
        Seg::Key(k) => v.get(k.as_str()),
        Seg::Index(i) => v.get(*i),
    })
}

fn get_mut<'a>(v: &'a mut Value, segs: &[Seg]) -> Option<&'a mut Value> {
    segs.iter().try_fold(v, |v, s| match s {
        Seg::Key(k) => v.get_mut(k.as_str()),
        Seg::Index(i) => v.get_mut(*i),
    })
}

/// The error typing `v` as `T` gives, if any (without its path).
fn error_of<T: DeserializeOwned>(v: &Value) -> Option<String> {
    serde_path_to_error::deserialize::<_, T>(v.clone())
        .err()
        .map(|e| e.inner().to_string())
}

/// The entries of a mapping (its `kind` aside) or sequence, in order.
fn entries(v: &Value) -> Vec<Seg> {
    match v {
        Value::Mapping(m) => m
            .keys()
            .filter_map(Value::as_str)
            .filter(|k| *k != "kind")
            .map(|k| Seg::Key(k.to_string()))
            .collect(),
        Value::Sequence(s) => (0..s.len()).map(Seg::Index).collect(),
        _ => Vec::new(),
    }
}

/// Keep the `kind` and the first `n` other entries of a mapping, or the first `n` items.
fn truncate(v: &mut Value, n: usize) {
    match v {
        Value::Mapping(m) => {
            let mut seen = 0;
            m.retain(|k, _| {
                let keep = k.as_str() == Some("kind") || seen < n;
                seen += usize::from(k.as_str() != Some("kind"));
                keep
            });
        }
        Value::Sequence(s) => s.truncate(n),
        _ => {}
    }
}

/// The deepest entry below `at` that alone reproduces `msg`: the shortest prefix of a
/// section's entries that gives the same error ends with the culprit.
pub fn pinpoint<T: DeserializeOwned>(root: &Value, at: Vec<Seg>, msg: &str) -> Vec<Seg> {
    let Some(node) = get(root, &at) else {
        return at;
    };
    let list = entries(node);
    let same = |n: usize| {
        let mut copy = root.clone();
        if let Some(node) = get_mut(&mut copy, &at) {
            truncate(node, n);
        }
        error_of::<T>(&copy).as_deref() == Some(msg)
    };
    if list.is_empty() || same(0) {
        return at;
    }
    match (1..=list.len()).find(|&n| same(n)) {
        Some(n) => {
            let mut next = at;
            next.push(list[n - 1].clone());
            pinpoint::<T>(root, next, msg)
        }
        None => at,
    }
}

/// For "missing field `x`" reported at `at`: the mapping at or below `at` that lacks `x`
/// (the one where adding `x` changes the error into something other than "unknown field").
pub fn missing_in<T: DeserializeOwned>(root: &Value, at: Vec<Seg>, msg: &str, x: &str) -> Vec<Seg> {
    let mut stack = vec![at.clone()];
    while let Some(path) = stack.pop() {
        let Some(node) = get(root, &path) else {
            continue;
        };
        if node.is_mapping() && node.get(x).is_none() {
            let mut copy = root.clone();
            if let Some(Value::Mapping(m)) = get_mut(&mut copy, &path) {
                m.insert(Value::from(x), Value::Null);
            }
            let now = error_of::<T>(&copy);
            let unknown = format!("unknown field `{x}`");
            if now.as_deref() != Some(msg) && !now.is_some_and(|e| e.starts_with(&unknown)) {
                return path;
            }
        }
        for e in entries(node).into_iter().rev() {
            let mut child = path.clone();
            child.push(e);
            stack.push(child);
        }
    }
    at
}

/// serde's wording with Rust type names replaced by what a config author writes.
pub fn plain_words(msg: &str) -> String {
    let Some((what, expected)) = msg.split_once(", expected ") else {
        return msg.to_string();
    };
    let what = what
        .replace("unit value", "null")
        .replace("invalid type: map", "invalid type: a mapping");
    let expected = match expected {
        "usize" | "u64" | "u32" | "u16" | "u8" => "a whole number >= 0".to_string(),
        "isize" | "i64" | "i32" | "i16" | "i8" => "a whole number".to_string(),
        "f64" | "f32" => "a number".to_string(),
        "path string" => "a file path".to_string(),
        e if e.starts_with("internally tagged enum") => "a mapping with a `kind` key".into(),
        e if e.starts_with("struct ") || e.contains(" variant ") => "a mapping of keys".into(),
        e if e.starts_with("enum ") => "one of the names listed in the docs".into(),
        e => e.to_string(),
    };
    if expected.contains("number") {
        let text = ["invalid type: string \"", "invalid value: string \""]
            .iter()
            .find_map(|p| what.strip_prefix(p)?.strip_suffix('"'));
        if let Some(hint) = text.and_then(super::numbers::text_number_hint) {
            return format!("expected {expected}, but {hint}");
        }
    }
    // YAML 1.1's yes/no/on/off booleans are text in YAML 1.2, which the parser follows.
    let yaml11 = ["yes", "no", "on", "off", "y", "n"]
        .iter()
        .any(|w| what.eq_ignore_ascii_case(&format!("invalid type: string \"{w}\"")));
    if yaml11 && expected == "a boolean" {
        return format!("{what}, expected a boolean: write true or false (YAML 1.2 reads yes/no/on/off as text)");
    }
    format!("{what}, expected {expected}")
}
