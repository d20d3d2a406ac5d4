//! `lab npg-rank1` under hostile input, round 6: ACKTR's skipped updates (a non-finite K-FAC
//! step left θ unchanged and showed only as `update_norm` 0: exit 0, no word), its checkpoint
//! momentum (taken unchecked: any length error said only "does not match this actor's
//! layers", any size moved θ as far as it liked) and K-FAC factor entries of any size.
use crate::common::*;
use crate::npg_hostile2::npg;
use crate::npg_hostile3::{refuse_each_edit, Edit};
use crate::npg_hostile4::acktr_run_a;
use serde_json::Value;
use std::path::Path;

fn acktr_config() -> String {
    format!(
        "{}/configs/npg-rank1/acktr.yaml",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// metrics.csv's `skipped_updates` cells, as numbers.
fn skipped_cells(run: &Path) -> Vec<u64> {
    let (h, rows) = read_csv(&run.join("metrics.csv"));
    let at = h
        .iter()
        .position(|c| c == "skipped_updates")
        .expect("column");
    rows.iter()
        .map(|r| r[at].parse().expect("a count"))
        .collect()
}

/// With a damping of 1e-300 every K-FAC step of CartPole is non-finite (‖v‖ overflows) and
/// skipped: 4 minibatches × 4 iterations. The run warns, naming the count, summary.json
/// counts them, metrics.csv marks them per iteration, and a run resumed from the half-way
/// checkpoint counts the skips before it from the carried rows.
#[test]
fn npg_acktr_skipped_updates_are_counted_and_named() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let acktr = acktr_config();
    let tiny = ["--config", &acktr, "--set", "algo.damping=1e-300"];
    let full = [&tiny[..], &["--set", "total_steps=2048", "--out", "full"]].concat();
    let o = npg(d, &full);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(skipped_cells(&d.join("full")), [4, 4, 4, 4]);
    assert_eq!(json(&d.join("full/summary.json"))["skipped_updates"], 16);
    let warning = "warning: ACKTR skipped 16 of 16 actor updates";
    assert!(stderr(&o).contains(warning), "{}", text(&o));
    let half = [&tiny[..], &["--set", "total_steps=1024", "--out", "half"]].concat();
    let o = npg(d, &half);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let o = npg(
        d,
        &[
            "--resume",
            "half",
            "--set",
            "total_steps=2048",
            "--out",
            "resumed",
        ],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(json(&d.join("resumed/summary.json"))["skipped_updates"], 16);
    assert!(stderr(&o).contains(warning), "{}", text(&o));
    // The reference damping skips nothing and says nothing.
    let o = npg(
        d,
        &[
            "--config",
            &acktr,
            "--set",
            "total_steps=1024",
            "--out",
            "ok",
        ],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(skipped_cells(&d.join("ok")), [0, 0]);
    assert_eq!(json(&d.join("ok/summary.json"))["skipped_updates"], 0);
    assert!(!stderr(&o).contains("skipped"), "{}", text(&o));
}

/// ACKTR's momentum is a sum of KL-clipped steps, so its norm is at most
/// √(κ/λ)/(η(1 − μ)) (12.6 with the reference values); a K-FAC factor entry beyond ±1e100 is
/// one a run skips, and A's last diagonal entry is the mean of 1·1 over the constant input;
/// inverses exist only beside factors, for every layer at once. Each edit resumed with exit 0
/// (a shortened momentum was refused without naming it).
#[test]
fn npg_acktr_resume_refuses_edited_momentum_and_factor_entries() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    acktr_run_a(d);
    let ckpt = d.join("a/checkpoint.json");
    let saved = json(&ckpt);
    let last = saved["acktr"]["inv_from"][0][0].as_array().unwrap().len() - 1;
    let n = saved["acktr"]["momentum"].as_array().unwrap().len();
    let short = format!(
        "`acktr.momentum` holds {} entries, this actor has {n}",
        n - 1
    );
    let null_factors = |c: &mut Value| {
        for f in c["acktr"]["factors"].as_array_mut().unwrap() {
            *f = Value::Null;
        }
    };
    let edits: [Edit; 6] = [
        (
            "no-factors",
            &null_factors,
            "`acktr.inv_from` is set but `acktr.factors` is null",
        ),
        (
            "mixed",
            &|c| c["acktr"]["inv_from"][0] = Value::Null,
            "`acktr.inv_from` has 2 of 3 layers set, but a run sets every layer's at once",
        ),
        (
            "short",
            &|c| drop(c["acktr"]["momentum"].as_array_mut().unwrap().pop()),
            &short,
        ),
        (
            "large",
            &|c| c["acktr"]["momentum"][3] = 1e3.into(),
            "`acktr.momentum` has the norm 1",
        ),
        (
            "huge",
            &|c| c["acktr"]["factors"][1][1][0] = 1e200.into(),
            "`acktr.factors[1] (G)` holds 1e200 at [0][0], beyond ±1e100",
        ),
        (
            "ones",
            &|c| c["acktr"]["inv_from"][0][0][last] = 4.0.into(),
            "`acktr.inv_from[0] (A)` holds 4 at its last diagonal entry",
        ),
    ];
    refuse_each_edit(d, &saved, &edits);
}

/// A carried `skipped_updates` cell enters the resumed run's summary.json: one no run writes
/// (more than the iteration's 4 ACKTR steps, a fraction, a count under another algorithm) is
/// refused naming metrics.csv and the iteration.
#[test]
fn npg_resume_refuses_an_edited_skipped_updates_cell() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    acktr_run_a(d);
    let metrics = d.join("a/metrics.csv");
    let kept = read(&metrics);
    let (h, _) = read_csv(&metrics);
    let at = h.iter().position(|c| c == "skipped_updates").unwrap();
    let edit = |cell: &str| {
        let mut lines: Vec<String> = kept.lines().map(String::from).collect();
        let mut cells: Vec<&str> = lines[1].split(',').collect();
        cells[at] = cell;
        lines[1] = cells.join(",");
        std::fs::write(&metrics, lines.join("\n") + "\n").unwrap();
    };
    for (i, cell) in ["7", "0.5", ""].into_iter().enumerate() {
        edit(cell);
        let out = format!("b{i}");
        let o = npg(
            d,
            &["--resume", "a", "--set", "total_steps=2048", "--out", &out],
        );
        let want = "`skipped_updates` is ";
        let needles = ["a/metrics.csv", want, "at iter 1", "(0 to 4)"];
        assert_refused(&o, cell, &needles, &d.join(&out));
    }
    std::fs::write(&metrics, &kept).unwrap();
    let o = npg(
        d,
        &["--resume", "a", "--set", "total_steps=2048", "--out", "ok"],
    );
    assert_eq!(code(&o), 0, "the rows as written resume: {}", text(&o));
}
