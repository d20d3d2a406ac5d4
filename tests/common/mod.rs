//! Helpers shared by the study and report integration tests: run the real `lab` binary in a
//! temp dir and read the JSON files it writes.
#![allow(dead_code)]
use std::path::Path;
use std::process::{Command, Output};

pub const LAB: &str = env!("CARGO_BIN_EXE_lab");

/// A small, fast decompose study: `grid` and `seeds` are YAML flow text.
pub fn study_yaml(name: &str, grid: &str, seeds: &str) -> String {
    format!(
        "matrix: {{kind: random-spd, n: 8, condition: 10.0}}\n\
         subspace: {{kind: random-pattern, density: 0.3}}\n\
         output: {{save_matrices: false}}\n\
         study:\n  name: {name}\n  seeds: {seeds}\n  grid: {grid}\n"
    )
}

/// Run `lab ARGS` in `dir`; no stdin, output captured.
pub fn lab(dir: &Path, args: &[&str]) -> Output {
    Command::new(LAB)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("lab runs")
}

pub fn text(out: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("valid JSON")
}

/// The run's meta.json status; "" while the file is missing or half written.
pub fn status(run: &Path) -> String {
    let text = std::fs::read_to_string(run.join("meta.json")).unwrap_or_default();
    let meta: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    meta["status"].as_str().unwrap_or("").to_string()
}

/// Mean of summary.json entry `key` over the given run dirs.
pub fn mean_of(runs: &[&Path], key: &str) -> f64 {
    let values: Vec<f64> = runs
        .iter()
        .map(|r| {
            json(&r.join("summary.json"))[key]
                .as_f64()
                .expect("numeric metric")
        })
        .collect();
    values.iter().sum::<f64>() / values.len() as f64
}

/// The cell in `row_label`'s row of the first markdown table whose header has `column`.
pub fn table_cell(markdown: &str, row_label: &str, column: &str) -> String {
    let split = |line: &str| -> Vec<String> {
        line.trim()
            .trim_matches('|')
            .split('|')
            .map(|s| s.trim().to_string())
            .collect()
    };
    let header = markdown
        .lines()
        .find(|l| l.starts_with("| cell |"))
        .expect("a table header");
    let col = split(header)
        .iter()
        .position(|h| h == column)
        .unwrap_or_else(|| panic!("no column {column} in {header}"));
    let row = markdown
        .lines()
        .find(|l| l.starts_with(&format!("| `{row_label}` |")))
        .unwrap_or_else(|| panic!("no row {row_label}"));
    split(row)[col].clone()
}
