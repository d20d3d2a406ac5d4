//! Hostile round 4 on `lab grng`: runs whose outputs told less than the rows.
use crate::common::*;
use std::path::Path;

/// R-Kalman with β = 0.5 on logreg-digits for 30 epochs (690 steps): its covariances wind up,
/// it skips steps, and its other updates shrink until they no longer change the f32 weights.
const WOUND_UP: [&str; 5] = [
    "task=logreg-digits",
    "optimizer={kind: rkalman, beta: 0.5}",
    "train.epochs=30",
    "torch_threads=1",
    "assert=null",
];

/// steps.csv's steps that were not skipped but whose update_norm is 0.
fn unchanged_rows(run: &Path) -> u64 {
    let (h, rows) = read_csv(&run.join("steps.csv"));
    let (skip, norm) = (col(&h, "nonfinite_skipped"), col(&h, "update_norm"));
    let zero = |r: &Vec<String>| r[norm].parse::<f64>().is_ok_and(|v| v == 0.0);
    rows.iter().filter(|r| r[skip] == "0" && zero(r)).count() as u64
}

/// Before, a wound-up R-Kalman run said "skipped 228 of 690 steps" while 354 more steps had left
/// every parameter unchanged (update_norm 0): the model stopped training near step 150 and the
/// summary gave its final accuracy with no word of it. Now summary.json `unchanged_steps` counts
/// them, a warning names them, and a resumed run counts the same.
#[test]
fn grng_steps_whose_update_changed_no_parameter_are_counted_and_named() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let o = grng(d, "full", &WOUND_UP);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let n = unchanged_rows(&d.join("full"));
    assert!(
        n > 100,
        "only {n} unchanged steps: pick a setting that winds up"
    );
    let s = json(&d.join("full/summary.json"));
    assert_eq!(s["unchanged_steps"], n, "{s}");
    let warning = format!("on {n} more of 690 steps the update changed no parameter");
    assert!(stderr(&o).contains(&warning), "{}", stderr(&o));
    let stop = [&WOUND_UP[..], &["train.stop_after=300"]].concat();
    let o = grng(d, "stopped", &stop);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let before = unchanged_rows(&d.join("stopped"));
    assert!(before > 0 && before < n, "{before} of {n} before the stop");
    let o = lab(
        d,
        &["grng", "--quiet", "--resume", "stopped", "--out", "resumed"],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(json(&d.join("resumed/summary.json"))["unchanged_steps"], n);
    assert!(stderr(&o).contains(&warning), "{}", stderr(&o));
    // A learning rate of 0: every step changes nothing, and says so.
    let tiny = ["task=mlp-digits", "train.steps=5", "optimizer.lr=0"];
    let o = grng(d, "tiny", &[&tiny[..], &["assert=null"]].concat());
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(json(&d.join("tiny/summary.json"))["unchanged_steps"], 5);
    assert!(
        stderr(&o).contains("on 5 more of 5 steps"),
        "{}",
        stderr(&o)
    );
    // A run that trains says nothing and counts 0.
    let o = grng(
        d,
        "sgd",
        &["task=mlp-digits", "train.steps=5", "assert=null"],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(json(&d.join("sgd/summary.json"))["unchanged_steps"], 0);
    assert!(
        !stderr(&o).contains("changed no parameter"),
        "{}",
        stderr(&o)
    );
}
