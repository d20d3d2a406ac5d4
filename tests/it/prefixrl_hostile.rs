//! Hostile input to `lab prefixrl`: sizes that used to abort the process (a failed allocation
//! or a capacity overflow panic) or get it killed for memory, task levels the task cannot
//! generate (a hang at 1000 numbers, an abort at 2^32, a late error naming no key), and a batch
//! larger than the training set (refused only after every earlier stage of `stage: all` ran)
//! are exit-2 usage errors naming the key before a run folder exists.
use crate::common::*;
use std::path::{Path, PathBuf};

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
