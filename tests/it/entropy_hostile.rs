//! Hostile input to `lab entropy-probe`: values that used to abort the process (allocation
//! failure), write a malformed metrics.csv, be silently ignored, or give a row scored from a
//! damaged summary.json are exit-2 usage errors naming the key or file, with no folder left;
//! a study's set-aside attempt does not break a probe of the study; theory.csv matches the
//! closed form of a deterministic corpus.
use crate::common::*;
use crate::entropy_train::{lab_single, run_single};
use std::path::Path;

/// `sets` on the one-run smoke config: exit 2, each of `needles` in stderr, no panic or abort,
/// no `out` folder.
fn refused(dir: &Path, sets: &[&str], needles: &[&str]) {
    let o = lab_single(dir, sets, Some("out"));
    assert_refused(&o, &format!("{sets:?}"), needles, &dir.join("out"));
}

#[test]
fn entropy_duplicate_temperatures_are_refused_instead_of_repeating_columns() {
    let tmp = tempfile::tempdir().unwrap();
    refused(
        tmp.path(),
        &["eval.temperatures=[0.7, 1.5, 0.7]"],
        &["eval.temperatures", "lists 0.7 twice"],
    );
    // Distinct temperatures give one pair of columns each.
    let run = run_single(tmp.path(), &["eval.temperatures=[0.7, 1.5]"], "ok");
    let (header, _) = read_csv(&run.join("metrics.csv"));
    let mut sorted = header.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), header.len(), "repeated column in {header:?}");
    assert!(
        header.contains(&"fr_entropy_T1.5".to_string()),
        "{header:?}"
    );
}

#[test]
fn entropy_scoring_token_counts_below_one_window_name_their_key() {
    let tmp = tempfile::tempdir().unwrap();
    // The smoke model is gpt-nano: teacher-forced windows of its block size.
    for key in ["eval.val_tokens", "eval.train_probe_tokens"] {
        let set = format!("{key}=2");
        refused(
            tmp.path(),
            &[&set],
            &[key, "is 2, fewer than one teacher-forced scoring window"],
        );
    }
    // An RNN scores windows of train.seq_len (32 in the smoke config).
    refused(
        tmp.path(),
        &["model.preset=bigram", "eval.val_tokens=31"],
        &["eval.val_tokens", "train.seq_len = 32"],
    );
    run_single(
        tmp.path(),
        &["model.preset=bigram", "eval.val_tokens=32"],
        "fits",
    );
}

#[test]
fn entropy_huge_counts_are_usage_errors_not_aborts() {
    let tmp = tempfile::tempdir().unwrap();
    let at_once = "tokens is more than the 268435456 lab allows at once";
    let cases: [(&str, &str, &str); 7] = [
        (
            "eval.final_samples=1000000000000",
            "eval.final_samples",
            at_once,
        ),
        ("eval.samples=1000000000000", "eval.samples", at_once),
        ("train.batch=100000000", "train.batch", at_once),
        ("overrides.batch=100000000", "overrides.batch", at_once),
        (
            "controller.probe.prompts=100000000000000000",
            "controller.probe.prompts",
            at_once,
        ),
        (
            "data.corpus.train_len=100000000000000",
            "data.corpus.train_len",
            "at most",
        ),
        (
            "data.corpus.val_len=18446744073709551615",
            "train_len + val_len",
            "at most",
        ),
    ];
    for (set, key, why) in cases {
        refused(tmp.path(), &[set], &[key, why]);
    }
    refused(
        tmp.path(),
        &["data.corpus={kind: grammar, len: 100000000000000}"],
        &["data.corpus.len", "must be at most 1073741824 characters"],
    );
}

#[test]
fn entropy_a_markov_alpha_too_small_is_a_usage_error_naming_alpha() {
    let tmp = tempfile::tempdir().unwrap();
    // Rows that are not distributions in floating point.
    refused(
        tmp.path(),
        &["data.corpus.alpha=1e-300"],
        &["data.corpus (markov)", "`alpha` = 1e-300 is too small"],
    );
    // A nearly deterministic chain whose stationary distribution does not converge.
    refused(
        tmp.path(),
        &[
            "data.corpus={kind: markov, vocab: 8, order: 2, alpha: 0.002, train_len: 20000, \
             val_len: 2000, seed: 3}",
        ],
        &[
            "data.corpus (markov)",
            "raise `alpha`",
            "entropy rate is unknown",
        ],
    );
}

#[test]
fn entropy_keys_of_another_task_are_refused_not_ignored() {
    let tmp = tempfile::tempdir().unwrap();
    refused(
        tmp.path(),
        &["checkpoint.path=somewhere"],
        &[
            "checkpoint.path",
            "only read by task probe, but task is train",
        ],
    );
    refused(
        tmp.path(),
        &["text.samples=samples.txt"],
        &["text.samples", "only read by task text, but task is train"],
    );
    refused(
        tmp.path(),
        &["task=theory", "checkpoint.fixed_batch=4"],
        &["checkpoint.fixed_batch", "task is theory"],
    );
    // Keys with a real default: refused once changed from it.
    refused(
        tmp.path(),
        &["theory.delta=0.2"],
        &[
            "theory.delta",
            "only read by task theory, but task is train",
        ],
    );
    refused(
        tmp.path(),
        &["task=text", "text.samples=s.txt", "theory.orders=[1, 2]"],
        &[
            "theory.orders",
            "only read by task theory, but task is text",
        ],
    );
    refused(
        tmp.path(),
        &["checkpoint.context=64"],
        &[
            "checkpoint.context",
            "only read by task probe, but task is train",
        ],
    );
    // The TorchScript keys on a probe of a lab run.
    let run = run_single(tmp.path(), &["model.preset=bigram"], "run");
    let path = format!("checkpoint.path={}", run.display());
    for key in ["checkpoint.fixed_width=true", "checkpoint.context=64"] {
        let name = key.split('=').next().unwrap();
        refused(
            tmp.path(),
            &["task=probe", &path, key],
            &[name, "only read for a TorchScript module"],
        );
    }
}

/// A config copied whole from `--print-config` (every key at its default, the unread sections
/// included) is accepted under any task; only a changed unread key is refused.
#[test]
fn entropy_a_copied_default_config_is_not_refused_for_its_unread_sections() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let out = lab(dir, &["entropy-probe", "--print-config"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    std::fs::write(dir.join("full.yaml"), &out.stdout).unwrap();
    let check = |sets: &[&str]| {
        let mut args = vec!["entropy-probe", "--config", "full.yaml", "--print-config"];
        for s in sets {
            args.extend(["--set", s]);
        }
        lab(dir, &args)
    };
    for task in ["train", "theory"] {
        let o = check(&[&format!("task={task}"), "theory.delta=0.05"]);
        assert_eq!(code(&o), 0, "{task}: {}", text(&o));
    }
    let o = check(&["task=train", "theory.toys=false"]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(stderr(&o).contains("`theory.toys`"), "{}", text(&o));
}

#[test]
fn entropy_probe_of_a_damaged_summary_names_the_file_and_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let run = run_single(dir, &["model.preset=bigram"], "run");
    let summary = run.join("summary.json");
    let good = read(&summary);
    let path = format!("checkpoint.path={}", run.display());
    let damage = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut v: serde_json::Value = serde_json::from_str(&good).unwrap();
        edit(&mut v);
        std::fs::write(&summary, v.to_string()).unwrap();
    };
    damage(&|v| {
        v.as_object_mut().unwrap().remove("step");
    });
    refused(
        dir,
        &["task=probe", &path, "model.preset=bigram"],
        &["summary.json: `step` must be a whole number"],
    );
    damage(&|v| v["final_eval_index"] = serde_json::json!("two"));
    refused(
        dir,
        &["task=probe", &path, "model.preset=bigram"],
        &["`final_eval_index` must be", "\"two\""],
    );
    damage(&|v| v["best_val_loss"] = serde_json::json!("low"));
    refused(
        dir,
        &["task=probe", &path, "model.preset=bigram"],
        &["`best_val_loss` must be a finite number"],
    );
    std::fs::write(&summary, "{}").unwrap();
    refused(
        dir,
        &["task=probe", &path, "model.preset=bigram"],
        &["`step` must be", "got nothing"],
    );
    // The file as written probes.
    std::fs::write(&summary, &good).unwrap();
    let o = lab_single(
        dir,
        &["task=probe", &path, "model.preset=bigram"],
        Some("probed"),
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
}

#[test]
fn entropy_probe_of_a_study_skips_attempts_set_aside_for_their_replacement() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let study = dir.join("study");
    let run = run_single(dir, &["model.preset=bigram"], "study/cell/seed-0");
    // What a study's --resume leaves of an interrupted attempt: no weights, no summary.
    let aside = study.join("cell/seed-0.replaced-20260101-000000");
    std::fs::create_dir_all(&aside).unwrap();
    for f in ["config.yaml", "meta.json", "metrics.csv"] {
        std::fs::copy(run.join(f), aside.join(f)).unwrap();
    }
    let path = format!("checkpoint.path={}", study.display());
    let o = lab_single(
        dir,
        &["task=probe", &path, "model.preset=bigram"],
        Some("probed"),
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(
        stderr(&o).contains("seed-0.replaced-20260101-000000"),
        "{}",
        text(&o)
    );
    let (_, rows) = read_csv(&dir.join("probed/metrics.csv"));
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0][0], "cell/seed-0");
    // A lone attempt with nothing beside it is still a run, and still an error.
    std::fs::remove_dir_all(study.join("cell/seed-0")).unwrap();
    let o = lab_single(
        dir,
        &["task=probe", &path, "model.preset=bigram"],
        Some("probed2"),
    );
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(
        stderr(&o).contains("model.safetensors does not exist"),
        "{}",
        text(&o)
    );
}

#[test]
fn entropy_theory_of_a_deterministic_corpus_matches_the_closed_form() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // "abab...": H_0 = ln 2, and every context of order >= 1 has one continuation: H_k = 0.
    std::fs::write(dir.join("abab.txt"), "ab".repeat(5000)).unwrap();
    let o = lab(
        dir,
        &[
            "entropy-probe",
            "--quiet",
            "--out",
            "th",
            "--set",
            "task=theory",
            "--set",
            "data.corpus={kind: file, path: abab.txt}",
            "--set",
            "theory.orders=[0, 1, 2]",
            "--set",
            "theory.toys=false",
        ],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    let (header, rows) = read_csv(&dir.join("th/theory.csv"));
    let h = col(&header, "h_k_train");
    let h0: f64 = rows[0][h].parse().unwrap();
    assert!((h0 - 2f64.ln()).abs() < 1e-12, "{h0}");
    for r in &rows[1..] {
        assert_eq!(r[h], "0", "an exact zero, not -0: {r:?}");
    }
}

#[test]
fn entropy_text_task_refuses_samples_that_are_all_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let reference: String = "abcdefg ".chars().cycle().take(2000).collect();
    std::fs::write(dir.join("ref.txt"), reference).unwrap();
    std::fs::write(dir.join("s.jsonl"), "{\"text\": \"\"}\n{\"text\": \"\"}\n").unwrap();
    let sets = [
        "task=text",
        "text.samples=s.jsonl",
        "data.corpus={kind: file, path: ref.txt}",
    ];
    refused(dir, &sets, &["s.jsonl: every sample's \"text\" is empty"]);
    std::fs::write(
        dir.join("s.jsonl"),
        "{\"text\": \"\"}\n{\"text\": \"abc\"}\n",
    )
    .unwrap();
    let o = lab_single(dir, &sets, Some("ok"));
    assert_eq!(code(&o), 0, "{}", text(&o));
}

/// A model far beyond this core's sizes (d_model 1e8 would need petabytes) is a usage error
/// naming its keys, not an allocation abort or an OOM kill with a folder left; in prefixrl too.
#[test]
fn entropy_and_prefixrl_refuse_a_model_too_large_for_the_core() {
    let dir = tempfile::tempdir().unwrap();
    refused(
        dir.path(),
        &["model.d_model=100000000"],
        &["parameters", "d_model 100000000", "make the model smaller"],
    );
    refused(
        dir.path(),
        &["model.preset=lstm", "model.hidden=1000000"],
        &["parameters", "hidden 1000000", "make the model smaller"],
    );
    let smoke = concat!(env!("CARGO_MANIFEST_DIR"), "/configs/prefixrl/smoke.yaml");
    let o = lab(
        dir.path(),
        &[
            "prefixrl",
            "--config",
            smoke,
            "--set",
            "model.n_layer=10000000",
            "--out",
            "p",
        ],
    );
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(
        stderr(&o).contains("make the model smaller"),
        "{}",
        text(&o)
    );
    assert!(!dir.path().join("p").exists());
}
