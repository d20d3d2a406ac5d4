//! `lab npg-rank1` under hostile values that passed before: a CG tolerance of 0 (the solve
//! divided 0 by 0 once solved, and the run stopped on a NaN row), a checkpoint.json whose
//! optimiser or normaliser settings, second moments or step counters were edited (taken
//! silently, or run on into a NaN row) or that is a FIFO (the resume blocked forever), and
//! `torch_threads` under the native backend (recorded, not ignored silently).
use crate::common::*;
use crate::spine_hostile::{lab_within, mkfifo};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Output;

/// `lab npg-rank1 --config smoke.yaml ARGS --quiet --threads 1 --out OUT` in `dir`.
fn npg(dir: &Path, out: &str, args: &[&str]) -> Output {
    let smoke = format!(
        "{}/configs/npg-rank1/smoke.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let all = [
        &["npg-rank1", "--config", &smoke],
        args,
        &["--quiet", "--threads", "1", "--out", out],
    ]
    .concat();
    lab(dir, &all)
}

/// The metrics cells of `column`, one per row.
fn column(run: &Path, name: &str) -> Vec<String> {
    let (header, rows) = read_csv(&run.join("metrics.csv"));
    let at = col(&header, name);
    rows.into_iter().map(|r| r[at].clone()).collect()
}

#[test]
fn npg_cg_with_a_zero_residual_tolerance_runs_to_its_end() {
    let tmp = tempfile::tempdir().unwrap();
    for kind in ["npg-cg", "trpo"] {
        let sets = [
            "--set",
            &format!("algo.kind={kind}"),
            "--set",
            "algo.cg_residual_tol=0",
            "--set",
            "algo.cg_iters=100",
        ];
        let o = npg(tmp.path(), kind, &sets);
        assert_eq!(code(&o), 0, "{kind}: {}", text(&o));
        let d_norm = column(&tmp.path().join(kind), "d_norm");
        assert_eq!(d_norm.len(), 8, "{kind}");
        for d in d_norm {
            let d: f64 = d.parse().unwrap();
            assert!(d.is_finite() && d > 0.0, "{kind}: d_norm {d}");
        }
    }
}

#[test]
fn npg_resume_refuses_edited_optimiser_and_normaliser_state() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // SMAC's `adam` step rule keeps an actor Adam; both normalisers on.
    let on = [
        "--set",
        "algo.step_rule.kind=adam",
        "--set",
        "obs_norm.enabled=true",
        "--set",
        "reward_norm.enabled=true",
    ];
    let o = npg(
        d,
        "half",
        &[&on[..], &["--set", "total_steps=2048"]].concat(),
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    let path = d.join("half/checkpoint.json");
    let good = json(&path);
    type Edit = fn(&mut Value);
    let cases: [(&str, Edit, &str); 9] = [
        // Taken over the config's critic.lr (exit 0).
        (
            "critic lr",
            |c| c["critic_adam"]["lr"] = json!(1e6),
            "`critic_adam.lr` is 1000000.0 there, this run's config gives 0.001",
        ),
        (
            "critic beta1",
            |c| c["critic_adam"]["beta1"] = json!(5.0),
            "`critic_adam.beta1` is 5.0 there, this run's config gives 0.9",
        ),
        (
            "actor lr",
            |c| c["actor_optimiser"]["Adam"]["lr"] = json!(1e3),
            "`actor_optimiser.Adam.lr` is 1000.0 there, this run's config gives 0.003",
        ),
        // A negative second moment made the step NaN (exit 1 on a NaN row).
        (
            "second moment",
            |c| c["critic_adam"]["v"][0] = json!(-1.0),
            "`critic_adam.v[0]` is -1.0, but it is an average of squares",
        ),
        // Adam's bias correction raised β to `step as i32`: past 2^31, NaN.
        (
            "step",
            |c| c["critic_adam"]["step"] = json!(u64::MAX),
            "`critic_adam.step` is 18446744073709551615, but 4 iterations of 4 optimiser \
             steps make 16",
        ),
        (
            "actor step",
            |c| c["actor_optimiser"]["Adam"]["step"] = json!(3),
            "`actor_optimiser.Adam.step` is 3, but 4 iterations",
        ),
        (
            "obs clip",
            |c| c["obs_norm"]["clip"] = json!(3.0),
            "`obs_norm.clip` is 3.0 there, this run's config gives 10.0",
        ),
        (
            "reward gamma",
            |c| c["reward_scale"]["gamma"] = json!(0.5),
            "`reward_scale.gamma` is 0.5 there, this run's config gives 0.99",
        ),
        (
            "variance",
            |c| c["obs_norm"]["rms"]["var"][2] = json!(-4.0),
            "`obs_norm.rms.var[2]` is -4.0, but it is an average of squares",
        ),
    ];
    let resume = ["npg-rank1", "--resume", "half", "--set", "total_steps=4096"];
    for (i, (what, edit, needle)) in cases.into_iter().enumerate() {
        let mut bad = good.clone();
        edit(&mut bad);
        std::fs::write(&path, serde_json::to_vec(&bad).unwrap()).unwrap();
        let out = format!("c{i}");
        let o = lab(d, &[&resume[..], &["--quiet", "--out", &out]].concat());
        assert_refused(
            &o,
            what,
            &["does not fit this config", needle],
            &d.join(&out),
        );
    }
    // checkpoint.json a FIFO: the resume blocked reading it.
    mkfifo(&path);
    let o = lab_within(d, &[&resume[..], &["--quiet", "--out", "fifo"]].concat());
    let needles = ["half/checkpoint.json", "not a regular file (a FIFO)"];
    assert_refused(&o, "FIFO", &needles, &d.join("fifo"));
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, serde_json::to_vec(&good).unwrap()).unwrap();
    let o = lab(d, &[&resume[..], &["--quiet", "--out", "whole"]].concat());
    assert_eq!(code(&o), 0, "the repaired checkpoint resumes: {}", text(&o));
}

/// Under `backend: native` libtorch still computes the networks' orthogonal init and ACKTR's
/// Kronecker-factor algebra: `torch_threads` sets its threads for those and meta.json records
/// it (docs/npg-rank1.md, Backends).
#[test]
fn npg_torch_threads_under_the_native_backend_is_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let sets = ["--set", "algo.kind=acktr", "--set", "torch_threads=2"];
    let o = npg(tmp.path(), "r", &sets);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let meta = json(&tmp.path().join("r/meta.json"));
    assert_eq!(meta["torch_threads"], 2, "{meta}");
    assert_eq!(meta["threads"], 1, "{meta}");
}
