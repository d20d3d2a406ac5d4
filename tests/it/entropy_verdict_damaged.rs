//! `lab report` on an entropy-probe study with one damaged run: a ragged or non-UTF-8
//! metrics.csv, or a config.yaml missing. The run is left out of the verdicts with a note that
//! names its file and the problem; the other runs are analysed and the report exits 0.
use crate::common::*;
use crate::entropy_verdict::{calm_when_stabilised, report, write_study};
use std::path::Path;

/// The gpt/plain/seed-0 run of a clear-effect study, damaged by `damage`: the report leaves it
/// out with a note holding `needles`, keeps H1 supported on the 29 others and exits 0.
fn left_out(what: &str, damage: &dyn Fn(&Path), needles: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("sweep");
    write_study(&root, &|s| 0.2 + 0.01 * s as f64, &calm_when_stabilised);
    let run = root.join("model.kind=gpt,condition=plain/seed-0");
    damage(&run);
    let (rows, md) = report(&root);
    let note = md
        .lines()
        .find(|l| l.contains(&format!("{}: left out: ", run.display())))
        .unwrap_or_else(|| panic!("{what}: no note on the run: {md}"));
    for n in needles {
        assert!(note.contains(n), "{what}: no `{n}` in the note: {note}");
    }
    assert!(!md.contains("could not be written"), "{what}: {md}");
    let key = (
        "H1".to_string(),
        "all".to_string(),
        "all".to_string(),
        "all".to_string(),
    );
    let h1 = rows
        .get(&key)
        .unwrap_or_else(|| panic!("{what}: no H1 row"));
    assert_eq!(h1[10], "supported", "{what}: the other runs' verdict");
    let (_, runs) = read_csv(&root.join("sweep.csv"));
    assert_eq!(runs.len(), 29, "{what}: the damaged run is left out");
}

#[test]
fn entropy_report_leaves_out_a_run_with_a_ragged_metrics_csv() {
    left_out(
        "ragged",
        &|run| {
            let csv = run.join("metrics.csv");
            let mut text = read(&csv);
            text.push_str("80,1,2\n");
            std::fs::write(&csv, text).unwrap();
        },
        &["metrics.csv", "found record with 3 fields"],
    );
}

#[test]
fn entropy_report_leaves_out_a_run_with_a_non_utf8_metrics_csv() {
    left_out(
        "non-UTF-8",
        &|run| {
            let csv = run.join("metrics.csv");
            let mut bytes = std::fs::read(&csv).unwrap();
            let at = bytes.iter().rposition(|b| *b == b',').unwrap();
            bytes.splice(at..at, [0xff, 0xfe]);
            std::fs::write(&csv, bytes).unwrap();
        },
        &["metrics.csv", "invalid utf-8"],
    );
}

#[test]
fn entropy_report_leaves_out_a_run_without_config_yaml() {
    left_out(
        "missing config.yaml",
        &|run| std::fs::remove_file(run.join("config.yaml")).unwrap(),
        &["config.yaml is missing"],
    );
}

/// Two runs of one (arch, condition, seed) (a run's config.yaml edited to another's seed): the
/// analysis used one and sweep.csv listed both. The second is left out with a note naming
/// both folders; sweep.csv has one row per (arch, condition, seed).
#[test]
fn entropy_report_leaves_out_a_repeated_arch_condition_seed() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("sweep");
    write_study(&root, &|s| 0.2 + 0.01 * s as f64, &calm_when_stabilised);
    let cell = root.join("model.kind=gpt,condition=plain");
    let config = "seed: 0\nmodel:\n  kind: gpt\ncondition: plain\n";
    std::fs::write(cell.join("seed-1/config.yaml"), config).unwrap();
    let (_, md) = report(&root);
    let note = md
        .lines()
        .find(|l| l.contains(&format!("{}: left out: ", cell.join("seed-1").display())))
        .unwrap_or_else(|| panic!("no note on the repeat: {md}"));
    let first = cell.join("seed-0").display().to_string();
    assert!(
        note.contains("repeats arch `gpt`, condition `plain`, seed 0 of") && note.contains(&first),
        "{note}"
    );
    let (header, rows) = read_csv(&root.join("sweep.csv"));
    assert_eq!(rows.len(), 29, "the repeat is left out: {rows:?}");
    let key = |r: &Vec<String>| ["arch", "condition", "seed"].map(|c| r[col(&header, c)].clone());
    let mut keys: Vec<[String; 3]> = rows.iter().map(key).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(
        keys.len(),
        rows.len(),
        "one row per (arch, condition, seed)"
    );
}
