//! A `stage: all` run stopped in its eval stage, after training finished (spec §8 "resumable
//! runs"), is continued by `--resume`: no earlier stage runs again, the train rows and summary
//! are kept, and the eval stage evaluates the old run's last checkpoint, giving the numbers of
//! the uninterrupted run. The run uses calibrated prefixes, so its `flops_offline` also checks
//! that under `stage: all` make-prefixes' calibration FLOPs are charged (§5.1).
use super::prefixrl_stages::ok_stage;
use super::prefixrl_stages_runs::copy_run;
use crate::common::*;
use lab::prefixrl::jsonl;

#[test]
fn stage_all_stopped_in_eval_resumes_to_evaluate_its_last_checkpoint() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let sets = [
        "stage=all",
        "prefix.mode=calibrated",
        "prefix.band=[0.0, 1.0]",
        "prefix.m_cal=2",
    ]
    .map(String::from);
    let full = ok_stage(r, "full", &sets);
    let summary = json(&full.join("summary.json"));
    let traces: f64 = jsonl::read_traces(&full.join("traces.jsonl"))
        .unwrap()
        .iter()
        .map(|t| t.flops)
        .sum();
    let cal = summary["make_prefixes"]["flops_calibration"]
        .as_f64()
        .unwrap_or_else(|| panic!("no calibration FLOPs: {summary}"));
    assert!(cal > 0.0, "{summary}");
    let failed = summary["collect"]["flops_failed"].as_f64().unwrap();
    let offline = summary["flops_offline"].as_f64().unwrap();
    assert_eq!(
        offline,
        traces + failed + cal,
        "flops_offline {offline}, want traces {traces} + failed {failed} + calibration {cal}"
    );
    assert!(summary["final_eval_step"].is_number(), "{summary}");

    // What a run stopped in eval leaves: everything but final_eval.csv and the final_* entries.
    let stopped = r.join("stopped");
    copy_run(&full, &stopped, &["final_eval.csv"]);
    let mut kept = summary.clone();
    kept.as_object_mut()
        .unwrap()
        .retain(|k, _| !k.starts_with("final_"));
    std::fs::write(stopped.join("summary.json"), kept.to_string()).unwrap();
    let mut meta = json(&stopped.join("meta.json"));
    meta["status"] = "interrupted".into();
    std::fs::write(stopped.join("meta.json"), meta.to_string()).unwrap();

    let o = lab(r, &["prefixrl", "--out", "resumed", "--resume", "stopped"]);
    let err = stderr(&o);
    assert_eq!(code(&o), 0, "{err}");
    for skipped in [
        "gen-data",
        "pretrain",
        "calibrate",
        "collect",
        "make-prefixes",
    ] {
        assert!(
            err.contains(&format!("skipping {skipped}")),
            "{skipped}: {err}"
        );
    }
    assert!(err.contains("finished all 3 steps"), "{err}");
    let resumed = r.join("resumed");
    assert_eq!(status(&resumed), "completed");
    let drop = ["run", "wall_s"];
    for file in ["metrics.csv", "eval.csv", "final_eval.csv"] {
        assert_eq!(
            csv_without(&resumed.join(file), &drop),
            csv_without(&full.join(file), &drop),
            "{file}: the uninterrupted run's rows"
        );
    }
    let last = "checkpoints/step-00000003/model.safetensors";
    assert_eq!(
        std::fs::read(resumed.join(last)).unwrap(),
        std::fs::read(full.join(last)).unwrap(),
        "the old run's last checkpoint is the run's own"
    );
    let again = json(&resumed.join("summary.json"));
    for (key, value) in summary.as_object().unwrap() {
        if !["resumed_from_step", "wall_s"].contains(&key.as_str()) {
            assert_eq!(&again[key], value, "summary.json {key}");
        }
    }
    assert_eq!(again["resumed_from_step"], 3, "{again}");
}
