//! `task: probe` of a directory of runs (spec §7.5 item 1): a smoke study probed at once
//! gives one row per run that repeats the run's final evaluation, and its samples.
use crate::common::*;
use crate::entropy_probe_unread::lab_sections;
use crate::entropy_train::{lab_single, smoke_study};
use lab::entropy::probe_dir::KEYS;

#[test]
fn probe_of_a_study_directory_repeats_every_final_evaluation() {
    let dir = tempfile::tempdir().unwrap();
    let root = smoke_study(dir.path());
    let path = format!("checkpoint.path={}", root.display());
    // The smoke evaluation, and no `model`: a probe takes each run's own (bigram, gpt-nano).
    let sets = ["task=probe", path.as_str()];
    let o = lab_sections(dir.path(), &["eval"], &sets, Some("probed"));
    assert_eq!(code(&o), 0, "{}", text(&o));
    let probed = dir.path().join("probed");
    let (header, rows) = read_csv(&probed.join("metrics.csv"));
    assert_eq!(header[..4], KEYS, "text columns first");
    assert_eq!(rows.len(), 4, "one row per run of the study");
    let mut cells = 0;
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row.len(), header.len());
        let run = root.join(&row[0]);
        let (h1, trained) = read_csv(&run.join("metrics.csv"));
        assert_eq!(
            header[4..],
            h1[..],
            "{}: the run's columns after the keys",
            row[0]
        );
        let last = trained.last().unwrap();
        let summary = json(&run.join("summary.json"));
        assert_eq!(row[1], summary["arch"].as_str().unwrap());
        assert_eq!(row[2], summary["condition"].as_str().unwrap());
        assert_eq!(row[3], "0");
        for (j, name) in h1.iter().enumerate() {
            let (p, t) = (&row[j + 4], &last[j]);
            if name == "wall_s" || (p.is_empty() && t.is_empty()) {
                continue;
            }
            // Only training-time columns (window measures, controller) are missing from a probe.
            if p.is_empty() {
                continue;
            }
            let (a, b): (f64, f64) = (p.parse().unwrap(), t.parse().unwrap());
            let tol = 1e-7 * a.abs().max(b.abs()).max(1.0);
            assert!(
                (a - b).abs() <= tol,
                "{} `{name}`: probe {a} vs final {b}",
                row[0]
            );
            cells += 1;
        }
        assert_eq!(
            read(&run.join("samples/eval_60.jsonl")),
            read(&probed.join(format!("samples/{i}_eval_60.jsonl"))),
            "{}: the probe repeats the final evaluation's samples",
            row[0]
        );
    }
    assert!(cells >= 4 * 30, "only {cells} cells compared");
    let mut names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 4, "distinct checkpoints: {names:?}");
    let s = json(&probed.join("summary.json"));
    assert_eq!(s["checkpoints"].as_array().map(Vec::len), Some(4), "{s}");
}

#[test]
fn probe_of_a_directory_without_runs_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("empty/sub")).unwrap();
    let path = format!("checkpoint.path={}", dir.path().join("empty").display());
    let o = lab_single(dir.path(), &["task=probe", &path], Some("probed"));
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(stderr(&o).contains("holds any"), "{}", stderr(&o));
}
