//! `lab prefixrl --resume` of a run whose files were edited or cut short between the runs:
//! - a last checkpoint whose checkpoint.json totals are not those of the metrics.csv row of its
//!   step (FLOPs edited, or both files' step edited so that it poses as an earlier checkpoint)
//!   is refused, exit 2 naming the checkpoint, the file and the column, no run folder; it used
//!   to continue the FLOPs axis from the edited numbers (negative FLOPs in every later row);
//! - rollouts.jsonl: a last line left unfinished by a killed run is dropped and the run
//!   continues; a damaged line elsewhere, or bytes that are not UTF-8, are refused naming the
//!   file and line (they used to fail the resumed run with exit 1 after making its folder).
use super::prefixrl_train::{train, train_output};
use crate::common::*;
use std::path::Path;

/// Resume `first` into `<root>/run` for one more step: must be refused (exit 2, `needles`).
fn refused(root: &Path, first: &Path, needles: &[&str]) {
    let o = train_output(root, &["rl.steps=3"], Some(first), None);
    assert_refused(&o, &first.display().to_string(), needles, &root.join("run"));
}

#[test]
fn prefixrl_resume_refuses_a_checkpoint_whose_totals_are_not_the_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let first = train(&tmp.path().join("first"), &[], None);
    let last = first.join("checkpoints/step-00000002");
    let meta = last.join("checkpoint.json");
    let original = read(&meta);
    let mut v: serde_json::Value = serde_json::from_str(&original).unwrap();
    v["metadata"]["flops_sample"] = serde_json::json!(-1.0e30);
    std::fs::write(&meta, v.to_string()).unwrap();
    let root = tmp.path().join("again");
    let shown = last.display().to_string();
    refused(
        &root,
        &first,
        &[&shown, "flops_sample = -1e30", "metrics.csv"],
    );

    // Both files of step 2 say step 1: it posed as the checkpoint of step 1 (rows 2 and 3
    // were then computed from step 2's weights and totals).
    // (An edit of checkpoint.json can drop the files' recorded SHA-256 too: this check stands
    // on its own.)
    let mut v: serde_json::Value = serde_json::from_str(&original).unwrap();
    v["step"] = 1.into();
    v.as_object_mut().unwrap().remove("files");
    std::fs::write(&meta, v.to_string()).unwrap();
    let opt = last.join("optimizer.json");
    let mut o: serde_json::Value = serde_json::from_str(&read(&opt)).unwrap();
    o["step"] = 1.into();
    std::fs::write(&opt, o.to_string()).unwrap();
    refused(
        &root,
        &first,
        &[&shown, "the row of step 1", "move that directory"],
    );
}

#[test]
fn prefixrl_resume_drops_an_unfinished_rollouts_line_and_names_a_damaged_one() {
    let tmp = tempfile::tempdir().unwrap();
    let first = train(&tmp.path().join("first"), &[], None);
    let file = first.join("rollouts.jsonl");
    let whole = read(&file);
    let lines: Vec<&str> = whole.lines().collect();
    let per_step = lines.len() / 2;

    // Killed while appending: the last line is cut short, without its newline.
    let cut = &whole[..whole.len() - 10];
    std::fs::write(&file, cut).unwrap();
    let root = tmp.path().join("continued");
    let run = train(&root, &["rl.steps=3"], Some(&first));
    let kept = read(&run.join("rollouts.jsonl"));
    let kept: Vec<&str> = kept.lines().collect();
    assert_eq!(
        kept.len(),
        3 * per_step - 1,
        "every whole line, then step 3's"
    );
    assert_eq!(kept[..2 * per_step - 1], lines[..2 * per_step - 1]);

    // A damaged line that is not the last, and bytes that are not UTF-8.
    let mut damaged = lines.clone();
    damaged[2] = "{\"step\": 1, \"trunc";
    std::fs::write(&file, damaged.join("\n") + "\n").unwrap();
    let at = format!("{}:3", file.display());
    refused(&tmp.path().join("bad"), &first, &[&at, "not a JSON object"]);
    let mut bytes = whole.as_bytes().to_vec();
    bytes.extend(b"{\"step\": 2, \"x\": \"\xff\"}\n");
    std::fs::write(&file, bytes).unwrap();
    let at = format!("{}:{}", file.display(), lines.len() + 1);
    refused(&tmp.path().join("bytes"), &first, &[&at, "not UTF-8"]);
}
