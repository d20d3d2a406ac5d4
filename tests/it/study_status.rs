//! `lab status DIR` of a study run by the local executor: each run's state from its meta.json,
//! and counts that add up to the number of runs.
use crate::common::*;

/// A run whose meta.json is damaged is `unreadable` with the reason, and counted; a run of
/// this local study never started is `not-started` (it was `not-submitted`, a Slurm word for a
/// study no scheduler was ever asked about), and counted too.
#[test]
fn status_shows_an_unreadable_meta_json_and_counts_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let yaml = study_yaml("st", "{matrix.n: [8]}", "[0, 1, 2]");
    std::fs::write(dir.join("st.yaml"), yaml).unwrap();
    let out = lab(
        dir,
        &["decompose", "--quiet", "--config", "st.yaml", "--out", "st"],
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    let cell = dir.join("st/matrix.n=8");
    std::fs::write(cell.join("seed-1/meta.json"), r#"{"status": "compl"#).unwrap();
    std::fs::remove_dir_all(cell.join("seed-2")).unwrap();
    let out = lab(dir, &["status", "st"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let shown = stdout(&out);
    let row = |seed: &str| {
        shown
            .lines()
            .find(|l| l.contains(&format!("seed-{seed}")))
            .unwrap_or_else(|| panic!("a row for seed {seed}: {shown}"))
            .to_string()
    };
    assert!(row("0").contains("completed"), "{shown}");
    let bad = row("1");
    assert!(
        bad.contains("unreadable") && bad.contains("meta.json is not valid JSON"),
        "{shown}"
    );
    assert!(row("2").contains("not-started"), "{shown}");
    assert!(!shown.contains("submitted"), "{shown}");
    assert!(
        shown.contains(
            "1 completed, 0 running, 0 pending, 0 failed, 0 interrupted, 1 unreadable, \
             1 not started (of 3 runs)"
        ),
        "{shown}"
    );
}

/// A file given as the study was reported as "no such directory", which sends the user looking
/// for a typo in a path that exists.
#[test]
fn status_of_a_file_says_it_is_not_a_directory() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("results"), "a file").unwrap();
    let o = lab(tmp.path(), &["status", "results"]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(
        stderr(&o).contains("results: not a directory"),
        "{}",
        text(&o)
    );
    let o = lab(tmp.path(), &["status", "missing"]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(
        stderr(&o).contains("missing: no such directory"),
        "{}",
        text(&o)
    );
}
