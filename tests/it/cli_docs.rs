//! Every `lab <paper>` example in `--help`, the README and docs/ is real: it resolves with
//! `--print-config` (a dry run that types and validates the config).
use crate::common::{code, lab, stderr, stdout};
use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Split a shell line into words (single quotes group, nothing else is special here).
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for ch in line.chars() {
        match ch {
            '\'' => quoted = !quoted,
            ' ' if !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            _ => cur.push(ch),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The `lab <paper> ...` command lines of a Markdown file (continuations joined, comments cut).
fn examples(text: &str, papers: &[&str]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let mut cmd = line.trim().to_string();
        if !papers.iter().any(|p| cmd.starts_with(&format!("lab {p}"))) {
            continue;
        }
        while cmd.ends_with('\\') {
            cmd.pop();
            cmd.push(' ');
            cmd.push_str(lines.next().unwrap_or_default().trim());
        }
        let cmd = cmd.split(" #").next().unwrap_or_default();
        out.push(words(cmd).into_iter().skip(1).collect());
    }
    out
}

#[test]
fn every_documented_example_resolves() {
    let papers = ["decompose", "npg-rank1"];
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(repo().join("configs"), dir.path().join("configs")).unwrap();
    let spd: Vec<f64> = (0..16)
        .map(|k| if k % 5 == 0 { 4.0 } else { 0.5 })
        .collect();
    crate::input_errors::npy(&dir.path().join("A.npy"), "<f8", (4, 4), &spd);
    let mut docs = vec![repo().join("README.md")];
    for entry in std::fs::read_dir(repo().join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            docs.push(path);
        }
    }
    let mut checked = 0;
    for doc in &docs {
        let text = std::fs::read_to_string(doc).unwrap();
        for args in examples(&text, &papers) {
            if args.iter().any(|a| a.contains('<') || a == "--resume") {
                continue; // a placeholder run directory
            }
            let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
            if !all.contains(&"--print-config") {
                all.push("--print-config");
            }
            let out = lab(dir.path(), &all);
            assert_eq!(
                code(&out),
                0,
                "{}: lab {all:?}: {}",
                doc.display(),
                stderr(&out)
            );
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} examples found");
}

#[test]
fn the_help_set_example_is_a_key_of_each_subcommand() {
    for sub in ["decompose", "npg-rank1"] {
        let help = stdout(&lab(&repo(), &[sub, "--help"]));
        let example = help
            .split("e.g. --set ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("{sub} --help shows no --set example: {help}"));
        let out = lab(&repo(), &[sub, "--print-config", "--set", example]);
        assert_eq!(code(&out), 0, "{sub} --set {example}: {}", stderr(&out));
        let (key, value) = example.split_once('=').unwrap();
        let cfg: serde_yaml_ng::Value = serde_yaml_ng::from_str(&stdout(&out)).unwrap();
        let got = key.split('.').try_fold(&cfg, |v, k| v.get(k)).unwrap();
        let want: serde_yaml_ng::Value = serde_yaml_ng::from_str(value).unwrap();
        assert_eq!(got.as_f64(), want.as_f64(), "{sub} --set {example}");
    }
}

#[test]
fn a_set_of_a_grid_axis_replaces_that_axis() {
    let study = "configs/decompose/study.yaml";
    for (set, want) in [
        ("study.grid.matrix.n=[20,40]", vec![20, 40]),
        ("study.grid.matrix.n=[8,12]", vec![8, 12]),
    ] {
        let out = lab(
            &repo(),
            &[
                "decompose",
                "--config",
                study,
                "--set",
                set,
                "--set",
                "study.seeds=[0,1]",
                "--print-config",
            ],
        );
        assert_eq!(code(&out), 0, "--set {set}: {}", stderr(&out));
        let cfg: serde_yaml_ng::Value = serde_yaml_ng::from_str(&stdout(&out)).unwrap();
        let grid = cfg["study"]["grid"].as_mapping().unwrap();
        assert_eq!(grid.len(), 1, "one axis, not two: {grid:?}");
        let got: Vec<i64> = grid
            .get("matrix.n")
            .and_then(|v| v.as_sequence())
            .unwrap_or_else(|| panic!("{grid:?}"))
            .iter()
            .filter_map(|v| v.as_i64())
            .collect();
        assert_eq!(got, want);
    }
}
