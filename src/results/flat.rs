//! A run's resolved config.yaml as flat `a.b.c` → value text pairs: what `compare` lists and
//! what `report`/`plot` group runs by outside a study.
use crate::error::usage;
use anyhow::Result;
use serde_yaml_ng::Value;
use std::path::Path;

/// Key → value text, in file order.
pub type FlatConfig = Vec<(String, String)>;

/// config.yaml of run dir `dir` flattened (lists as compact text, not split up); empty when the
/// run has none.
pub fn flat_config(dir: &Path) -> Result<FlatConfig> {
    let path = dir.join("config.yaml");
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text = crate::input::read_result(&path)
        .map_err(|e| usage(format!("reading {}: {e}", path.display())))?;
    let value: Value = serde_yaml_ng::from_str(&text)
        .map_err(|e| usage(format!("{}: invalid YAML: {e}", path.display())))?;
    let mut out = Vec::new();
    flatten("", &value, &mut out);
    Ok(out)
}

pub fn flatten(prefix: &str, value: &Value, out: &mut FlatConfig) {
    match value {
        Value::Mapping(map) if !map.is_empty() => {
            for (k, v) in map {
                let key = k.as_str().map_or_else(|| format!("{k:?}"), str::to_string);
                let path = if prefix.is_empty() {
                    key
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&path, v, out);
            }
        }
        other => {
            let text = match other {
                Value::String(s) => s.clone(),
                v => serde_json::to_string(v).unwrap_or_else(|_| format!("{v:?}")),
            };
            out.push((prefix.to_string(), text));
        }
    }
}

pub fn lookup<'a>(config: &'a [(String, String)], key: &str) -> Option<&'a str> {
    config
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Keys (in first-seen order) whose value is not the same in every config.
pub fn differing_keys(configs: &[&FlatConfig]) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for (k, _) in configs.iter().copied().flatten() {
        if !keys.contains(k) {
            keys.push(k.clone());
        }
    }
    keys.into_iter()
        .filter(|k| {
            let first = configs.first().and_then(|c| lookup(c, k));
            configs.iter().any(|c| lookup(c, k) != first)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differing_keys_include_absent_ones() {
        let a = vec![("x".into(), "1".into()), ("y".into(), "2".into())];
        let b = vec![
            ("x".into(), "1".into()),
            ("y".into(), "3".into()),
            ("z".into(), "0".into()),
        ];
        assert_eq!(differing_keys(&[&a, &b]), ["y", "z"]);
    }

    #[test]
    fn flatten_nested_mappings() {
        let v: Value = serde_yaml_ng::from_str("a: {b: 1, c: [1, 2]}\nd: x").unwrap();
        let mut out = Vec::new();
        flatten("", &v, &mut out);
        assert_eq!(out[0], ("a.b".into(), "1".into()));
        assert_eq!(out[1], ("a.c".into(), "[1,2]".into()));
        assert_eq!(out[2], ("d".into(), "x".into()));
    }
}
