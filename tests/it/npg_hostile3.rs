//! `lab npg-rank1 --resume` of a checkpoint edited by hand, round 4: values no run saves (an env
//! state of 1e300, a negative update time) and a tracker that disagrees with the rows it is
//! carried beside (an evaluation mean, the window of returns, `steps_to_threshold`). Each was
//! carried into the continued run (exit 0, its summary.json built on the edited numbers); now
//! refused, naming the checkpoint file and the field.
use crate::common::*;
use crate::npg_hostile2::{npg, smoke_run_a};
use serde_json::Value;
use std::path::Path;

/// What a case edits in the checkpoint, how, and what the refusal must say.
pub type Edit<'a> = (&'a str, &'a dyn Fn(&mut Value), &'a str);

#[test]
fn npg_resume_refuses_edited_checkpoint_values() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    smoke_run_a(d);
    let ckpt = d.join("a/checkpoint.json");
    let saved = json(&ckpt);
    let last_eval = saved["tracker"]["evals"]
        .as_array()
        .map_or(0, |e| e.len())
        .checked_sub(1)
        .expect("the smoke run evaluated");
    assert!(
        saved["tracker"]["steps_to_threshold"].is_null(),
        "the smoke run never reaches CartPole's threshold: {}",
        saved["tracker"]
    );
    let eval_want = format!("`tracker.evals[{last_eval}]` is mean");
    let edits: [Edit; 5] = [
        (
            "state",
            &|c| c["venv"]["envs"][0]["state"][0] = 1e300.into(),
            "`venv.envs[0].state[0]` is 1e300",
        ),
        (
            "update_ms",
            &|c| c["tracker"]["update_ms"][0] = (-5.0).into(),
            "`tracker.update_ms[0]` is -5",
        ),
        (
            "eval",
            &|c| {
                let m = c["tracker"]["evals"][last_eval][0].as_f64().unwrap();
                c["tracker"]["evals"][last_eval][0] = (m + 1000.0).into();
            },
            &eval_want,
        ),
        (
            "window",
            &|c| {
                let r = c["tracker"]["window"][0].as_f64().unwrap();
                c["tracker"]["window"][0] = (r + 7.0).into();
            },
            "`tracker.window` holds",
        ),
        (
            "threshold",
            &|c| c["tracker"]["steps_to_threshold"] = 100.into(),
            "`tracker.steps_to_threshold` is 100, but the episodes of episodes.csv make it null",
        ),
    ];
    refuse_each_edit(d, &saved, &edits);
}

/// Each edit of run `a`'s checkpoint (`saved` as written) makes `--resume a` exit 2 naming
/// the file and the edit's text, with no folder made; the checkpoint as saved then resumes.
pub fn refuse_each_edit(d: &Path, saved: &Value, edits: &[Edit]) {
    let ckpt = d.join("a/checkpoint.json");
    for (what, edit, want) in edits {
        let mut c = saved.clone();
        edit(&mut c);
        std::fs::write(&ckpt, serde_json::to_string(&c).unwrap()).unwrap();
        let out = format!("b-{what}");
        let o = npg(
            d,
            &["--resume", "a", "--set", "total_steps=2048", "--out", &out],
        );
        assert_refused(&o, what, &["a/checkpoint.json", want], &d.join(&out));
    }
    std::fs::write(&ckpt, serde_json::to_string(saved).unwrap()).unwrap();
    let o = npg(
        d,
        &["--resume", "a", "--set", "total_steps=2048", "--out", "ok"],
    );
    assert_eq!(code(&o), 0, "the checkpoint as saved resumes: {}", text(&o));
}
