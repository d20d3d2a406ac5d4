//! prefixrl's offline FLOPs (spec §5.1, §2.3): a prefix method is charged the traces' FLOPs
//! plus the calibration FLOPs make-prefixes recorded in the `make_prefixes` section of its
//! summary.json (mode calibrated); a prefixes run without that record is refused (exit 2,
//! naming the file) rather than charged nothing.
use super::prefixrl_stages::{ok_stage, pipeline as stages_pipeline, set};
use super::prefixrl_train::{pipeline, train_output};
use crate::common::{code, col, json, read_csv, stderr};
use lab::prefixrl::jsonl;
use std::path::{Path, PathBuf};

/// A copy of the train fixture's prefixes run under `root` with `summary` as its summary.json.
fn prefixes_run(root: &Path, summary: serde_json::Value) -> PathBuf {
    let dir = root.join("prefixes");
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["prefixes.jsonl", "meta.json"] {
        std::fs::copy(pipeline().join(f), dir.join(f)).unwrap();
    }
    std::fs::write(dir.join("summary.json"), summary.to_string()).unwrap();
    dir
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

#[test]
fn calibration_flops_of_the_prefixes_run_are_charged_offline() {
    let tmp = tempfile::tempdir().unwrap();
    // The fixture's traces cost 1000·i FLOPs, i = 1..=8.
    let trace_flops: f64 = (1..=8).map(|i| 1000.0 * i as f64).sum();
    let cal = 12_345.0;
    let record =
        serde_json::json!({"make_prefixes": {"mode": "calibrated", "flops_calibration": cal}});
    let p = prefixes_run(tmp.path(), record);
    let root = tmp.path().join("charged");
    let o = train_output(&root, &[&set("inputs.prefixes", &p)], None, None);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let (h, rows) = read_csv(&root.join("run/metrics.csv"));
    assert!(!rows.is_empty());
    for row in &rows {
        let offline: f64 = row[col(&h, "flops_offline")].parse().unwrap();
        assert!(
            close(offline, trace_flops + cal),
            "flops_offline {offline}, want traces {trace_flops} + calibration {cal}"
        );
    }
    let summary = json(&root.join("run/summary.json"));
    let offline = summary["flops_offline"].as_f64().unwrap();
    assert!(close(offline, trace_flops + cal), "{summary}");
    // The fixture's traces have no collect record beside them: their records only, said so.
    let record = &summary["rejection_sampling"];
    assert_eq!(record["charged"].as_f64(), Some(trace_flops), "{summary}");
    assert!(record["flops_failed"].is_null(), "{summary}");
    assert!(
        record["note"]
            .as_str()
            .unwrap()
            .contains("records' FLOPs only"),
        "{summary}"
    );

    // Not charged (rl.charge_offline none): neither the traces nor the calibration.
    let root = tmp.path().join("free");
    let o = train_output(
        &root,
        &[&set("inputs.prefixes", &p), "rl.charge_offline=none"],
        None,
        None,
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let summary = json(&root.join("run/summary.json"));
    assert_eq!(summary["flops_offline"].as_f64(), Some(0.0), "{summary}");
}

#[test]
fn a_prefixes_run_without_its_calibration_record_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        // the bug's reading: flops_calibration at the top level, no make_prefixes section
        (
            serde_json::json!({"mode": "calibrated", "flops_calibration": 5.0}),
            "no `make_prefixes` section",
        ),
        (
            serde_json::json!({"make_prefixes": {"mode": "calibrated", "flops_calibration": null}}),
            "make_prefixes.flops_calibration",
        ),
    ];
    for (i, (record, says)) in cases.into_iter().enumerate() {
        let case = tmp.path().join(format!("case{i}"));
        let p = prefixes_run(&case, record);
        let o = train_output(&case, &[&set("inputs.prefixes", &p)], None, None);
        let err = stderr(&o);
        assert_eq!(code(&o), 2, "{err}");
        let file = p.join("summary.json").display().to_string();
        assert!(
            err.contains("inputs.prefixes") && err.contains(&file) && err.contains(says),
            "{says}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
        assert!(!case.join("run").exists(), "no run directory is left");
    }
}

/// The real stages: make-prefixes in mode calibrated records its FLOPs, and a train run on
/// those prefixes starts with flops_offline = Σ trace FLOPs + the failed problems' FLOPs of
/// collect's summary + that record.
#[test]
fn calibrated_make_prefixes_then_train_charges_the_recorded_flops() {
    let p = stages_pipeline();
    let r = &p.root;
    let mp = ok_stage(
        r,
        "mp-cal",
        &[
            "stage=make-prefixes".into(),
            "prefix.mode=calibrated".into(),
            "prefix.band=[0.0, 1.0]".into(),
            "prefix.m_cal=2".into(),
            set("inputs.data", &p.data),
            set("inputs.base", &p.base),
            set("inputs.traces", &p.traces),
        ],
    );
    let recorded = json(&mp.join("summary.json"));
    let cal = recorded["make_prefixes"]["flops_calibration"]
        .as_f64()
        .unwrap_or_else(|| panic!("no calibration FLOPs: {recorded}"));
    assert!(cal > 0.0, "{recorded}");
    let tr = ok_stage(
        r,
        "tr-cal",
        &[
            "stage=train".into(),
            "rl.method=prefixrl".into(),
            set("inputs.data", &p.data),
            set("inputs.base", &p.base),
            set("inputs.traces", &p.traces),
            set("inputs.prefixes", &mp),
        ],
    );
    let traces: f64 = jsonl::read_traces(&p.traces.join("traces.jsonl"))
        .unwrap()
        .iter()
        .map(|t| t.flops)
        .sum();
    let failed = json(&p.traces.join("summary.json"))["collect"]["flops_failed"]
        .as_f64()
        .unwrap();
    let summary = json(&tr.join("summary.json"));
    let offline = summary["flops_offline"].as_f64().unwrap();
    assert_eq!(
        offline,
        traces + failed + cal,
        "flops_offline {offline}, want traces {traces} + failed {failed} + calibration {cal}"
    );
}
