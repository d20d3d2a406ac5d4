//! `lab grng --resume` on a trainer.json whose epoch counters, data RNG or per-step values
//! were edited consistently enough to pass the older checks (the counters against each other
//! and `epoch_grad`'s length against them): each would make the continued run differ from an
//! uninterrupted one, so each is refused (exit 2, no output folder) naming the file and the
//! key. Before, every case here resumed (exit 0): an edited `epoch_rng` drew other batches, an
//! `epoch_start_step` moved together with `epoch_grad` skipped other batches of the epoch,
//! edited per-step values skewed the epoch averages, and an edited running summary (best or
//! final accuracy, the step the target was reached, `diverged`) went into summary.csv. Also a
//! `train.stop_after` that could never stop the run (at or past its end, or at or before the
//! resumed checkpoint's step).
use crate::ckpt_hostile::{assert_each_refused, copy_dir, Edit};
use crate::common::*;

const T: &str = "trainer.json";

#[test]
fn grng_resume_refuses_edited_epoch_counters_rng_and_per_step_values() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // shapes-smoke: 16 steps per epoch, so step 20 is in epoch 2, after one evaluation.
    let o = grng_smoke(d, "stopped", &["train.stop_after=20", "train.diag_every=1"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let saved = json(&d.join("stopped/checkpoint/trainer.json"));
    assert_eq!(
        (saved["epoch"].as_u64(), saved["epoch_start_step"].as_u64()),
        (Some(2), Some(16))
    );
    let resume = |out: &str| {
        let args = ["grng", "--quiet", "--resume", "stopped", "--out", out];
        (lab(d, &args), d.join(out))
    };
    let cases: [(&str, Edit, &[&str]); 8] = [
        (
            T,
            Edit::J(|v| v["epoch_rng"]["word_pos"] = "0".into()),
            &[
                T,
                "`epoch_rng` is not the data RNG this run's seed 0 gives at the start of epoch 2",
            ],
        ),
        (
            T,
            Edit::J(|v| v["epoch_rng"]["stream"] = 1.into()),
            &[T, "`epoch_rng` is not the data RNG"],
        ),
        (
            T,
            Edit::J(|v| v["epoch_rng"]["seed"][0] = 7.into()),
            &[T, "`epoch_rng` is not the data RNG"],
        ),
        // Consistent with the older checks: one step later, one value fewer.
        (
            T,
            Edit::J(|v| {
                v["epoch_start_step"] = 17.into();
                for key in ["epoch_grad", "epoch_pug", "epoch_pc"] {
                    v[key].as_array_mut().unwrap().remove(0);
                }
            }),
            &[
                T,
                "`epoch_start_step` is 17, but epoch 2 of this run starts after step 16",
            ],
        ),
        (
            T,
            Edit::J(|v| v["epoch_grad"][0] = 123.5.into()),
            &[
                T,
                "`epoch_grad[0]` is 123.5, steps.csv's `grad_norm` at step 17 is",
            ],
        ),
        (
            T,
            Edit::J(|v| v["epoch_pug"][1] = 0.25.into()),
            &[
                T,
                "`epoch_pug[1]` is 0.25, steps.csv's `pearson_update_grad` at step 18",
            ],
        ),
        (
            T,
            Edit::J(|v| {
                v["epoch_pc"]
                    .as_array_mut()
                    .unwrap()
                    .pop()
                    .map(drop)
                    .unwrap()
            }),
            &[
                T,
                "`epoch_pc` holds 3 values, steps.csv logged 4 `pearson_consecutive` cells",
            ],
        ),
        (
            T,
            Edit::J(|v| v["run_diag"]["grad"]["sum"] = 1.0.into()),
            &[T, "`run_diag` sums 1 over 16 steps for `grad_norm`"],
        ),
    ];
    assert_each_refused(&d.join("stopped/checkpoint"), &cases, resume);
    // The running summary is carried into summary.csv/json: each field must be what the
    // stopped run's metrics.csv (one evaluation, epoch 1) and this run give.
    let summary: [(&str, Edit, &[&str]); 5] = [
        (
            T,
            Edit::J(|v| v["summary"]["best_test_acc"] = 0.999.into()),
            &[T, "`summary.best_test_acc` is 0.999, this run gives 0."],
        ),
        (
            T,
            Edit::J(|v| v["summary"]["steps_to_target"] = 3.into()),
            &[T, "`summary.steps_to_target` is 3, this run gives null"],
        ),
        (
            T,
            Edit::J(|v| v["summary"]["diverged"] = true.into()),
            &[T, "`summary.diverged` is true"],
        ),
        (
            T,
            Edit::J(|v| v["summary"]["target"] = 0.5.into()),
            &[T, "`summary.target` is 0.5, this run gives"],
        ),
        (
            T,
            Edit::J(|v| v["summary"]["model"] = "cnn".into()),
            &[T, "`summary.model` is `cnn`, this run gives `mlp`"],
        ),
    ];
    assert_each_refused(&d.join("stopped/checkpoint"), &summary, resume);
    let (o, whole) = resume("whole");
    assert_eq!(code(&o), 0, "the repaired checkpoint resumes: {}", text(&o));
    // A checkpoint from before `run_diag` existed: the resume sums it from steps.csv, so the
    // run-level means are the whole run's (before, those of the epochs after the resume).
    let old = d.join("old");
    std::fs::create_dir(&old).unwrap();
    copy_dir(&d.join("stopped"), &old);
    let trainer = old.join("checkpoint").join(T);
    let mut v = json(&trainer);
    v.as_object_mut().unwrap().remove("run_diag").unwrap();
    std::fs::write(&trainer, v.to_string()).unwrap();
    let o = lab(
        d,
        &["grng", "--quiet", "--resume", "old", "--out", "from_old"],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    let (a, b) = (
        json(&whole.join("summary.json")),
        json(&d.join("from_old/summary.json")),
    );
    for key in [
        "avg_grad_norm",
        "avg_pearson_update_grad",
        "avg_pearson_consecutive",
    ] {
        assert!(a[key].is_f64(), "{key}: {a}");
        assert_eq!(a[key], b[key], "{key}");
    }
}

#[test]
fn grng_resume_refuses_an_edited_rng_of_an_lm_period() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let lm = [
        "task=charlm-grammar",
        "train.steps=12",
        "train.eval_every=5",
        "train.batch=4",
        "train.probe_size=8",
        "data.grammar_len=20000",
        "data.seq_len=16",
        "data.eval_tokens=256",
        "torch_threads=1",
    ];
    let stop: Vec<&str> = lm.iter().copied().chain(["train.stop_after=7"]).collect();
    let o = grng(d, "stopped", &stop);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let resume = |out: &str| {
        let args = ["grng", "--quiet", "--resume", "stopped", "--out", out];
        (lab(d, &args), d.join(out))
    };
    // Periods of 5 steps: step 7 is in the second, which starts after step 5.
    let cases: [(&str, Edit, &[&str]); 2] = [
        (
            T,
            Edit::J(|v| v["epoch_rng"]["word_pos"] = "71".into()),
            &[
                T,
                "`epoch_rng` is not the data RNG this run's seed 0 gives at the start of epoch 2",
            ],
        ),
        (
            T,
            Edit::J(|v| {
                v["epoch_start_step"] = 6.into();
                v["epoch_grad"].as_array_mut().unwrap().remove(0);
            }),
            &[
                T,
                "`epoch_start_step` is 6, but epoch 2 of this run starts after step 5",
            ],
        ),
    ];
    assert_each_refused(&d.join("stopped/checkpoint"), &cases, resume);
    let (o, out) = resume("whole");
    assert_eq!(code(&o), 0, "the repaired checkpoint resumes: {}", text(&o));
    let full: Vec<&str> = lm.to_vec();
    assert_eq!(code(&grng(d, "full", &full)), 0);
    for f in ["steps.csv", "epochs.csv"] {
        assert_eq!(
            untimed_csv(&out.join(f)),
            untimed_csv(&d.join("full").join(f)),
            "{f}"
        );
    }
}

/// A CSV without its timing columns (`lab::run::is_timing_column`), header first.
fn untimed_csv(p: &std::path::Path) -> Vec<Vec<String>> {
    csv_keep(p, |h| !lab::run::is_timing_column(h))
}

/// `train.stop_after` at or past the run's last step, or (resuming) at or before the checkpoint's
/// step and not the resumed run's own, would never stop the run: refused naming the key and the step, nothing written. Before,
/// the first ran to the end as if the key were absent.
#[test]
fn grng_a_stop_after_that_could_never_stop_the_run_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    for (out, stop) in [
        ("past", "train.stop_after=31"),
        ("last", "train.stop_after=30"),
    ] {
        let o = grng_smoke(d, out, &[stop]);
        assert_eq!(code(&o), 2, "{}", text(&o));
        let err = stderr(&o);
        assert!(
            err.contains("train.stop_after") && err.contains("last step 30"),
            "{err}"
        );
        assert!(!d.join(out).exists(), "{out}: nothing written");
    }
    let o = grng_smoke(d, "stopped", &["train.stop_after=10"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let arg = d.join("stopped");
    let args = [
        "grng",
        "--quiet",
        "--resume",
        arg.to_str().unwrap(),
        "--out",
        "r",
    ];
    let o = lab(d, &[&args[..], &["--set", "train.stop_after=5"]].concat());
    assert_eq!(code(&o), 2, "{}", text(&o));
    let err = stderr(&o);
    assert!(
        err.contains("train.stop_after: 5") && err.contains("checkpoint's step 10"),
        "{err}"
    );
    assert!(!d.join("r").exists(), "nothing written");
    // The resumed run's own stop (10, in its config.yaml) is the one that ended it.
    let o = lab(
        d,
        &[
            "grng",
            "--quiet",
            "--resume",
            arg.to_str().unwrap(),
            "--out",
            "r2",
        ],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    let o = lab(d, &[&args[..], &["--set", "train.stop_after=20"]].concat());
    assert_eq!(
        code(&o),
        0,
        "a stop after the checkpoint still works: {}",
        text(&o)
    );
}
