//! Summary entries that read as no number where one is expected: a hand-edited non-finite
//! number, or text (`"NaN"`, `"-Infinity"`, text under a key other runs report as a number). They
//! were left out of the statistics without a word; now a note names the file and the key.
use crate::common::*;
use crate::report_read::fake_run;

#[test]
fn non_finite_and_text_summary_values_are_named_in_a_note() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("runs");
    let runs = [
        (
            "good",
            r#"{"x": 1.0, "y": 2.0, "label": "abc", "id": "123456789012"}"#,
        ),
        ("inf", r#"{"x": 1e999, "y": 3.0, "label": "abc"}"#),
        (
            "nan",
            r#"{"x": "NaN", "y": 4.0, "id": "12e456789012", "z": "-Infinity"}"#,
        ),
        ("text", r#"{"x": "0.5", "y": "oops", "label": "d"}"#),
        // JSON has no infinity, but the reader takes YAML's.
        ("yaml", r#"{"x": .inf, "y": 5.0}"#),
    ];
    for (seed, (name, summary)) in runs.iter().enumerate() {
        let config = format!("seed: {seed}\nmatrix: {{n: 8}}\n");
        fake_run(&root.join(name), &config, summary);
    }
    let out = lab(tmp.path(), &["report", "runs"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let md = read(&root.join("report.md"));
    assert_eq!(table_cell(&md, "runs", "x"), "1 ± – (1 runs)", "{md}");
    assert!(table_cell(&md, "runs", "y").ends_with("(4 runs)"), "{md}");
    let err = stderr(&out);
    for (run, want) in [
        ("inf", "`x` is 1e999"),
        ("nan", "`x` is NaN, `z` is -Infinity"),
        ("text", "`x` is the text \"0.5\", `y` is the text \"oops\""),
        ("yaml", "`x` is inf"),
    ] {
        let note = format!("runs/{run}/summary.json: {want} (not a finite number)");
        assert!(md.contains(&format!("**Note:** {note}")), "{note}: {md}");
        assert!(err.contains(&format!("note: {note}")), "{note}: {err}");
    }
    // Text under a key no run reports as a number is no result, even where it parses as one
    // (a hex id): no note.
    assert!(!md.contains("`label`") && !md.contains("`id`"), "{md}");
    assert!(!md.contains("runs/good/summary.json"), "{md}");
    let out = lab(tmp.path(), &["compare", "runs/good", "runs/inf"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        stderr(&out).contains("note: runs/inf/summary.json: `x` is 1e999"),
        "{}",
        text(&out)
    );
}
