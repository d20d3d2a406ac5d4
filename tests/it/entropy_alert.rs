//! The `alert` column of `metrics.csv` (spec §7.5 item 3): 1 where `fr_entropy_t1 <
//! alert.frac × h_ref` or `loop_frac_greedy > alert.loop_frac`, 0 where neither, empty with
//! both tests off. On the smoke corpus h_ref is the analytic entropy rate (summary.json).
use crate::common::*;
use crate::entropy_train::{lab_single, run_single};
use std::path::Path;

/// Per evaluation row: (alert cell, fr_entropy_t1, loop_frac_greedy), and h_ref.
fn alerts(run: &Path) -> (Vec<(String, f64, f64)>, f64) {
    let (header, rows) = read_csv(&run.join("metrics.csv"));
    let num = |r: &[String], name: &str| -> f64 { r[col(&header, name)].parse().unwrap() };
    let cells = rows
        .iter()
        .map(|r| {
            (
                r[col(&header, "alert")].clone(),
                num(r, "fr_entropy_t1"),
                num(r, "loop_frac_greedy"),
            )
        })
        .collect();
    let h_ref = json(&run.join("summary.json"))["h_ref"].as_f64().unwrap();
    (cells, h_ref)
}

#[test]
fn alert_flags_rows_below_the_entropy_threshold_and_not_others() {
    let dir = tempfile::tempdir().unwrap();
    let bigram = "model.preset=bigram";
    // Default (frac 0.8, loop test off): the cell is the definition, row by row.
    let (rows, h_ref) = alerts(&run_single(dir.path(), &[bigram], "default"));
    assert_eq!(rows.len(), 3);
    for (cell, fr, _) in &rows {
        let want = if *fr < 0.8 * h_ref { "1" } else { "0" };
        assert_eq!(cell, want, "fr_entropy_t1 {fr}, h_ref {h_ref}");
    }
    // Tripped: a threshold above any entropy the run reaches; quiet: one below.
    let trip = run_single(dir.path(), &[bigram, "alert.frac=100"], "trip");
    let (rows, _) = alerts(&trip);
    assert!(rows.iter().all(|r| r.0 == "1"), "{rows:?}");
    let quiet = run_single(dir.path(), &[bigram, "alert.frac=0.01"], "quiet");
    let (rows, _) = alerts(&quiet);
    assert!(rows.iter().all(|r| r.0 == "0"), "{rows:?}");
    // The loop test alone follows loop_frac_greedy.
    let sets = [bigram, "alert.frac=null", "alert.loop_frac=0"];
    let (rows, _) = alerts(&run_single(dir.path(), &sets, "loops"));
    for (cell, _, loops) in &rows {
        assert_eq!(
            cell,
            if *loops > 0.0 { "1" } else { "0" },
            "loop_frac {loops}"
        );
    }
    // Both off: the column is there and empty.
    let (rows, _) = alerts(&run_single(dir.path(), &[bigram, "alert.frac=null"], "off"));
    assert!(rows.iter().all(|r| r.0.is_empty()), "{rows:?}");
}

#[test]
fn bad_alert_thresholds_exit_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (bad, key) in [
        ("alert.frac=-1", "alert.frac"),
        ("alert.loop_frac=1.5", "alert.loop_frac"),
        ("alert.fraction=0.5", "alert.fraction"),
    ] {
        let o = lab_single(dir.path(), &[bad], None);
        assert_eq!(code(&o), 2, "{bad}: {}", text(&o));
        assert!(stderr(&o).contains(key), "{bad}: {}", stderr(&o));
    }
}
