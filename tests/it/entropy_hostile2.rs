//! Hostile input to `lab entropy-probe`, second round: settings under which a run would carry a
//! label its training contradicts are exit-2 usage errors naming the keys, with no folder left.
use crate::common::*;
use crate::entropy_train::{lab_single, run_single};
use std::path::Path;

/// `sets` on the one-run smoke config: exit 2, each of `needles` in stderr, no `out` folder.
fn refused(dir: &Path, sets: &[&str], needles: &[&str]) {
    let o = lab_single(dir, sets, Some("out"));
    assert_refused(&o, &format!("{sets:?}"), needles, &dir.join("out"));
}

/// A `feedback` run whose controller never acts (it measures at the multiples of
/// `controller.every` and not during warm-up) would be paired with `plain` in the verdicts as a
/// controlled run; the config check refuses it, naming the keys. The smoke config trains 60
/// steps with a warm-up of 10 and measures every 5 steps.
#[test]
fn entropy_a_controller_that_can_never_act_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let never = "the controller of this run never acts";
    refused(
        tmp.path(),
        &["condition=feedback", "controller.every=1000"],
        &["controller.every", "is 1000", never, "it never measures"],
    );
    refused(
        tmp.path(),
        &["condition=feedback_hold", "train.warmup=60"],
        &[
            "controller.every",
            never,
            "its last measurement (step 60) falls in the warm-up",
            "`train.warmup` (from --set train.warmup=60)",
        ],
    );
    refused(
        tmp.path(),
        &["overrides.controller=true", "train.warmup=61"],
        &["controller.every", never, "`overrides.controller`"],
    );
    // A measurement after warm-up is enough, and a controller that only monitors (plain) may
    // measure never.
    let hold = run_single(
        tmp.path(),
        &["condition=feedback_hold", "train.warmup=59"],
        "hold",
    );
    let summary = json(&hold.join("summary.json"));
    assert_eq!(summary["ctrl_active_frac"].as_f64(), Some(1.0), "{summary}");
    run_single(tmp.path(), &["controller.every=1000"], "plain");
}
