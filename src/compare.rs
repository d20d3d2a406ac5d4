//! `lab compare RUN_A RUN_B ...`: summary metrics side by side, then the config keys whose
//! values differ between the runs (from each run's resolved config.yaml).
use crate::error::usage;
use crate::results::flat::{differing_keys, flat_config, lookup, FlatConfig};
use crate::results::format::sig;
use crate::results::runs::{read_run, RunInfo};
use anyhow::Result;
use std::path::{Path, PathBuf};

/// `lab compare`.
pub fn command(dirs: &[PathBuf]) -> Result<()> {
    if dirs.len() < 2 {
        return Err(usage("lab compare: give at least two run directories"));
    }
    let mut runs = Vec::new();
    let mut configs = Vec::new();
    let mut seen: Vec<(PathBuf, &PathBuf)> = Vec::new();
    for dir in dirs {
        if !dir.is_dir() {
            let what = if dir.exists() {
                "not a directory (give a run directory, not a file in it)"
            } else {
                "no such directory"
            };
            return Err(usage(format!("{}: {what}", dir.display())));
        }
        if !dir.join("meta.json").is_file() {
            return Err(usage(format!(
                "{}: not a lab run directory (no meta.json)",
                dir.display()
            )));
        }
        // `a`, `./a/` and a link to it are one run: two columns of it would compare nothing.
        let real = dir.canonicalize().unwrap_or_else(|_| dir.clone());
        if let Some((_, first)) = seen.iter().find(|(r, _)| *r == real) {
            return Err(usage(format!(
                "lab compare: {} and {} are the same run; give each run once",
                first.display(),
                dir.display()
            )));
        }
        seen.push((real, dir));
        runs.push(read_run(dir)?);
        configs.push(flat_config(dir)?);
    }
    for note in crate::results::summary::unusable_notes(&runs) {
        eprintln!("note: {note}");
    }
    print!("{}", render(&runs, &configs));
    Ok(())
}

/// The whole output as text: a metrics table and a table of differing config keys.
pub fn render(runs: &[RunInfo], configs: &[FlatConfig]) -> String {
    let names: Vec<String> = short_names(runs.iter().map(|r| r.dir.as_path()).collect());
    let mut head = vec!["metric".to_string()];
    head.extend(names.iter().cloned());
    let mut rows = vec![head.clone()];
    rows.push(
        std::iter::once("status".to_string())
            .chain(runs.iter().map(|r| r.status.clone()))
            .collect(),
    );
    // Runs of different subcommands share few metrics and config keys: say whose they are.
    let subcommands: Vec<String> = runs
        .iter()
        .map(|r| r.subcommand.clone().unwrap_or_else(|| "?".into()))
        .collect();
    if subcommands.iter().any(|s| *s != subcommands[0]) {
        rows.push(
            std::iter::once("subcommand".to_string())
                .chain(subcommands)
                .collect(),
        );
    }
    for m in metric_names(runs) {
        let mut row = vec![m.clone()];
        row.extend(runs.iter().map(|r| r.metric(&m).map_or("–".into(), sig)));
        rows.push(row);
    }
    let mut out = table(&rows);
    let diff = differing_keys(&configs.iter().collect::<Vec<_>>());
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
    fn short_names_use_the_fewest_trailing_parts() {
        let names = short_names(vec![Path::new("r/s/a/seed-0"), Path::new("r/s/b/seed-0")]);
        assert_eq!(names, ["a/seed-0", "b/seed-0"]);
    }
}
