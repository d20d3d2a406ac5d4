//! The smoke configs' `assert:` block (spec §6.4): a run that meets it completes; one that
//! violates a check fails (exit 1, meta.json `failed`) with a message naming the check and the
//! numbers, and keeps its CSVs; a bad value exits 2.
use crate::common::*;
use std::path::Path;

/// The failed run's meta.json error.
fn failure(dir: &Path, out: &str, o: &std::process::Output) -> String {
    assert_eq!(code(o), 1, "{}", text(o));
    let run = dir.join(out);
    assert_eq!(status(&run), "failed");
    assert!(run.join("steps.csv").exists(), "the CSVs are kept");
    json(&run.join("meta.json"))["error"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The number after `label` in `msg` (up to the next space).
fn number_after(msg: &str, label: &str) -> f64 {
    let rest = &msg[msg
        .find(label)
        .unwrap_or_else(|| panic!("{label} in {msg}"))
        + label.len()..];
    rest.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn the_smoke_assertions_pass_a_learning_run_and_fail_a_flat_or_diverging_one() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = grng_smoke(d, "ok", &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(status(&d.join("ok")), "completed");

    // lr 0: the loss cannot fall by 20 %.
    let o = grng_smoke(d, "flat", &["optimizer.lr=0"]);
    let msg = failure(d, "flat", &o);
    assert!(
        msg.contains("assert.loss_decrease_frac (0.2) failed"),
        "{msg}"
    );
    assert!(
        stderr(&o).contains("assert.loss_decrease_frac"),
        "{}",
        stderr(&o)
    );
    // The message's numbers are the steps.csv means.
    let (h, rows) = read_csv(&d.join("flat/steps.csv"));
    let mean = |r: &[Vec<String>]| {
        r.iter()
            .map(|x| x[col(&h, "batch_loss")].parse::<f64>().unwrap())
            .sum::<f64>()
            / 5.0
    };
    let (first, last) = (mean(&rows[..5]), mean(&rows[25..]));
    assert!(
        (number_after(&msg, "last 5 steps ") - last).abs() < 1e-5,
        "{msg}"
    );
    assert!(
        (number_after(&msg, "0.80 x ") - first).abs() < 1e-5,
        "{msg}"
    );
    assert!(last > 0.8 * first);

    // A diverging run fails `finite`.
    let o = grng_smoke(d, "big", &["optimizer.lr=1e30"]);
    let msg = failure(d, "big", &o);
    assert!(
        msg.contains("assert.finite failed: the run diverged"),
        "{msg}"
    );

    // Without the block the same flat run completes.
    let o = grng_smoke(d, "flat-free", &["optimizer.lr=0", "assert=null"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
}

#[test]
fn an_out_of_range_assertion_exits_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let o = grng_smoke(dir.path(), "r", &["assert.loss_decrease_frac=1.5"]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(
        stderr(&o).contains("assert.loss_decrease_frac"),
        "{}",
        stderr(&o)
    );
    let o = grng_smoke(dir.path(), "r", &["assert.csv_columns=loose"]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(stderr(&o).contains("loose"), "{}", stderr(&o));
    assert!(!dir.path().join("r").exists());
}
