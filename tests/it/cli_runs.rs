//! The shared frame seen from outside, run directories: a `--set` lands in the resolved
//! config, meta.json records success and failure, an existing run dir is never overwritten
//! (`--force` moves it aside), the same seed gives the same metrics.csv, tiny numbers are
//! written in scientific form. CLI and config errors: `cli`.
use crate::common::*;
use std::fs;

#[test]
fn set_override_lands_in_resolved_config_and_csv_has_rows() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "decompose",
        "--quiet",
        "--name",
        "r1",
        "--set",
        "matrix.n=9",
        "--seed",
        "7",
    ];
    let out = lab(dir.path(), &args);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let run = dir.path().join("results/decompose/r1");
    let cfg: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&read(&run.join("config.yaml"))).unwrap();
    assert_eq!(cfg["matrix"]["n"].as_u64(), Some(9));
    assert_eq!(cfg["seed"].as_u64(), Some(7));
    let rows = csv_without(&run.join("metrics.csv"), &[]);
    assert_eq!(rows[0][0], "iter");
    assert!(
        rows.len() >= 3,
        "header plus at least two Newton iterations: {rows:?}"
    );
    let meta = json(&run.join("meta.json"));
    assert_eq!(meta["status"], "completed");
    assert_eq!(meta["seed"], 7);
    assert_eq!(meta["device"], "cpu");
    assert!(meta["end_time"].is_string() && meta["git_commit"].is_string());
    assert_eq!(json(&run.join("summary.json"))["n"], 9);
    assert!(
        stdout(&out).contains("results/decompose/r1"),
        "prints where results went"
    );
}

#[test]
fn an_existing_run_dir_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let first = lab(dir.path(), &["decompose", "--quiet", "--name", "same"]);
    assert_eq!(code(&first), 0);
    let meta = dir.path().join("results/decompose/same/meta.json");
    let before = read(&meta);
    let again = lab(
        dir.path(),
        &["decompose", "--quiet", "--name", "same", "--seed", "3"],
    );
    assert_eq!(code(&again), 2);
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    assert_eq!(before, read(&meta), "the first run is untouched");
    let forced = lab(
        dir.path(),
        &[
            "decompose",
            "--quiet",
            "--name",
            "same",
            "--seed",
            "3",
            "--force",
        ],
    );
    assert_eq!(code(&forced), 0);
    assert_eq!(json(&meta)["seed"], 3);
    // The replaced run was moved aside, not deleted.
    let aside: Vec<_> = fs::read_dir(meta.parent().unwrap().parent().unwrap())
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("same.replaced-")
        })
        .collect();
    assert_eq!(aside.len(), 1, "one moved-aside copy");
    assert_eq!(read(&aside[0].path().join("meta.json")), before);
    // --force never deletes a directory that is not a run.
    fs::create_dir(dir.path().join("precious")).unwrap();
    fs::write(dir.path().join("precious/data.txt"), "keep").unwrap();
    let out = lab(
        dir.path(),
        &["decompose", "--quiet", "--out", "precious", "--force"],
    );
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("refusing to --force over precious: it is not a lab run directory"),
        "{}",
        stderr(&out)
    );
    assert_eq!(read(&dir.path().join("precious/data.txt")), "keep");
}

#[test]
fn a_failed_run_records_status_and_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = lab(
        dir.path(),
        &[
            "decompose",
            "--quiet",
            "--out",
            "f",
            "--set",
            "solver.max_iter=1",
        ],
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let meta = json(&dir.path().join("f/meta.json"));
    assert_eq!(meta["status"], "failed");
    assert!(
        meta["error"].as_str().unwrap().contains("not converged"),
        "{meta}"
    );
    assert!(
        dir.path().join("f/B.npy").exists(),
        "the last iterate is kept"
    );
    assert_eq!(csv_without(&dir.path().join("f/metrics.csv"), &[]).len(), 2);
}

#[test]
fn same_config_and_seed_give_the_same_metrics() {
    let dir = tempfile::tempdir().unwrap();
    for (name, seed) in [("a", "5"), ("b", "5"), ("c", "6")] {
        let out = lab(
            dir.path(),
            &["decompose", "--quiet", "--out", name, "--seed", seed],
        );
        assert_eq!(code(&out), 0, "{}", text(&out));
    }
    let m = |d: &str| csv_without(&dir.path().join(d).join("metrics.csv"), &["wall_s"]);
    assert!(m("a").len() >= 3, "header and Newton rows: {:?}", m("a"));
    assert_eq!(m("a"), m("b"));
    assert_ne!(m("a"), m("c"), "another seed draws another problem");
}

#[test]
fn tiny_and_huge_metrics_are_written_in_scientific_form() {
    let dir = tempfile::tempdir().unwrap();
    let out = lab(
        dir.path(),
        &["decompose", "--quiet", "--out", "r", "--set", "matrix.n=30"],
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    let (_, rows) = read_csv(&dir.path().join("r/metrics.csv"));
    let tiny: Vec<&String> = rows
        .iter()
        .flatten()
        .filter(|c| c.parse::<f64>().is_ok_and(|v| v != 0.0 && v.abs() < 1e-4))
        .collect();
    assert!(!tiny.is_empty(), "a converged solve logs tiny decrements");
    for cell in tiny {
        assert!(
            cell.contains('e') && cell.len() <= 24,
            "scientific form: {cell}"
        );
    }
}

/// `--out` below an existing file (`notes.txt/sub`, a run or a study) is the user's mistake:
/// exit 2 naming the file in the way, not exit 1 with the system's bare "File exists".
#[test]
fn out_below_a_file_names_the_file_in_the_way() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("notes.txt"), "keep").unwrap();
    fs::write(
        dir.path().join("st.yaml"),
        study_yaml("st", "{matrix.n: [8]}", "[0]"),
    )
    .unwrap();
    for (first, out) in [
        (vec!["decompose"], "notes.txt/sub"),
        (vec!["decompose"], "notes.txt/a/b"),
        (vec!["decompose", "--config", "st.yaml"], "notes.txt/st"),
    ] {
        let args = [first, vec!["--quiet", "--out", out]].concat();
        let o = lab(dir.path(), &args);
        assert_eq!(code(&o), 2, "{out}: {}", text(&o));
        assert!(
            stderr(&o).contains(&format!(
                "--out {out}: notes.txt is a file, not a directory"
            )),
            "{out}: {}",
            text(&o)
        );
        assert_eq!(read(&dir.path().join("notes.txt")), "keep");
    }
}
