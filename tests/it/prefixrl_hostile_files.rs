//! Hostile input files of the train stage (edited copies of the shared pipeline fixture of
//! prefixrl_train): a record the base model cannot take is refused before the first step, exit 2
//! naming the file and record, no run folder. It used to fail the step that first drew it: a
//! prefix too long for the block with a message naming no file (and, drawn late, a usage
//! error that discarded the run's rows written so far); a trace too long for the block, or
//! with behaviour log-probs of the wrong length, under an off-policy method with exit 1 in
//! the middle of training. A held-out prompt too long for the block is likewise named before
//! the first step (it used to fail the first evaluation naming no file).
use crate::common::*;
use std::path::{Path, PathBuf};

/// A copy of the fixture's `file` (and its meta.json, summary.json) in `<root>/<name>/`, with
/// `edit` applied to its JSON lines.
fn edited(root: &Path, name: &str, file: &str, edit: impl Fn(&mut [serde_json::Value])) -> PathBuf {
    let fixture = super::prefixrl_train::pipeline();
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["meta.json", "summary.json"] {
        std::fs::copy(fixture.join(f), dir.join(f)).unwrap();
    }
    let mut lines: Vec<serde_json::Value> = read(&fixture.join(file))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    edit(&mut lines);
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.join(file), text).unwrap();
    dir
}

/// The train stage of prefixrl_train's config with `sets`: refused as [`assert_refused`] says.
fn refused(root: &Path, sets: &[String], needles: &[&str]) {
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    let o = super::prefixrl_train::train_output(root, &sets, None, None);
    assert_refused(&o, &format!("{sets:?}"), needles, &root.join("run"));
}

#[test]
fn prefixrl_a_prefix_too_long_for_the_block_is_named_before_the_first_step() {
    let tmp = tempfile::tempdir().unwrap();
    // The last prefix of the training set (the fixture's first 6 problems, 2 cuts each).
    let dir = edited(tmp.path(), "prefixes", "prefixes.jsonl", |l| {
        let p = &mut l[11];
        p["prefix"] = p["prefix"].as_str().unwrap().repeat(20).into();
    });
    let last: serde_json::Value =
        serde_json::from_str(read(&dir.join("prefixes.jsonl")).lines().nth(11).unwrap()).unwrap();
    let record = format!(
        "prefixes.jsonl: prefix {} of `{}`",
        last["prefix_id"],
        last["problem_id"].as_str().unwrap()
    );
    let sets = [
        format!("inputs.prefixes={}", dir.display()),
        "rl.charge_offline=none".to_string(),
        "rl.alpha=1".to_string(),
    ];
    let needles = [
        record.as_str(),
        "leave no room to generate",
        "block_size is 96",
    ];
    refused(&tmp.path().join("train"), &sets, &needles);
}

#[test]
fn prefixrl_an_off_policy_trace_the_model_cannot_take_is_named_before_the_first_step() {
    let tmp = tempfile::tempdir().unwrap();
    let fixture = super::prefixrl_train::pipeline();
    let traces = read(&fixture.join("traces.jsonl"));
    let all: Vec<serde_json::Value> = traces
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // The fixture's training set is its first 6 traces; the 5th is past the panel.
    let id = all[4]["problem_id"].as_str().unwrap().to_string();
    let record = format!("traces.jsonl: the trace of `{id}`");
    let off_policy = |dir: &Path, method: &str| {
        vec![
            format!("inputs.traces={}", dir.display()),
            format!("rl.method={method}"),
            "rl.alpha=0".to_string(),
        ]
    };
    // Behaviour log-probs of another length: exit 1 at the step that drew the trace.
    let short = edited(tmp.path(), "short", "traces.jsonl", |l| {
        l[4]["behaviour_logprobs"] = serde_json::json!([-0.5, -0.5]);
    });
    let needles = [record.as_str(), "has 2 behaviour_logprobs for"];
    for method in ["offpolicy-is", "luffy"] {
        let root = tmp.path().join(format!("short-{method}"));
        refused(&root, &off_policy(&short, method), &needles);
    }
    // Longer than the block: `position ids must be in [0, 96)`, exit 1, naming no file.
    let long = edited(tmp.path(), "long", "traces.jsonl", |l| {
        l[4]["trace"] = l[4]["trace"].as_str().unwrap().repeat(10).into();
    });
    let needles = [record.as_str(), "trains on the trace", "block_size is 96"];
    for method in ["offpolicy-is", "sft-rl"] {
        let root = tmp.path().join(format!("long-{method}"));
        refused(&root, &off_policy(&long, method), &needles);
    }
    // The methods that never train on it still run on the same files.
    let root = tmp.path().join("rl");
    let sets = off_policy(&long, "rl");
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    let o = super::prefixrl_train::train_output(&root, &sets, None, None);
    assert_eq!(code(&o), 0, "{}", text(&o));
}

#[test]
fn prefixrl_an_evaluation_prompt_too_long_for_the_block_is_named_before_the_first_step() {
    let tmp = tempfile::tempdir().unwrap();
    // Before, the first evaluation found it: "a context of 441 tokens leaves no room to
    // generate", naming no file.
    let data = edited(tmp.path(), "data", "heldout.jsonl", |l| {
        let p = &mut l[0];
        p["prompt"] = p["prompt"].as_str().unwrap().repeat(40).into();
    });
    let fixture = super::prefixrl_train::pipeline();
    for entry in std::fs::read_dir(fixture).unwrap() {
        let path = entry.unwrap().path();
        let dest = data.join(path.file_name().unwrap());
        if path.is_file() && !dest.exists() {
            std::fs::copy(&path, &dest).unwrap();
        }
    }
    let first: serde_json::Value =
        serde_json::from_str(read(&data.join("heldout.jsonl")).lines().next().unwrap()).unwrap();
    let record = format!(
        "heldout.jsonl: the prompt of `{}`",
        first["id"].as_str().unwrap()
    );
    let sets = [format!("inputs.data={}", data.display())];
    let needles = [record.as_str(), "no room to generate", "block_size = 96"];
    refused(&tmp.path().join("train"), &sets, &needles);
}

/// A held-out file with fewer problems than `eval.n_heldout`, or a training set with fewer
/// than `eval.panel`, is refused before the first step naming the key, the file and both
/// counts (before, the smaller set was evaluated in their place without a word).
#[test]
fn prefixrl_evaluation_sets_smaller_than_the_config_asks_are_refused_before_the_first_step() {
    let tmp = tempfile::tempdir().unwrap();
    let panel = ["eval.panel=7".to_string()];
    let needles = ["eval.panel: 7 problems asked for", "has 6"];
    refused(&tmp.path().join("panel"), &panel, &needles);

    let fixture = super::prefixrl_train::pipeline();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    for entry in std::fs::read_dir(fixture).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, data.join(path.file_name().unwrap())).unwrap();
        }
    }
    let heldout = read(&data.join("heldout.jsonl"));
    let lines: Vec<&str> = heldout.lines().collect();
    assert!(
        lines.len() >= 3,
        "the fixture has the 3 held-out problems its config asks for"
    );
    std::fs::write(
        data.join("heldout.jsonl"),
        format!("{}\n{}\n", lines[0], lines[1]),
    )
    .unwrap();
    let sets = [format!("inputs.data={}", data.display())];
    let needles = [
        "eval.n_heldout: 3 problems asked for",
        "heldout.jsonl has 2",
    ];
    refused(&tmp.path().join("heldout"), &sets, &needles);
}
