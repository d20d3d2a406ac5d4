//! `lab prefixrl` stages (spec §2.2, §2.3, §7.4, §7.5) beyond the shared pipeline of
//! `prefixrl_stages`: determinism for a seed (and another seed's other problems), user traces
//! kept and errors naming a bad traces line, an external task refusing gen-data but running
//! on the user's own problem files, and `stage: all` adopting earlier runs or continuing one.
use super::prefixrl_stages::{ok_stage, pipeline, set, stage, stage_with};
use crate::common::*;
use lab::prefixrl::jsonl;
use lab::prefixrl::stages::load::{self, Split};
use std::path::Path;

#[test]
fn same_seed_same_files_and_another_seed_other_problems() {
    let p = pipeline();
    let r = &p.root;
    let again = ok_stage(r, "gd2", &["stage=gen-data".into()]);
    let files = [
        "problems.jsonl",
        "pretrain.jsonl",
        "heldout.jsonl",
        "ood.jsonl",
        "easy.jsonl",
    ];
    for f in files {
        assert_eq!(read(&again.join(f)), read(&p.data.join(f)), "{f}");
    }
    let other = ok_stage(r, "gd3", &["stage=gen-data".into(), "seed=7".into()]);
    assert_ne!(
        read(&other.join("problems.jsonl")),
        read(&p.data.join("problems.jsonl"))
    );
    let co = ok_stage(
        r,
        "co2",
        &[
            "stage=collect".into(),
            set("inputs.data", &p.data),
            set("inputs.base", &p.base),
        ],
    );
    assert_eq!(
        read(&co.join("traces.jsonl")),
        read(&p.traces.join("traces.jsonl"))
    );
    assert_eq!(
        read(&co.join("collect.csv")),
        read(&p.traces.join("collect.csv"))
    );
    let mp = ok_stage(
        r,
        "mp2",
        &["stage=make-prefixes".into(), set("inputs.traces", &co)],
    );
    assert_eq!(
        read(&mp.join("prefixes.jsonl")),
        read(&p.prefixes.join("prefixes.jsonl"))
    );
}

#[test]
fn user_traces_are_kept_and_a_bad_line_is_named() {
    let p = pipeline();
    let r = &p.root;
    let pool = load::read_split(&p.data, Split::Pool).unwrap();
    let line = |id: &str, trace: &str| {
        let t = serde_json::json!({"problem_id": id, "trace": trace, "source": "mine",
            "attempts": 3, "gen_tokens": 40, "flops": 1e6, "reward": 1.0});
        t.to_string()
    };
    let good = [
        line(&pool[1].id, pool[1].oracle.as_deref().unwrap()),
        line(&pool[0].id, pool[0].oracle.as_deref().unwrap()),
    ];
    let file = r.join("mine.jsonl");
    std::fs::write(&file, good.join("\n") + "\n").unwrap();
    let sets = |out_file: &Path| {
        vec![
            "stage=collect".to_string(),
            set("inputs.data", &p.data),
            format!("traces.source=jsonl:{}", out_file.display()),
            "traces.allow_oracle_fallback=false".into(),
        ]
    };
    let co = ok_stage(r, "co-user", &sets(&file));
    let kept = jsonl::read_traces(&co.join("traces.jsonl")).unwrap();
    let ids: Vec<&str> = kept.iter().map(|t| t.problem_id.as_str()).collect();
    assert_eq!(
        ids,
        [pool[0].id.as_str(), pool[1].id.as_str()],
        "pool order"
    );
    assert!(kept.iter().all(|t| t.source == "mine" && t.flops == 1e6));
    assert_eq!(
        json(&co.join("summary.json"))["collect"]["probe_filter"],
        "skipped: no base model"
    );
    // A problem that is not in the pool, on line 2.
    let bad = r.join("bad.jsonl");
    std::fs::write(
        &bad,
        format!("{}\n{}\n", good[0], line("nowhere-1", "1+2=3;")),
    )
    .unwrap();
    let (rc, err) = stage(r, "co-bad", &sets(&bad));
    assert_eq!(rc, 2, "{err}");
    assert!(
        err.contains(&format!("{}:2", bad.display())) && err.contains("nowhere-1"),
        "{err}"
    );
    // A wrong trace of a pool problem, on line 1.
    std::fs::write(&bad, line(&pool[0].id, "1+2=3;") + "\n").unwrap();
    let (rc, err) = stage(r, "co-bad", &sets(&bad));
    assert_eq!(rc, 2, "{err}");
    assert!(
        err.contains(&format!("{}:1", bad.display())) && err.contains("checker"),
        "{err}"
    );
}

#[test]
fn an_external_task_cannot_generate_data() {
    let root = tempfile::tempdir().unwrap();
    let (rc, err) = stage(
        root.path(),
        "x",
        &[
            "stage=gen-data".into(),
            "task.kind=external".into(),
            "task.command=[cat]".into(),
        ],
    );
    assert_eq!(rc, 2, "{err}");
    assert!(
        err.contains("does not generate problems") && err.contains("exact-answer"),
        "{err}"
    );
}

/// The checker of the external-task test: every reply is `{"reward": R}`.
fn checker(reward: u32) -> String {
    format!(
        r#"task.command=["sh", "-c", "while read -r l; do echo '{{\"reward\": {reward}}}'; done"]"#
    )
}

/// Task kind `external` (§8) runs on a directory of the user's own problem files (no
/// meta.json) named by `inputs.data`: pretrain on its pretrain.jsonl, then collect oracle
/// traces scored by the user's checker process (a checker that says 0 refuses them).
#[test]
fn an_external_task_runs_on_your_own_problem_files() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let mine = r.join("mine");
    std::fs::create_dir_all(&mine).unwrap();
    let lines = |prefix: &str, n: u32| -> String {
        (0..n)
            .map(|i| {
                let (a, b) = (i % 7 + 1, i % 5 + 2);
                serde_json::json!({"id": format!("{prefix}{i}"), "task": "external",
                    "difficulty": 1, "prompt": format!("{a}+{b}="), "oracle": (a + b).to_string()})
                .to_string()
                    + "\n"
            })
            .collect()
    };
    std::fs::write(mine.join("problems.jsonl"), lines("p", 4)).unwrap();
    std::fs::write(mine.join("pretrain.jsonl"), lines("t", 20)).unwrap();
    let sets = |stage: &str, reward: u32| {
        vec![
            format!("stage={stage}"),
            "task.kind=external".into(),
            checker(reward),
            set("inputs.data", &mine),
        ]
    };
    let pt = ok_stage(r, "pt", &sets("pretrain", 1));
    assert!(pt.join("base").join("model.yaml").is_file());
    let mut co = sets("collect", 1);
    co.push("traces.source=oracle".into());
    let co = ok_stage(r, "co", &co);
    let traces = jsonl::read_traces(&co.join("traces.jsonl")).unwrap();
    let ids: Vec<&str> = traces.iter().map(|t| t.problem_id.as_str()).collect();
    assert_eq!(ids, ["p0", "p1", "p2", "p3"]);
    let mut zero = sets("collect", 0);
    zero.push("traces.source=oracle".into());
    let (rc, err) = stage(r, "co0", &zero);
    assert_eq!(rc, 2, "{err}");
    assert!(err.contains("fails the checker"), "{err}");
    // A directory with neither meta.json nor problems.jsonl is named as neither.
    let empty = r.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let mut bad = sets("pretrain", 1);
    bad[3] = set("inputs.data", &empty);
    let (rc, err) = stage(r, "pt0", &bad);
    assert_eq!(rc, 2, "{err}");
    assert!(
        err.contains("inputs.data") && err.contains("problems.jsonl"),
        "{err}"
    );
}

/// `all` adopts the data and base runs (skipping gen-data and pretrain), runs calibrate,
/// collect and make-prefixes in its own directory, then trains and evaluates there.
#[test]
fn stage_all_adopts_earlier_runs_and_runs_the_rest() {
    let p = pipeline();
    let sets = [
        "stage=all".into(),
        set("inputs.data", &p.data),
        set("inputs.base", &p.base),
    ];
    let (rc, err) = stage_with(&p.root, "all", &sets, false);
    assert_eq!(rc, 0, "{err}");
    for said in [
        "skipping gen-data",
        "skipping pretrain",
        "calibrate:",
        "collect: pool 12",
        "make-prefixes: 24 prefixes",
    ] {
        assert!(err.contains(said), "{said}: {err}");
    }
    for file in ["traces.jsonl", "prefixes.jsonl", "metrics.csv", "eval.csv"] {
        assert!(p.root.join("all").join(file).is_file(), "{file}");
    }
}

/// Copy run directory `from` to `to` but for the `left_out` names (the lock is never copied).
pub fn copy_run(from: &Path, to: &Path, left_out: &[&str]) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if left_out.contains(&name.as_str()) || name == "run.lock" {
            continue;
        }
        if entry.path().is_dir() {
            copy_run(&entry.path(), &to.join(&name), &[]);
        } else {
            std::fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}

/// A `stage: all` run stopped before make-prefixes (what such a run leaves: the earlier
/// stages' files and summary sections, status `interrupted`) is continued by `--resume`: the
/// finished stages are not run again, their CSVs and summary sections are kept, and training
/// gives the rows of the uninterrupted run.
#[test]
fn stage_all_resumed_before_train_keeps_the_earlier_stages_and_trains() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let full = ok_stage(r, "full", &["stage=all".into()]);
    let summary = json(&full.join("summary.json"));
    for section in [
        "gen_data",
        "pretrain",
        "calibrate",
        "collect",
        "make_prefixes",
    ] {
        assert!(summary[section].is_object(), "{section}: {summary}");
    }
    let stopped = r.join("stopped");
    let later = [
        "prefixes.jsonl",
        "metrics.csv",
        "eval.csv",
        "checkpoints",
        "rollouts.jsonl",
    ];
    copy_run(&full, &stopped, &later);
    let mut kept = summary.clone();
    for key in summary.as_object().unwrap().keys() {
        if !["gen_data", "pretrain", "calibrate", "collect"].contains(&key.as_str()) {
            kept.as_object_mut().unwrap().remove(key);
        }
    }
    std::fs::write(stopped.join("summary.json"), kept.to_string()).unwrap();
    let mut meta = json(&stopped.join("meta.json"));
    meta["status"] = "interrupted".into();
    std::fs::write(stopped.join("meta.json"), meta.to_string()).unwrap();

    let o = lab(r, &["prefixrl", "--out", "resumed", "--resume", "stopped"]);
    let err = stderr(&o);
    assert_eq!(code(&o), 0, "{err}");
    for skipped in ["gen-data", "pretrain", "calibrate", "collect"] {
        assert!(
            err.contains(&format!("skipping {skipped}")),
            "{skipped}: {err}"
        );
    }
    assert!(!err.contains("skipping make-prefixes"), "{err}");
    let resumed = r.join("resumed");
    for file in [
        "pretrain.csv",
        "collect.csv",
        "calibration.csv",
        "prefixes.jsonl",
    ] {
        assert_eq!(read(&resumed.join(file)), read(&full.join(file)), "{file}");
    }
    let again = json(&resumed.join("summary.json"));
    for section in ["gen_data", "pretrain", "calibrate", "collect"] {
        assert_eq!(again[section], summary[section], "{section}");
    }
    assert!(
        again["make_prefixes"].is_object() && again["method"].is_string(),
        "{again}"
    );
    let drop = ["run", "wall_s"];
    assert_eq!(
        csv_without(&resumed.join("metrics.csv"), &drop),
        csv_without(&full.join("metrics.csv"), &drop),
        "the rows of the uninterrupted run"
    );
}
