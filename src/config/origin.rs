//! Where a key of the merged config came from: the `--set` that set it, the line of the user's
//! file, the per-kind defaults of a section whose kind was switched, or the embedded default.
use super::Loaded;
use serde_yaml_ng::Value;

impl Loaded {
    /// " in FILE line N" / "(from --set ...)" / "(default of `a.kind: k` ...)" for a key path.
    pub fn origin(&self, path: &str) -> String {
        let clean = strip_indices(path);
        let covers = |k: &str| clean == k || clean.starts_with(&format!("{k}."));
        if let Some((_, how)) = self.layers.cell.iter().rev().find(|(k, _)| covers(k)) {
            return format!("({how})");
        }
        if let Some(s) = self.set_of(&clean).or_else(|| self.set_creating(&clean)) {
            return format!("(from --set {s})");
        }
        if let Some(src) = &self.user {
            let written = super::parse_yaml(&src.text)
                .ok()
                .is_some_and(|v| lookup(&v, &clean).is_some());
            if let Some(line) = nearest_line(&src.text, &clean).filter(|_| written) {
                return format!("in {} line {line}", src.name);
            }
        }
        if let Some(o) = self.kind_default_origin(&clean) {
            return o;
        }
        if let Some(line) = nearest_line(&self.default.text, &clean) {
            return format!("in {} line {line}", self.default.name);
        }
        format!("in {}", self.user.as_ref().unwrap_or(&self.default).name)
    }

    /// The last `--set` that set `path` or a section holding it.
    fn set_of(&self, path: &str) -> Option<&String> {
        self.sets.iter().rev().find(|s| {
            s.split_once('=').is_some_and(|(k, _)| {
                let k = strip_indices(k.trim());
                path == k || path.starts_with(&format!("{k}."))
            })
        })
    }

    /// The last `--set` below `path` when neither the default nor the user's file has
    /// `path`: that `--set` created it (`--set solvr.max_iter=3` makes the unknown `solvr`).
    fn set_creating(&self, path: &str) -> Option<&String> {
        let has = |src: &super::Source| {
            super::parse_yaml(&src.text)
                .ok()
                .is_some_and(|v| lookup(&v, path).is_some())
        };
        if has(&self.default) || self.user.as_ref().is_some_and(has) {
            return None;
        }
        let below = format!("{path}.");
        self.sets.iter().rev().find(|s| {
            s.split_once('=')
                .is_some_and(|(k, _)| strip_indices(k.trim()).starts_with(&below))
        })
    }

    /// For a key inside a section whose `kind` differs from the embedded default's: the
    /// per-kind defaults it came from, and where the kind was chosen.
    fn kind_default_origin(&self, path: &str) -> Option<String> {
        let keys: Vec<&str> = path.split('.').collect();
        let default: Value = serde_yaml_ng::from_str(&self.default.text).ok()?;
        (1..keys.len()).rev().find_map(|depth| {
            let section = keys[..depth].join(".");
            let kind_path = format!("{section}.kind");
            if kind_path == path {
                return None; // a kind key's origin is that of its section's defaults
            }
            let kind = lookup(&self.value, &kind_path)?;
            if lookup(&default, &kind_path) == Some(kind) {
                return None;
            }
            let kind = kind.as_str()?;
            Some(format!(
                "(default of `{kind_path}: {kind}` in {}; the kind {})",
                self.layers.kinds.origin(&section, kind),
                self.origin(&kind_path)
                    .trim_matches(|c| c == '(' || c == ')')
            ))
        })
    }
}

/// The value at dotted `path` in `root`, if there is one.
pub fn lookup<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(root, |v, k| v.get(k))
}

/// The line of `path` in `text`, or of its closest ancestor written there.
fn nearest_line(text: &str, path: &str) -> Option<usize> {
    let keys: Vec<&str> = path.split('.').collect();
    (1..=keys.len())
        .rev()
        .find_map(|depth| locate_keys(text, &keys[..depth]))
}

pub fn strip_indices(path: &str) -> String {
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

/// 1-based line where the dotted key `path` is written in a block-style YAML text.
pub fn locate(text: &str, path: &str) -> Option<usize> {
    let keys: Vec<&str> = path.split('.').collect();
    locate_keys(text, &keys)
}

/// 1-based line where the nested keys `target` are written in a block-style YAML text.
pub fn locate_keys(text: &str, target: &[&str]) -> Option<usize> {
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
        if stack.len() == target.len() && stack.iter().zip(target).all(|((_, k), t)| k == t) {
            return Some(no + 1);
        }
    }
    None
}
