//! Hostile input to `lab prefixrl`, third round: keys a stage would have ignored or turned
//! into something other than asked. `stage: all` with `ckpt_every: 0` used to evaluate the
//! base model as the run's "final" numbers (final_eval.csv method `base`, step 0); a train run
//! with `eval.checkpoint` or `eval.k_final` ignored them without a word. Each is now an exit-2
//! usage error naming the key, before a run folder exists.
use crate::common::*;
use std::path::{Path, PathBuf};

fn smoke() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/prefixrl/smoke.yaml")
}

/// `lab prefixrl --config smoke.yaml --out <dir>/out --set …` in `dir`.
fn smoke_run(dir: &Path, sets: &[String]) -> std::process::Output {
    let cfg = smoke();
    let mut a: Vec<String> = ["prefixrl", "--quiet", "--config", cfg.to_str().unwrap()]
        .map(String::from)
        .to_vec();
    a.extend(["--out".to_string(), "out".to_string()]);
    for s in sets {
        a.extend(["--set".to_string(), s.clone()]);
    }
    let refs: Vec<&str> = a.iter().map(String::as_str).collect();
    lab(dir, &refs)
}

fn refused(dir: &Path, sets: &[String], needles: &[&str]) {
    let o = smoke_run(dir, sets);
    assert_refused(&o, &format!("{sets:?}"), needles, &dir.join("out"));
}

#[test]
fn prefixrl_stage_all_without_checkpoints_is_refused_not_evaluated_on_the_base_model() {
    let tmp = tempfile::tempdir().unwrap();
    let sets = ["ckpt_every=0".to_string()];
    refused(
        tmp.path(),
        &sets,
        &["ckpt_every", "stage all", "last checkpoint"],
    );
}

#[test]
fn prefixrl_eval_keys_outside_stage_eval_are_refused_not_ignored() {
    let tmp = tempfile::tempdir().unwrap();
    // Inputs that need not exist: the config is refused before they are read.
    let train: Vec<String> = ["stage=train", "inputs.data=d", "inputs.base=b"]
        .into_iter()
        .chain(["inputs.traces=t", "inputs.prefixes=p"])
        .map(String::from)
        .collect();
    let with = |extra: &str| {
        let mut v = train.clone();
        v.push(extra.to_string());
        v
    };
    let ck = with("eval.checkpoint=some/run");
    refused(
        tmp.path(),
        &ck,
        &["eval.checkpoint", "stage eval", "--resume"],
    );
    refused(
        tmp.path(),
        &with("eval.k_final=16"),
        &["eval.k_final", "stage eval"],
    );
    let gen = ["stage=gen-data".to_string(), "eval.k_final=16".to_string()];
    refused(tmp.path(), &gen, &["eval.k_final", "gen-data"]);
}

/// Two runs of one method label and seed used to be averaged in compare.csv as two seeds of one
/// setting. A run another one continues (`inputs.resume`) is now left out with a note; a run
/// that differs only in keys the label leaves out (here `rl.lr`) is refused by compare (and so
/// `lab report`) naming both folders and the differing keys.
#[test]
fn prefixrl_compare_refuses_two_runs_of_one_label_and_seed() {
    use lab::prefixrl::compare::compare;
    use lab::prefixrl::config::ChargeOffline;
    let tmp = tempfile::tempdir().unwrap();
    let mut dirs = super::prefixrl_compare::runs(tmp.path());
    // A continuation (`inputs.resume`, as `--resume RUN_DIR` sets it) carries the run's rows:
    // the run it continues is left out with a note, not averaged with it.
    let twin = tmp.path().join("c-continued");
    std::fs::create_dir_all(&twin).unwrap();
    for f in ["eval.csv", "metrics.csv"] {
        std::fs::copy(dirs[2].join(f), twin.join(f)).unwrap();
    }
    let config = read(&dirs[2].join("config.yaml"));
    std::fs::write(
        twin.join("config.yaml"),
        config.clone() + "inputs:\n  resume: c\n",
    )
    .unwrap();
    dirs.push(twin.clone());
    let c = compare(&dirs, "sft-rl", None, ChargeOffline::Users).unwrap();
    let seeds0: Vec<&str> = (c.runs.iter())
        .filter(|r| r.method == "prefixrl" && r.seed == "0")
        .map(|r| r.dir.file_name().unwrap().to_str().unwrap())
        .collect();
    assert_eq!(seeds0, ["c-continued"]);
    assert_eq!(c.notes.len(), 1, "{:?}", c.notes);
    assert!(
        c.notes[0].contains("c-continued continues it"),
        "{:?}",
        c.notes
    );
    // A copy, or a run that differs in a key the label leaves out, is refused naming both.
    let other_lr = config.replacen("rl:\n", "rl:\n  lr: 0.5\n", 1);
    assert_ne!(other_lr, config);
    std::fs::write(twin.join("config.yaml"), other_lr).unwrap();
    let e = compare(&dirs, "sft-rl", None, ChargeOffline::Users).unwrap_err();
    let err = format!("{e:#}");
    for needle in ["c-continued", "`prefixrl` runs with seed 0", "rl.lr"] {
        assert!(err.contains(needle), "no `{needle}` in {err}");
    }
    assert_eq!(lab::error::exit_code(&e), 2, "a usage error: {err}");
    // A second seed of the same setting is still averaged.
    dirs.pop();
    assert!(compare(&dirs, "sft-rl", None, ChargeOffline::Users).is_ok());
}
