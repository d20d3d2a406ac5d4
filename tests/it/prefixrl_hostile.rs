//! Hostile input to `lab prefixrl`: sizes that used to abort the process (a failed allocation
//! or a capacity overflow panic) or get it killed for memory, task levels the task cannot
//! generate (a hang at 1000 numbers, an abort at 2^32, a late error naming no key), a batch
//! larger than the training set (refused only after every earlier stage of `stage: all` ran)
//! are exit-2 usage errors naming the key before a run folder exists, as is an `rl.alpha` set
//! (in a study: in a cell) beside a method that does not read it; a huge `rl.ppo_epochs` or
//! `sft.epochs` no longer holds a run past SIGTERM.
use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn smoke() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/prefixrl/smoke.yaml")
}

fn args(out: &str, sets: &[&str]) -> Vec<String> {
    let cfg = smoke();
    let mut v: Vec<String> = ["prefixrl", "--quiet", "--config", cfg.to_str().unwrap()]
        .map(String::from)
        .to_vec();
    v.extend(["--out".to_string(), out.to_string()]);
    for s in sets {
        v.extend(["--set".to_string(), s.to_string()]);
    }
    v
}

/// `sets` on configs/prefixrl/smoke.yaml: exit 2, each of `needles` in stderr, no panic or
/// abort, no run folder.
fn refused(dir: &Path, sets: &[&str], needles: &[&str]) {
    let a = args("out", sets);
    let refs: Vec<&str> = a.iter().map(String::as_str).collect();
    let o = lab(dir, &refs);
    assert_refused(&o, &format!("{sets:?}"), needles, &dir.join("out"));
}

#[test]
fn prefixrl_huge_sizes_are_usage_errors_not_aborts() {
    let tmp = tempfile::tempdir().unwrap();
    let at_once = "completions sampled at once";
    let cases: [(&[&str], &[&str]); 14] = [
        (&["rl.n=100000000000"], &["rl.n", "must be at most 65536"]),
        (&["rl.n=18446744073709551615"], &["rl.n", at_once]),
        (&["eval.k_eval=100000000000"], &["eval.k_eval", at_once]),
        (&["eval.k_final=20000"], &["eval.k_final", "(the easy set)"]),
        (&["hard.k_probe=100000000000"], &["hard.k_probe", "65536"]),
        (&["calibrate.samples=100000000000"], &["calibrate.samples"]),
        (&["prefix.m_cal=1000000000000"], &["prefix.m_cal"]),
        (
            &["prefix.per_trace=1000000000000"],
            &["prefix.per_trace", "prefixed problems"],
        ),
        (
            &["data.pool_size=1000000000000"],
            &["data.pool_size", "at most 4194304 problems"],
        ),
        (
            &["data.n_pretrain=1000000000000000000"],
            &["data.n_pretrain"],
        ),
        (
            &["calibrate.problems=1000000000000"],
            &["calibrate.problems"],
        ),
        (
            &["pretrain.batch=100000000000"],
            &["pretrain.batch", "activation entries"],
        ),
        (
            &["sft.batch=100000000000"],
            &["sft.batch", "activation entries"],
        ),
        (
            &["rl.n=60000"],
            &["rl.micro_batches", "raise rl.micro_batches"],
        ),
    ];
    for (sets, needles) in cases {
        refused(tmp.path(), sets, needles);
    }
}

#[test]
fn prefixrl_levels_the_task_cannot_generate_are_refused_up_front() {
    let tmp = tempfile::tempdir().unwrap();
    let countdown = "countdown levels are 2 to 64 numbers";
    refused(
        tmp.path(),
        &["data.hard_level=4294967295"],
        &["data.hard_level", countdown],
    );
    refused(
        tmp.path(),
        &["data.hard_level=1000"],
        &["data.hard_level", countdown],
    );
    refused(
        tmp.path(),
        &["data.easy_levels=[0, 3]"],
        &["data.easy_levels", countdown, "got 0"],
    );
    refused(
        tmp.path(),
        &["data.hard_level=64"],
        &["data.hard_level", "one level above", "data.n_ood"],
    );
    refused(
        tmp.path(),
        &[
            "task.kind=path",
            "data.hard_level=12",
            "data.n_ood=0",
            "eval.n_ood=0",
        ],
        &["data.hard_level", "task.nodes - 1 = 11 hops"],
    );
}

#[test]
fn prefixrl_a_batch_larger_than_the_training_set_is_refused_before_any_stage() {
    // Used to run gen-data, pretrain, calibrate, collect and make-prefixes first.
    let tmp = tempfile::tempdir().unwrap();
    refused(
        tmp.path(),
        &["rl.batch_problems=13"],
        &["rl.batch_problems", "must be <= train.n_problems = 12"],
    );
}

#[test]
fn prefixrl_repeated_list_entries_are_refused_naming_the_key() {
    // Used to run: mode fixed made a second, identical prefix of every trace; the toy test
    // ran twice and wrote its rows twice.
    let tmp = tempfile::tempdir().unwrap();
    refused(
        tmp.path(),
        &["prefix.mode=fixed", "prefix.fractions=[0.5, 0.7, 0.5]"],
        &["prefix.fractions", "lists 0.5 twice"],
    );
    for tests in ["[T3, T3]", "[t3, T3]", "[all, T1]"] {
        let set = format!("toy.tests={tests}");
        refused(
            tmp.path(),
            &["stage=toy", &set],
            &["toy.tests", "names a test twice"],
        );
    }
}

#[test]
fn prefixrl_alpha_is_refused_only_in_study_cells_whose_method_does_not_read_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let study = |cells: &str| super::prefixrl_hostile4::study(dir, cells);
    // rl trains on unprefixed problems: its alpha 0.2 was silently a copy of the alpha-0 run.
    let (o, _) = study(
        "      A: {rl.method: rl, rl.alpha: 0.2}\n      B: {rl.method: prefixrl, rl.alpha: 0.3}\n",
    );
    let needles = [
        "run=A",
        "rl.alpha",
        "read only by rl.method prefixrl and hint",
    ];
    assert_refused(&o, "alpha beside rl", &needles, &dir.join("out"));
    assert!(!stderr(&o).contains("run=B"), "{}", stderr(&o));
    // The same grid without the unread alpha (or with alpha 0) loads: paper.yaml's pattern.
    let (_, dry) = study(
        "      A: {rl.method: rl}\n      C: {rl.method: luffy, rl.alpha: 0}\n      \
         B: {rl.method: prefixrl, rl.alpha: 0.3}\n",
    );
    assert_eq!(code(&dry), 0, "{}", stderr(&dry));
}

#[test]
fn prefixrl_a_prefix_outside_the_vocabulary_names_its_file_and_record() {
    // Used to say only "char tokenizer: 'z' ... is not in the vocabulary".
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("prefixes");
    std::fs::create_dir_all(&dir).unwrap();
    let fixture = super::prefixrl_train::pipeline();
    std::fs::copy(fixture.join("meta.json"), dir.join("meta.json")).unwrap();
    let text = read(&fixture.join("prefixes.jsonl"));
    let mut lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    lines[0]["prefix"] = "zzz".into();
    let (id, n) = (
        lines[0]["problem_id"].clone(),
        lines[0]["prefix_id"].clone(),
    );
    let edited: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.join("prefixes.jsonl"), edited).unwrap();
    let root = tmp.path().join("train");
    let sets = [
        format!("inputs.prefixes={}", dir.display()),
        "rl.charge_offline=none".to_string(),
    ];
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    let o = super::prefixrl_train::train_output(&root, &sets, None, None);
    let record = format!("prefixes.jsonl: prefix {n} of `{}`", id.as_str().unwrap());
    let needles = [record.as_str(), "not in the vocabulary"];
    assert_refused(
        &o,
        "a prefix outside the vocabulary",
        &needles,
        &root.join("run"),
    );
}

#[test]
fn prefixrl_eval_of_a_damaged_checkpoint_is_refused_before_its_run_folder() {
    // Used to make the run folder, then fail with exit 1.
    let tmp = tempfile::tempdir().unwrap();
    let ck = tmp.path().join("ck");
    std::fs::create_dir_all(&ck).unwrap();
    std::fs::write(ck.join("checkpoint.json"), "{\"step\": 3, \"trunc").unwrap();
    let sets = [
        "stage=eval".to_string(),
        format!("eval.checkpoint={}", ck.display()),
    ];
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    let needles = ["eval.checkpoint", "cannot be read", "checkpoint.json"];
    let root = tmp.path().join("eval");
    let o = super::prefixrl_train::train_output(&root, &sets, None, None);
    assert_refused(&o, "a damaged checkpoint", &needles, &root.join("run"));
}

/// `stage: all` on smoke.yaml with `sets`, sent SIGTERM once it is inside its first, endless
/// step: it must stop (exit 143, `interrupted`) without a metrics row for that step. "Inside"
/// is 2 CPU seconds used after metrics.csv appeared (the whole smoke run takes about one), so a
/// signal that came before the step began cannot pass the test.
fn sigterm_during_training(sets: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let a = args("run", sets);
    let mut child = KillOnDrop(
        Command::new(LAB)
            .args(&a)
            .current_dir(tmp.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let run = tmp.path().join("run");
    wait_until("training to start", Duration::from_secs(300), || {
        run.join("metrics.csv").exists()
    });
    let pid = child.0.id();
    let at_start = cpu_seconds(pid);
    wait_until(
        "2 CPU seconds in the first step",
        Duration::from_secs(300),
        || {
            let ended = child.0.try_wait().unwrap();
            assert!(
                ended.is_none(),
                "{sets:?}: the run ended before SIGTERM: {ended:?}"
            );
            cpu_seconds(pid) >= at_start + 2.0
        },
    );
    let status = child.terminate("the run to stop after SIGTERM");
    assert_eq!(status.code(), Some(143), "{sets:?}");
    let meta = json(&run.join("meta.json"));
    assert_eq!(meta["status"], "interrupted", "{meta}");
    let (_, rows) = read_csv(&run.join("metrics.csv"));
    assert!(rows.is_empty(), "{sets:?}: no row for the dropped step");
}

#[test]
fn prefixrl_sigterm_stops_a_step_of_many_ppo_epochs() {
    sigterm_during_training(&["rl.ppo_epochs=100000000"]);
}

#[test]
fn prefixrl_sigterm_stops_many_sft_epochs() {
    sigterm_during_training(&["rl.method=sft-rl", "sft.epochs=100000000"]);
}
