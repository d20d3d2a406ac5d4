//! Helpers for integration tests: run the real `lab` binary in a temp dir and read what it writes.

use std::path::Path;
use std::process::{Command, Output};

pub const LAB: &str = env!("CARGO_BIN_EXE_lab");

/// Run `lab` with `args` in directory `cwd`; no stdin, output captured.
pub fn lab(cwd: &Path, args: &[&str]) -> Output {
    Command::new(LAB)
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("the lab binary runs")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

pub fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&read(path)).expect("valid JSON")
}

/// A CSV's text with the named columns removed (e.g. timing columns).
pub fn csv_without(path: &Path, drop: &[&str]) -> Vec<Vec<String>> {
    let mut reader = csv::Reader::from_path(path).expect("csv opens");
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let keep: Vec<usize> = (0..header.len())
        .filter(|&i| !drop.contains(&header[i].as_str()))
        .collect();
    let mut rows = vec![keep.iter().map(|&i| header[i].clone()).collect()];
    for rec in reader.records() {
        let rec = rec.unwrap();
        rows.push(keep.iter().map(|&i| rec[i].to_string()).collect());
    }
    rows
}

/// A small, fast decompose study: `grid` and `seeds` are YAML flow text.
pub fn study_yaml(name: &str, grid: &str, seeds: &str) -> String {
    format!(
        "matrix: {{kind: random-spd, n: 8, condition: 10.0}}\n\
         subspace: {{kind: random-pattern, density: 0.3}}\n\
         output: {{save_matrices: false}}\n\
         study:\n  name: {name}\n  seeds: {seeds}\n  grid: {grid}\n"
    )
}

pub fn text(out: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
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
