//! `lab npg-rank1` under hostile input, round 5: an edited episode length in checkpoint.json
//! (written to episodes.csv as is), ACKTR's checkpoint state (its K-FAC factors and step
//! counter, taken unchecked: exit 0 on a preconditioner no run has), a study resumed after
//! one of its cases was edited (refused as "another grid or seed list", which had not
//! changed) and an `env.model_dir` without the task's model file (told to run `make mujoco`,
//! which never fills that folder).
use crate::common::*;
use crate::npg_hostile2::{npg, smoke_run_a};

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
    for (i, len) in [1_000_000_000_000_000u64, elapsed + 300]
        .into_iter()
        .enumerate()
    {
        let mut c = saved.clone();
        c["venv"]["ep_len"][0] = len.into();
        std::fs::write(&ckpt, serde_json::to_string(&c).unwrap()).unwrap();
        let out = format!("b{i}");
        let args = ["--resume", "a", "--set", "total_steps=2048", "--out", &out];
        let o = npg(d, &args);
        let want =
            format!("`venv.ep_len[0]` is {len}, but `venv.envs[0].elapsed` counts {elapsed}");
        assert_refused(&o, &out, &["a/checkpoint.json", &want], &d.join(&out));
    }
    std::fs::write(&ckpt, serde_json::to_string(&saved).unwrap()).unwrap();
    let o = npg(
        d,
        &["--resume", "a", "--set", "total_steps=2048", "--out", "ok"],
    );
    assert_eq!(code(&o), 0, "the checkpoint as saved resumes: {}", text(&o));
}
