//! `lab compare RUN_A RUN_B ...`: summary metrics side by side, then the config keys whose
//! values differ between the runs (from each run's resolved config.yaml).
use crate::error::usage;
use crate::results::format::sig;
use crate::results::runs::{read_run, RunInfo};
use anyhow::{Context, Result};
use serde_yaml_ng::Value;
use std::path::{Path, PathBuf};

/// `lab compare`.
pub fn command(dirs: &[PathBuf]) -> Result<()> {
    if dirs.len() < 2 {
        return Err(usage("lab compare: give at least two run directories"));
    }
    let mut runs = Vec::new();
    let mut configs = Vec::new();
    for dir in dirs {
        if !dir.join("meta.json").is_file() {
            return Err(usage(format!(
                "{}: not a lab run directory (no meta.json)",
                dir.display()
            )));
        }
        runs.push(read_run(dir)?);
        configs.push(flat_config(dir)?);
    }
    print!("{}", render(&runs, &configs));
    Ok(())
}

/// The whole output as text: a metrics table and a table of differing config keys.
pub fn render(runs: &[RunInfo], configs: &[Vec<(String, String)>]) -> String {
    let names: Vec<String> = short_names(runs.iter().map(|r| r.dir.as_path()).collect());
    let mut head = vec!["metric".to_string()];
    head.extend(names.iter().cloned());
    let mut rows = vec![head.clone()];
    rows.push(
        std::iter::once("status".to_string())
            .chain(runs.iter().map(|r| r.status.clone()))
            .collect(),
    );
    for m in metric_names(runs) {
        let mut row = vec![m.clone()];
        row.extend(runs.iter().map(|r| r.metric(&m).map_or("–".into(), sig)));
        rows.push(row);
    }
    let mut out = table(&rows);
    let diff = differing_keys(configs);
    out.push('\n');
    if diff.is_empty() {
        out.push_str("config: identical\n");
        return out;
    }
    head[0] = "config key".into();
    let mut rows = vec![head];
    for key in diff {
        let mut row = vec![key.clone()];
        row.extend(
            configs
                .iter()
                .map(|c| lookup(c, &key).unwrap_or("(absent)").to_string()),
        );
        rows.push(row);
    }
    out.push_str(&table(&rows));
    out
}

fn metric_names(runs: &[RunInfo]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for (k, _) in runs.iter().flat_map(|r| &r.summary) {
        if !names.contains(k) {
            names.push(k.clone());
        }
    }
    names
}

/// Keys (in first-seen order) whose value is not the same in every config.
fn differing_keys(configs: &[Vec<(String, String)>]) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for (k, _) in configs.iter().flatten() {
        if !keys.contains(k) {
            keys.push(k.clone());
        }
    }
    keys.into_iter()
        .filter(|k| {
            let first = lookup(&configs[0], k);
            configs.iter().any(|c| lookup(c, k) != first)
        })
        .collect()
}

fn lookup<'a>(config: &'a [(String, String)], key: &str) -> Option<&'a str> {
    config
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// config.yaml as `a.b.c` → value text (lists as compact text, not split up).
fn flat_config(dir: &Path) -> Result<Vec<(String, String)>> {
    let path = dir.join("config.yaml");
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let value: Value = serde_yaml_ng::from_str(&text)
        .map_err(|e| usage(format!("{}: invalid YAML: {e}", path.display())))?;
    let mut out = Vec::new();
    flatten("", &value, &mut out);
    Ok(out)
}

fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
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

/// Shortest trailing path parts that tell the runs apart (`cell/seed-0` rather than the full path).
fn short_names(dirs: Vec<&Path>) -> Vec<String> {
    let parts: Vec<Vec<String>> = dirs
        .iter()
        .map(|d| {
            d.components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect()
        })
        .collect();
    let longest = parts.iter().map(Vec::len).max().unwrap_or(1);
    for take in 1..=longest {
        let names: Vec<String> = parts
            .iter()
            .map(|p| p[p.len().saturating_sub(take)..].join("/"))
            .collect();
        let unique: std::collections::HashSet<&String> = names.iter().collect();
        if unique.len() == names.len() {
            return names;
        }
    }
    dirs.iter().map(|d| d.display().to_string()).collect()
}

/// Left-aligned columns separated by two spaces, a rule under the header.
fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for (n, row) in rows.iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(s, w)| format!("{s:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
        if n == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            out.push_str(&rule.join("  "));
            out.push('\n');
        }
    }
    out
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
        assert_eq!(differing_keys(&[a, b]), ["y", "z"]);
    }

    #[test]
    fn short_names_use_the_fewest_trailing_parts() {
        let names = short_names(vec![Path::new("r/s/a/seed-0"), Path::new("r/s/b/seed-0")]);
        assert_eq!(names, ["a/seed-0", "b/seed-0"]);
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
