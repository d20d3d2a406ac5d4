//! Steps an optimizer skips (spec §7: a singular curvature system or a non-finite factor leaves
//! the parameters unchanged) are counted in summary.json `skipped_steps` and named in a warning
//! at the end of the run; a resumed run counts the steps before its checkpoint from steps.csv.
//! Before, only the per-step `nonfinite_skipped` column showed them: an R-Kalman run with a
//! small forgetting factor skipped a fifth of its steps and ended with no word about it.
use crate::common::*;
use std::path::Path;

/// R-Kalman with β = 0.5 on logreg-digits: P grows as β⁻ᵗ along the pixels that never vary,
/// so its Woodbury systems turn singular within a few dozen steps (69 steps in all).
const SKIPPING: [&str; 5] = [
    "task=logreg-digits",
    "optimizer={kind: rkalman, beta: 0.5}",
    "train.epochs=3",
    "torch_threads=1",
    "assert=null",
];

/// steps.csv's rows with `nonfinite_skipped` = 1.
fn skipped_rows(run: &Path) -> usize {
    let (h, rows) = read_csv(&run.join("steps.csv"));
    let at = h.iter().position(|c| c == "nonfinite_skipped").unwrap();
    rows.iter().filter(|r| r[at] == "1").count()
}

#[test]
fn skipped_steps_are_counted_in_the_summary_and_named_in_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let o = grng(d, "full", &SKIPPING);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let n = skipped_rows(&d.join("full"));
    assert!(n > 0, "the setting skips no step any more: pick another");
    let s = json(&d.join("full/summary.json"));
    assert_eq!(s["skipped_steps"], n as u64, "{s}");
    let warning = format!("the optimizer skipped {n} of 69 steps");
    assert!(stderr(&o).contains(&warning), "{}", stderr(&o));
    // A run that skips nothing says nothing and counts 0.
    let o = grng(
        d,
        "sgd",
        &["task=logreg-digits", "train.epochs=1", "assert=null"],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(json(&d.join("sgd/summary.json"))["skipped_steps"], 0);
    assert!(!stderr(&o).contains("skipped"), "{}", stderr(&o));
    // Stopped after step 50 (past the first skips) and resumed: the same count.
    let stop = [&SKIPPING[..], &["train.stop_after=50"]].concat();
    let o = grng(d, "stopped", &stop);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let before = skipped_rows(&d.join("stopped"));
    assert!(
        before > 0 && before < n,
        "{before} of {n} skips before the stop"
    );
    let o = lab(
        d,
        &["grng", "--quiet", "--resume", "stopped", "--out", "resumed"],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    let s = json(&d.join("resumed/summary.json"));
    assert_eq!(s["skipped_steps"], n as u64, "{s}");
    assert!(stderr(&o).contains(&warning), "{}", stderr(&o));
}
