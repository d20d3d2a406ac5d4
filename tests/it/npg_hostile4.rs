//! `lab npg-rank1` under hostile input, round 5: an edited episode length in checkpoint.json
//! (written to episodes.csv as is), ACKTR's checkpoint state (its K-FAC factors and step
//! counter, taken unchecked: exit 0 on a preconditioner no run has), a study resumed after
//! one of its cases was edited (refused as "another grid or seed list", which had not
//! changed) and an `env.model_dir` without the task's model file (told to run `make mujoco`,
//! which never fills that folder).
use crate::common::*;
use crate::npg_hostile2::{npg, smoke_run_a};
use crate::npg_hostile3::{refuse_each_edit, Edit};
use serde_json::Value;
use std::path::Path;

/// `venv.ep_len` counts the steps since each env's reset, as its time limit's `elapsed`
/// does: a length edited to 10¹⁵ ran on (exit 0) and the episode was written to episodes.csv
/// with 1e15 steps. Refused now, naming both fields.
#[test]
fn npg_resume_refuses_an_episode_length_other_than_the_time_limit_count() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    smoke_run_a(d);
    let ckpt = d.join("a/checkpoint.json");
    let saved = json(&ckpt);
    let elapsed = saved["venv"]["envs"][0]["elapsed"]
        .as_u64()
        .expect("elapsed");
    assert_eq!(saved["venv"]["ep_len"][0].as_u64(), Some(elapsed));
    let (huge, over) = (1_000_000_000_000_000u64, elapsed + 300);
    let want =
        |len| format!("`venv.ep_len[0]` is {len}, but `venv.envs[0].elapsed` counts {elapsed}");
    let (want_huge, want_over) = (want(huge), want(over));
    let edits: [Edit; 2] = [
        (
            "huge",
            &|c| c["venv"]["ep_len"][0] = huge.into(),
            &want_huge,
        ),
        (
            "over",
            &|c| c["venv"]["ep_len"][0] = over.into(),
            &want_over,
        ),
    ];
    refuse_each_edit(d, &saved, &edits);
}

/// A finished ACKTR run of 1024 steps on CartPole in `dir/a` (2 iterations × 4 minibatches).
pub fn acktr_run_a(dir: &Path) {
    let acktr = format!(
        "{}/configs/npg-rank1/acktr.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let args = [
        "--config",
        &acktr,
        "--set",
        "total_steps=1024",
        "--out",
        "a",
    ];
    let o = npg(dir, &args);
    assert_eq!(code(&o), 0, "{}", text(&o));
}

/// ACKTR's factors are averages of outer products (symmetric, diagonal ≥ 0) and its counter
/// makes one step per actor minibatch: a negated A, an off-diagonal entry raised 500-fold
/// and a counter of 2⁶⁴ − 1 (which wrapped, moving the inverse refreshes) all resumed with
/// exit 0. Refused now, naming the field.
#[test]
fn npg_acktr_resume_refuses_edited_factors_and_step_counter() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    acktr_run_a(d);
    let ckpt = d.join("a/checkpoint.json");
    let saved = json(&ckpt);
    assert_eq!(
        saved["acktr"]["steps"].as_u64(),
        Some(8),
        "{}",
        saved["iter"]
    );
    let negate = |c: &mut Value| {
        for x in c["acktr"]["factors"][0][0].as_array_mut().unwrap() {
            *x = (-x.as_f64().unwrap()).into();
        }
    };
    let raise = |c: &mut Value| {
        let x = c["acktr"]["inv_from"][1][1][1].as_f64().unwrap();
        c["acktr"]["inv_from"][1][1][1] = (x * 500.0 + 1.0).into();
    };
    let edits: [Edit; 3] = [
        ("negated", &negate, "`acktr.factors[0] (A)` holds -"),
        ("raised", &raise, "`acktr.inv_from[1] (G)` holds"),
        (
            "steps",
            &|c| c["acktr"]["steps"] = u64::MAX.into(),
            "`acktr.steps` is 18446744073709551615, but 2 iterations of 4 optimiser steps make 8",
        ),
    ];
    refuse_each_edit(d, &saved, &edits);
}

/// A study whose case file (or mapping) was edited is not the study that started: `--resume`
/// refused it as started "with another grid or seed list", though neither had changed. It
/// names the case and the key that changed now.
#[test]
fn npg_study_resume_after_an_edited_case_names_the_case_and_key() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let acktr = format!(
        "{}/configs/npg-rank1/acktr.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let case = d.join("acktr.yaml");
    std::fs::copy(&acktr, &case).unwrap();
    let study = "total_steps: 512\neval: {every: 0, episodes: 1}\nstudy:\n  name: s\n  \
                 cases:\n    algo:\n      smac: {algo.kind: smac, backend: torch}\n      \
                 acktr: acktr.yaml\n";
    std::fs::write(d.join("s.yaml"), study).unwrap();
    let o = npg(d, &["--config", "s.yaml", "--out", "s"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let kept = read(&case);
    std::fs::write(&case, kept.replace("kl_clip: 0.001", "kl_clip: 0.5")).unwrap();
    let o = npg(d, &["--config", "s.yaml", "--resume", "--out", "s"]);
    let err = stderr(&o);
    assert_eq!(code(&o), 2, "{}", text(&o));
    for needle in [
        "case `algo: acktr`",
        "algo.kl_clip: 0.001 → 0.5",
        "restore the case",
    ] {
        assert!(err.contains(needle), "no `{needle}` in {err}");
    }
    assert!(!err.contains("grid or seed list"), "{err}");
    std::fs::write(&case, kept).unwrap();
    let o = npg(d, &["--config", "s.yaml", "--resume", "--out", "s"]);
    assert_eq!(code(&o), 0, "the unedited study resumes: {}", text(&o));
}

/// `env.model_dir` set to a folder without the task's model file was told to run `make
/// mujoco` "to copy Gymnasium's models there", which copies them only to the default folder.
/// The message names the folder, the file and the task, and says what to set.
#[test]
fn npg_a_model_dir_without_the_task_file_says_what_to_set() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    std::fs::create_dir(d.join("empty")).unwrap();
    for (folder, state) in [("empty", "the folder exists"), ("absent", "no such folder")] {
        let set = format!("env.model_dir={}", d.join(folder).display());
        let args = ["--set", "env.id=Hopper-v5", "--set", &set, "--out", "r"];
        let o = npg(d, &args);
        let file = format!("{} has no hopper.xml", d.join(folder).display());
        let needles = ["env.model_dir", &file, "Hopper-v5", state, "set it to null"];
        assert_refused(&o, folder, &needles, &d.join("r"));
        assert!(
            !stderr(&o).contains("to copy Gymnasium's models there"),
            "{}",
            text(&o)
        );
    }
}
