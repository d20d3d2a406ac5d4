//! `lab npg-rank1 --resume` for every algorithm (each keeps its own optimiser or curvature
//! state in the checkpoint), continuing a finished run past its end (its off-schedule final
//! evaluation is not carried over), and checkpoints damaged by hand: an array of the wrong length or
//! counters no run can have are refused naming the part (they made the run panic on an index,
//! exit 101, or end at once and call itself completed).
use crate::common::*;
use std::path::Path;

const SMOKE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/configs/npg-rank1/smoke.yaml");

/// `lab npg-rank1 --config SMOKE ARGS --out OUT` in `dir` (1 thread, quiet).
fn npg(dir: &Path, out: &str, args: &[&str]) -> std::process::Output {
    let base = ["npg-rank1", "--config", SMOKE, "--quiet", "--threads", "1"];
    lab(dir, &[&base[..], args, &["--out", out]].concat())
}

#[test]
fn every_algorithm_resumes_to_the_rows_of_an_uninterrupted_run() {
    let tmp = tempfile::tempdir().unwrap();
    let kinds = [
        vec!["algo.kind=pg"],
        vec!["algo.kind=a2c"],
        vec!["algo.kind=npg-cg"],
        vec!["algo.kind=trpo"],
        // An annealed learning rate follows the total the first part was given.
        vec![
            "algo.kind=ppo",
            "algo.anneal_lr=false",
            "obs_norm.enabled=true",
            "reward_norm.enabled=true",
        ],
        vec!["algo.kind=acktr"],
        vec!["algo.step_rule.kind=adam"],
        vec!["env.id=Pendulum-v1"],
        vec!["eval.mode=sample"],
    ];
    for (i, sets) in kinds.iter().enumerate() {
        let mut args: Vec<&str> = sets.iter().flat_map(|s| ["--set", *s]).collect();
        let (full, half, cont) = (format!("f{i}"), format!("h{i}"), format!("c{i}"));
        let o = npg(
            tmp.path(),
            &full,
            &[&args[..], &["--set", "total_steps=2048"]].concat(),
        );
        assert!(o.status.success(), "{sets:?}: {}", text(&o));
        // The first part ends at iteration 2, off the evaluation schedule (smoke: every 4
        // iterations of 512 steps): its evaluation there is not carried over.
        args.extend(["--set", "total_steps=1024"]);
        let o = npg(tmp.path(), &half, &args);
        assert!(o.status.success(), "{sets:?}: {}", text(&o));
        let resume = ["--resume", &half, "--set", "total_steps=2048", "--quiet"];
        let o = lab(
            tmp.path(),
            &[&["npg-rank1"], &resume[..], &["--out", &cont]].concat(),
        );
        assert!(o.status.success(), "{sets:?} resumed: {}", text(&o));
        let (a, c) = (
            untimed(&tmp.path().join(&full)),
            untimed(&tmp.path().join(&cont)),
        );
        assert_eq!(a.len(), 1 + 4, "{sets:?}: header and 4 rows");
        assert_eq!(a, c, "{sets:?}: the resumed run's rows");
        let first = tmp.path().join(&half).join("metrics.csv");
        let evals = csv_keep(&first, |c| c == "eval_return_mean"); // header, iterations 1, 2
        assert_eq!(evals.len(), 3, "{sets:?}");
        assert_ne!(
            evals[2],
            [""],
            "{sets:?}: the first part evaluated at its end"
        );
        let summary = |d: &str| json(&tmp.path().join(d).join("summary.json"));
        for key in [
            "final_eval_mean",
            "best_eval_mean",
            "eval_auc",
            "final_ma100",
        ] {
            assert_eq!(summary(&full)[key], summary(&cont)[key], "{sets:?}: {key}");
        }
    }
}

#[test]
fn a_damaged_checkpoint_is_refused_naming_the_part() {
    let tmp = tempfile::tempdir().unwrap();
    let o = npg(tmp.path(), "half", &["--set", "total_steps=1024"]);
    assert!(o.status.success(), "{}", text(&o));
    let path = tmp.path().join("half/checkpoint.json");
    let good = json(&path);
    type Edit = fn(&mut serde_json::Value);
    let cases: [(&str, Edit, &str); 5] = [
        (
            "moments",
            |c| c["critic_adam"]["m"] = serde_json::json!([]),
            "critic_adam.m holds 0 values",
        ),
        (
            "episode lengths",
            |c| c["venv"]["ep_len"] = serde_json::json!([1]),
            "venv.ep_len holds 1 values, this run has 4",
        ),
        (
            "normaliser",
            |c| c["obs_norm"] = serde_json::json!({"rms": {"mean": [0.0], "var": [1.0], "count": 1.0}, "clip": 10.0, "epsilon": 1e-8}),
            "obs_norm is present, this run has none",
        ),
        (
            "env steps",
            |c| c["tracker"]["env_steps"] = serde_json::json!(1u64 << 60),
            "tracker.env_steps is 1152921504606846976, but 2 iterations of 512 env steps make 1024",
        ),
        (
            "window",
            |c| c["tracker"]["window"] = serde_json::json!(vec![0.0; 101]),
            "101 returns in the 100-episode window",
        ),
    ];
    for (what, edit, needle) in cases {
        let mut bad = good.clone();
        edit(&mut bad);
        std::fs::write(&path, serde_json::to_vec(&bad).unwrap()).unwrap();
        let out = tmp.path().join("cont");
        let args = [
            "npg-rank1",
            "--resume",
            "half",
            "--set",
            "total_steps=2048",
            "--quiet",
        ];
        let o = lab(tmp.path(), &[&args[..], &["--out", "cont"]].concat());
        assert_refused(&o, what, &["does not fit this config", needle], &out);
    }
}
