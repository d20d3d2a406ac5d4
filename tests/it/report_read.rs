//! What `lab report` and `lab compare` make of runs that are not a tidy study: a folder of runs
//! of different configs, metrics equal in every run, a metric named `n`, finance summaries.
use crate::common::*;
use std::path::Path;

/// A finished run dir written by hand: meta.json, config.yaml and summary.json.
pub fn fake_run(dir: &Path, config: &str, summary: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let meta = r#"{"status": "completed", "subcommand": "decompose"}"#;
    std::fs::write(dir.join("meta.json"), meta).unwrap();
    std::fs::write(dir.join("config.yaml"), config).unwrap();
    std::fs::write(dir.join("summary.json"), summary).unwrap();
}

#[test]
fn report_keeps_runs_of_different_configs_apart() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("mixed");
    fake_run(
        &root.join("a"),
        "seed: 0\nmatrix: {n: 8}\n",
        r#"{"x": 1.0}"#,
    );
    fake_run(
        &root.join("b"),
        "seed: 1\nmatrix: {n: 8}\n",
        r#"{"x": 3.0}"#,
    );
    fake_run(
        &root.join("c"),
        "seed: 0\nmatrix: {n: 12}\n",
        r#"{"x": 100.0}"#,
    );
    let out = lab(tmp.path(), &["report", root.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out).contains("3 runs have 2 different configs (differing in matrix.n)"),
        "{}",
        text(&out)
    );
    let md = read(&root.join("report.md"));
    assert_eq!(table_cell(&md, "mixed [matrix.n=8]", "runs"), "2/2");
    assert!(
        table_cell(&md, "mixed [matrix.n=8]", "x").starts_with("2 ± 1"),
        "{md}"
    );
    assert_eq!(table_cell(&md, "mixed [matrix.n=12]", "x"), "100 ± –");
    assert!(
        md.contains("**Note:** `mixed`: its 3 runs have 2 different configs"),
        "{md}"
    );
    let (header, rows) = read_csv(&root.join("summary.csv"));
    let key = col(&header, "matrix.n");
    let keys: Vec<&str> = rows.iter().map(|r| r[key].as_str()).collect();
    assert_eq!(keys, ["8", "12"]);
}

#[test]
fn constant_metrics_leave_the_table_and_n_is_a_metric_not_the_count() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("seeds");
    for (seed, x) in [(0, 1.0), (1, 2.0), (2, 6.0)] {
        let config = format!("seed: {seed}\nmatrix: {{n: 20}}\n");
        let partial = if seed < 2 {
            format!(r#", "partial": {seed}"#)
        } else {
            String::new()
        };
        let summary = format!(r#"{{"n": 20, "converged": true, "x": {x}{partial}}}"#);
        fake_run(&root.join(format!("seed-{seed}")), &config, &summary);
    }
    let out = lab(tmp.path(), &["report", root.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let md = read(&root.join("report.md"));
    assert!(
        md.contains("Same in every completed run: `n` = 20, `converged` = 1."),
        "{md}"
    );
    let head = md.lines().find(|l| l.starts_with("| cell |")).unwrap();
    assert_eq!(head, "| cell | runs | x | partial |");
    assert_eq!(table_cell(&md, "seeds", "partial"), "0.5 ± 0.5 (2 runs)");
    assert_eq!(table_cell(&md, "seeds", "x"), "3 ± 1.528");
    let (header, rows) = read_csv(&root.join("summary.csv"));
    assert!(!header.contains(&"n".to_string()), "{header:?}");
    let (metric, runs, mean) = (
        col(&header, "metric"),
        col(&header, "runs"),
        col(&header, "mean"),
    );
    let n_row = rows
        .iter()
        .find(|r| r[metric] == "n")
        .expect("a row for metric n");
    assert_eq!((n_row[runs].as_str(), n_row[mean].as_str()), ("3", "20"));
}

#[test]
fn finance_summaries_are_read_by_report_and_compare() {
    let tmp = tempfile::tempdir().unwrap();
    let mut dirs = Vec::new();
    for (name, h) in [("f1", "0.6"), ("f2", "0.7")] {
        let out = lab(
            tmp.path(),
            &[
                "decompose",
                "--quiet",
                "--config",
                concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/configs/decompose/finance.yaml"
                ),
                "--set",
                "mode.periods=12",
                "--set",
                &format!("mode.hurst=[{h}]"),
                "--out",
                name,
            ],
        );
        assert!(out.status.success(), "{}", text(&out));
        dirs.push(tmp.path().join(name));
    }
    let summary = json(&dirs[0].join("summary.json"));
    assert_eq!(summary["cases"], 3, "{summary}");
    let (header, rows) = read_csv(&dirs[0].join("finance.csv"));
    let markov = rows
        .iter()
        .find(|r| r[col(&header, "structure")] == "markovian")
        .unwrap();
    let ce: f64 = markov[col(&header, "certainty_equivalent")]
        .parse()
        .unwrap();
    let key = "H=0.6 markovian.certainty_equivalent";
    let out = lab(tmp.path(), &["report", dirs[0].to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let md = read(&dirs[0].join("report.md"));
    let shown = table_cell(&md, "f1", key);
    let shown: f64 = shown.split(" ± ").next().unwrap().parse().expect(&shown);
    assert!(
        (shown - ce).abs() <= 1e-3 * ce.abs().max(1e-9),
        "{shown} vs {ce}"
    );
    let out = lab(tmp.path(), &["compare", "f1", "f2"]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = stdout(&out);
    let row = stdout
        .lines()
        .find(|l| l.starts_with("solve_s "))
        .expect(&stdout);
    assert_eq!(row.split_whitespace().count(), 3, "{stdout}");
    assert!(
        stdout.contains("H=0.7 full.certainty_equivalent"),
        "{stdout}"
    );
}

/// A completed run whose summary.json is not a JSON object (`[]`, `3`), is cut short or is
/// missing is broken: listed with the reason, left out of the statistics, and the other runs are still
/// reported (exit 0, as for failed runs).
#[test]
fn damaged_summaries_make_their_runs_broken_not_the_report() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("runs");
    let config = "seed: 0\nmatrix: {n: 8}\n";
    fake_run(&root.join("good"), config, r#"{"x": 1.0}"#);
    fake_run(&root.join("list"), config, "[]");
    fake_run(&root.join("number"), config, "3");
    fake_run(&root.join("cut"), config, r#"{"x": 2.0, "y"#);
    // Deleted: a completed run without numbers used to count as completed, with none.
    fake_run(&root.join("gone"), config, r#"{"x": 3.0}"#);
    std::fs::remove_file(root.join("gone/summary.json")).unwrap();
    let out = lab(tmp.path(), &["report", root.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let md = read(&root.join("report.md"));
    assert!(
        md.contains("- runs: 1 completed, 4 failed or unfinished"),
        "{md}"
    );
    assert_eq!(table_cell(&md, "runs", "runs"), "1/5");
    assert_eq!(table_cell(&md, "runs", "x"), "1 ± –");
    for (run, why) in [
        ("list", "the file holds an array"),
        ("number", "the file holds a number"),
        ("cut", "unreadable JSON"),
        ("gone", "missing, though the run completed"),
    ] {
        let line = md
            .lines()
            .find(|l| l.starts_with(&format!("- `{run}` (broken): ")))
            .unwrap_or_else(|| panic!("{run} listed as broken: {md}"));
        assert!(
            line.contains("summary.json") && line.contains(why),
            "{line}"
        );
    }
}

/// `lab report RUN` of one failed run names that run in the failed list (by its folder's
/// name), not as an empty ``.
#[test]
fn one_failed_run_is_listed_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("solo");
    fake_run(&run, "seed: 0\n", r#"{"x": 1.0}"#);
    let meta = r#"{"status": "failed", "subcommand": "decompose", "error": "boom"}"#;
    std::fs::write(run.join("meta.json"), meta).unwrap();
    let out = lab(tmp.path(), &["report", "solo"]);
    assert!(out.status.success(), "{}", text(&out));
    let md = read(&run.join("report.md"));
    assert!(md.contains("- `solo` (failed): boom"), "{md}");
    assert!(!md.contains("``"), "{md}");
}

/// A meta.json that is valid JSON but not an object (a list, a string) is `unreadable` with
/// the reason, in `lab compare` and in `lab report`, not a run of `unknown` status.
#[test]
fn a_meta_json_that_is_not_an_object_is_unreadable() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("runs");
    fake_run(&root.join("good"), "seed: 0\n", r#"{"x": 1.0}"#);
    fake_run(&root.join("list"), "seed: 1\n", r#"{"x": 2.0}"#);
    std::fs::write(root.join("list/meta.json"), "[1, 2]").unwrap();
    let out = lab(tmp.path(), &["compare", "runs/good", "runs/list"]);
    assert!(out.status.success(), "{}", text(&out));
    let status = stdout(&out)
        .lines()
        .find(|l| l.starts_with("status"))
        .map(str::to_string)
        .unwrap_or_default();
    let words: Vec<&str> = status.split_whitespace().collect();
    assert_eq!(
        words,
        ["status", "completed", "unreadable"],
        "{}",
        stdout(&out)
    );
    let out = lab(tmp.path(), &["report", "runs"]);
    assert!(out.status.success(), "{}", text(&out));
    let md = read(&root.join("report.md"));
    let line = md
        .lines()
        .find(|l| l.starts_with("- `list` (unreadable): "))
        .unwrap_or_else(|| panic!("list listed as unreadable: {md}"));
    assert!(line.contains("meta.json: not a JSON object"), "{line}");
}

/// Unescaped `|` of a markdown table line (a `\|` is text inside a cell).
fn separators(line: &str) -> usize {
    let bytes = line.as_bytes();
    (0..bytes.len())
        .filter(|&i| bytes[i] == b'|' && (i == 0 || bytes[i - 1] != b'\\'))
        .count()
}

/// Folders of runs named `a|b` or with a line break (and a summary key with a `|`) broke
/// report.md's tables: the `|` ended the cell early, so every later number stood under the
/// wrong metric, and the line break ended the row. Each row now has the header's columns.
#[test]
fn a_pipe_or_line_break_in_a_name_keeps_the_report_tables_in_columns() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("runs");
    for (i, name) in ["a|b", "two\nlines", "plain"].iter().enumerate() {
        let summary = format!(r#"{{"x": {i}.5, "p|q": {i}.25}}"#);
        fake_run(&root.join(name).join("r1"), "seed: 0\n", &summary);
        fake_run(&root.join(name).join("r2"), "seed: 1\n", &summary);
    }
    let failed = r#"{"status": "failed", "subcommand": "decompose", "error": "boom"}"#;
    std::fs::write(root.join("two\nlines/r2/meta.json"), failed).unwrap();
    let out = lab(tmp.path(), &["report", "runs"]);
    assert!(out.status.success(), "{}", text(&out));
    let md = read(&root.join("report.md"));
    for section in ["## Summary metrics", "## 95% bootstrap"] {
        let table: Vec<&str> = md
            .split(section)
            .nth(1)
            .unwrap_or_else(|| panic!("{section}: {md}"))
            .lines()
            .skip_while(|l| !l.starts_with("| cell"))
            .take_while(|l| !l.is_empty())
            .collect();
        assert_eq!(table.len(), 5, "header, rule and 3 rows: {md}");
        assert!(table[0].contains("p\\|q"), "{md}");
        for row in &table[2..] {
            assert_eq!(separators(row), separators(table[0]), "{row}\n{md}");
        }
        assert!(table.iter().any(|r| r.starts_with("| `a\\|b` |")), "{md}");
    }
    assert!(md.contains("- `two lines/r2` (failed): boom"), "{md}");
}
