//! A probe of a train run whose files changed after training. An edited config.yaml that keeps
//! every parameter's shape: the weights fit, so only the run's `trained_with.json`, written beside
//! them, can tell. Each edit is exit 2 naming the key with both values, for a run and for a directory
//! of runs; an unedited run and a run without the record (made before it) probe. Weights of another
//! architecture are refused naming the file; a config.yaml from before newer keys still probes.
use crate::common::*;
use crate::entropy_train::{lab_single, run_single};
use serde_yaml_ng::Value;
use std::path::Path;

/// `config.yaml` of `run` with `key` (dotted) set to `value` (YAML).
fn edit_config(run: &Path, original: &str, key: &str, value: &str) {
    let mut v: Value = serde_yaml_ng::from_str(original).unwrap();
    let mut slot = &mut v;
    for part in key.split('.') {
        slot = slot
            .get_mut(part)
            .unwrap_or_else(|| panic!("config.yaml has no `{key}`"));
    }
    *slot = serde_yaml_ng::from_str(value).unwrap();
    let text = serde_yaml_ng::to_string(&v).unwrap();
    std::fs::write(run.join("config.yaml"), text).unwrap();
}

fn probe(dir: &Path, path: &Path, out: &str) -> std::process::Output {
    let set = format!("checkpoint.path={}", path.display());
    lab_single(dir, &["task=probe", &set], Some(out))
}

#[test]
fn entropy_probe_refuses_a_config_edited_since_training_naming_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let runs = dir.join("runs");
    std::fs::create_dir(&runs).unwrap();
    let run = run_single(dir, &[], "runs/gpt");
    let original = read(&run.join("config.yaml"));
    let record = run.join("trained_with.json");
    assert!(read(&record).contains("\"n_head\": 2"), "{}", read(&record));
    // (key, value after the edit, the value it was trained with, as the message writes them)
    let edits = [
        ("model.n_head", "4", "2"),
        ("model.dropout", "0.25", "0.0"),
        ("seed", "7", "0"),
        ("data.corpus.alpha", "0.5", "0.1"),
    ];
    for (key, now, then) in edits {
        edit_config(&run, &original, key, now);
        let want = format!("`{key}` is {now} there, the run was trained with {then}");
        for (target, out) in [(&run, "one"), (&runs, "all")] {
            let o = probe(dir, target, out);
            let needles = [
                want.as_str(),
                "config.yaml no longer describes",
                "trained_with.json",
            ];
            assert_refused(&o, &format!("{key} {out}"), &needles, &dir.join(out));
        }
    }
    // Unedited, the run probes; so does a run made before the record, edited or not.
    std::fs::write(run.join("config.yaml"), &original).unwrap();
    let o = probe(dir, &run, "unedited");
    assert_eq!(code(&o), 0, "{}", text(&o));
    let kept = read(&record);
    std::fs::remove_file(&record).unwrap();
    edit_config(&run, &original, "model.dropout", "0.25");
    let o = probe(dir, &run, "older");
    assert_eq!(code(&o), 0, "{}", text(&o));
    // A damaged record is named.
    std::fs::write(&record, kept.replace('{', "[")).unwrap();
    let o = probe(dir, &run, "damaged");
    let needles = ["trained_with.json: not a map of settings"];
    assert_refused(&o, "damaged", &needles, &dir.join("damaged"));
}

#[test]
fn entropy_probe_of_a_run_without_weights_says_how_to_keep_them() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let run = run_single(
        dir,
        &["model.preset=bigram", "eval.save_checkpoint=false"],
        "run",
    );
    let set = format!("checkpoint.path={}", run.display());
    let sets = ["task=probe", &set, "model.preset=bigram"];
    let o = lab_single(dir, &sets, Some("out"));
    let needles = [
        "model.safetensors does not exist",
        "eval.save_checkpoint: true",
    ];
    assert_refused(&o, "no weights", &needles, &dir.join("out"));
}

/// A probe of a directory of runs that meets a damaged run after scoring another keeps that
/// row: the run folder stays, `failed` with the error, still exit 2 (before, the usage error
/// deleted the folder with the rows already written).
#[test]
fn a_usage_error_after_a_scored_run_keeps_its_row_in_a_failed_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir(dir.join("runs")).unwrap();
    run_single(dir, &[], "runs/a");
    let b = run_single(dir, &[], "runs/b");
    let mut summary = json(&b.join("summary.json"));
    summary["step"] = (-1).into();
    std::fs::write(b.join("summary.json"), summary.to_string()).unwrap();
    let o = probe(dir, &dir.join("runs"), "all");
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(
        stderr(&o).contains("`step` must be a whole number"),
        "{}",
        text(&o)
    );
    let out = dir.join("all");
    let meta = json(&out.join("meta.json"));
    assert_eq!(meta["status"], "failed", "{meta}");
    assert!(
        meta["error"].as_str().unwrap().contains("summary.json"),
        "{meta}"
    );
    let (header, rows) = read_csv(&out.join("metrics.csv"));
    assert_eq!(rows.len(), 1, "run a's row: {rows:?}");
    assert_eq!(rows[0][col(&header, "checkpoint")], "a");
}

/// A checkpoint whose weights do not fit the run's model (another architecture) is refused,
/// naming the file, with nothing written.
#[test]
fn probe_refuses_weights_of_another_architecture() {
    let dir = tempfile::tempdir().unwrap();
    let gpt = run_single(dir.path(), &[], "gpt");
    let bigram = run_single(dir.path(), &["model.preset=bigram"], "bigram");
    std::fs::copy(
        gpt.join("model.safetensors"),
        bigram.join("model.safetensors"),
    )
    .unwrap();
    let path = format!("checkpoint.path={}", bigram.display());
    let o = lab_single(
        dir.path(),
        &["task=probe", &path, "model.preset=bigram"],
        Some("probed"),
    );
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(stderr(&o).contains("model.safetensors"), "{}", stderr(&o));
    assert!(!dir.path().join("probed").exists());
}

/// A run saved by an older lab (its config.yaml lacks keys added since) can still be probed:
/// the missing keys take today's defaults.
#[test]
fn probe_reads_a_run_config_from_before_newer_keys() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_single(dir.path(), &["model.preset=gru"], "old");
    let config = run.join("config.yaml");
    let kept: Vec<String> = read(&config)
        .lines()
        .filter(|l| !l.contains("word_metrics") && !l.contains("temperatures"))
        .map(String::from)
        .collect();
    assert!(kept.len() > 20);
    std::fs::write(&config, kept.join("\n")).unwrap();
    let path = format!("checkpoint.path={}", run.display());
    let o = lab_single(
        dir.path(),
        &["task=probe", &path, "model.preset=gru"],
        Some("probed"),
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    let s = json(&dir.path().join("probed/summary.json"));
    assert_eq!(s["arch"], "gru");
}
