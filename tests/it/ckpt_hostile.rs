//! Saved checkpoints that are valid files but do not fit the run that reads them back: tensors
//! of another shape or dtype, missing or extra ones, NaN/±inf values, negative second moments,
//! an optimizer state at another step than its checkpoint or with other settings than the
//! config's (betas, weight decay, K-FAC's t_inv). `lab grng --resume`, `lab prefixrl --resume`
//! and `lab entropy-probe` (task probe) refuse each with exit 2 naming the file and the tensor
//! or key, leaving no output folder. Before, a short `trainer/prev_delta` panicked (exit 101),
//! NaN weights or moments ran on into NaN rows (exit 1, or a run recorded as diverged), and
//! integer tensors, edited hyperparameters and a wrong step counter were taken silently.
use crate::common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;
use tch::{Kind, Tensor};

pub(crate) type Tensors = Vec<(String, Tensor)>;

/// One damage to a checkpoint file: its tensors or its JSON.
#[derive(Clone, Copy)]
pub(crate) enum Edit {
    T(fn(&mut Tensors)),
    J(fn(&mut Value)),
}

/// `edit` applied to `path` in place; returns the file's bytes before.
fn damage(path: &Path, edit: Edit) -> Vec<u8> {
    let whole = std::fs::read(path).unwrap();
    match edit {
        Edit::T(f) => {
            let _g = torch_lock();
            let mut t = Tensor::read_safetensors(path).unwrap();
            f(&mut t);
            Tensor::write_safetensors(&t, path).unwrap();
        }
        Edit::J(f) => {
            let mut v: Value = serde_json::from_slice(&whole).unwrap();
            f(&mut v);
            std::fs::write(path, serde_json::to_vec(&v).unwrap()).unwrap();
        }
    }
    whole
}

/// The tensor `name` of `t` replaced by `f` of it.
pub(crate) fn map(t: &mut Tensors, name: &str, f: impl Fn(&Tensor) -> Tensor) {
    let slot = t.iter_mut().find(|(k, _)| k == name);
    let (_, v) = slot.unwrap_or_else(|| panic!("no tensor `{name}`"));
    *v = f(v);
}

/// A copy of `t` with its first entry set to `value`.
fn poke(t: &Tensor, value: f64) -> Tensor {
    let t = t.copy();
    let _ = t.view([-1]).get(0).fill_(value);
    t
}

/// For each (file under `ckpt`, edit, needles): `resume(out)` (its output and the folder it
/// writes) after the edit must exit 2 with every needle in stderr and no output folder; the
/// file is put back after.
pub(crate) fn assert_each_refused(
    ckpt: &Path,
    cases: &[(&str, Edit, &[&str])],
    resume: impl Fn(&str) -> (Output, PathBuf),
) {
    for (i, (file, edit, needles)) in cases.iter().enumerate() {
        let path = ckpt.join(file);
        let whole = damage(&path, *edit);
        let (o, out) = resume(&format!("refused{i}"));
        assert_refused(&o, &format!("{file} case {i}"), needles, &out);
        std::fs::write(&path, whole).unwrap();
    }
}

const M: &str = "model.safetensors";
pub(crate) const O: &str = "optimizer.safetensors";
pub(crate) const J: &str = "optimizer.json";

#[test]
fn grng_resume_refuses_checkpoint_tensors_and_state_that_do_not_fit() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let o = grng_smoke(d, "adamw", &["train.stop_after=2", "train.diag_every=1"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let resume = |run: &'static str| {
        move |out: &str| {
            let args = ["grng", "--quiet", "--resume", run, "--out", out];
            (lab(d, &args), d.join(out))
        }
    };
    let cases: [(&str, Edit, &[&str]); 13] = [
        // A short Δθ panicked at the first consecutive-update Pearson measure (exit 101).
        (
            M,
            Edit::T(|t| map(t, "trainer/prev_delta", |v| v.narrow(0, 0, 100))),
            &[M, "`trainer/prev_delta` is Double [100]", "Double [8356]"],
        ),
        // A missing one blanked the next measure, unlike the uninterrupted run.
        (
            M,
            Edit::T(|t| t.retain(|(k, _)| k != "trainer/prev_delta")),
            &[M, "lacks `trainer/prev_delta`"],
        ),
        (
            M,
            Edit::T(|t| map(t, "fc1.weight", |v| v.to_kind(Kind::Double))),
            &[M, "`fc1.weight` is Double [32, 256] there, Float"],
        ),
        (
            M,
            Edit::T(|t| {
                t.push((
                    "fc3.weight".into(),
                    Tensor::zeros([4], tch::kind::FLOAT_CPU),
                ))
            }),
            &[M, "holds `fc3.weight`"],
        ),
        (
            M,
            Edit::T(|t| map(t, "fc1.bias", |v| poke(v, f64::NAN))),
            &[M, "`fc1.bias` holds NaN or infinite values"],
        ),
        (
            O,
            Edit::T(|t| map(t, "exp_avg/fc1.weight", |v| v.to_kind(Kind::Int64))),
            &[O, "`exp_avg/fc1.weight` holds Int64 values"],
        ),
        (
            O,
            Edit::T(|t| map(t, "exp_avg/fc2.bias", |v| v.to_kind(Kind::Double))),
            &[
                "checkpoint/optimizer.",
                "`exp_avg/fc2.bias` is Double, the buffer it restores is Float",
            ],
        ),
        (
            O,
            Edit::T(|t| map(t, "exp_avg/fc2.bias", |v| poke(v, f64::INFINITY))),
            &[O, "`exp_avg/fc2.bias` holds NaN or infinite values"],
        ),
        (
            O,
            Edit::T(|t| map(t, "exp_avg_sq/fc1.weight", |v| poke(v, -1.0))),
            &[
                "checkpoint/optimizer.",
                "`exp_avg_sq/fc1.weight` has negative entries",
            ],
        ),
        // A huge step made the bias correction NaN; another one shifted it silently.
        (
            J,
            Edit::J(|v| v["step"] = u64::MAX.into()),
            &[J, "is at step 18446744073709551615, trainer.json at step 2"],
        ),
        // Loading takes betas and weight decay from the file, over the config's.
        (
            J,
            Edit::J(|v| v["hyper"]["betas"][0] = 0.5.into()),
            &[
                J,
                "`hyper.betas[0]` is 0.5 there, this run's config gives 0.9",
            ],
        ),
        (
            J,
            Edit::J(|v| v["groups"][0]["weight_decay"] = 5.0.into()),
            &[J, "group `decay`: `weight_decay` is 5 there"],
        ),
        // Skipped the epoch's batches from the wrong one on: another run, silently.
        (
            "trainer.json",
            Edit::J(|v| v["epoch_start_step"] = 1.into()),
            &[
                "trainer.json is damaged: `epoch_grad` holds 2 values",
                "its counters give 1 steps",
            ],
        ),
    ];
    assert_each_refused(&d.join("adamw/checkpoint"), &cases, resume("adamw"));
    let kfac = ["optimizer.kind=kfac", "train.stop_after=2", "assert=null"];
    assert_eq!(code(&grng_smoke(d, "kfac", &kfac)), 0);
    let cases: [(&str, Edit, &[&str]); 3] = [
        // NaN factors were carried to the end of the run (no refresh before it): exit 0.
        (
            O,
            Edit::T(|t| map(t, "kfac.a/fc1.weight", |v| poke(v, f64::NAN))),
            &[O, "`kfac.a/fc1.weight` holds NaN or infinite values"],
        ),
        (
            J,
            Edit::J(|v| v["hyper"]["damping_boost"] = (-5.0).into()),
            &["`hyper.damping_boost` is -5, it is at least 1"],
        ),
        (
            J,
            Edit::J(|v| v["hyper"]["config"]["t_inv"] = 1.into()),
            &[
                J,
                "`hyper.config.t_inv` is 1 there, this run's config gives 100",
            ],
        ),
    ];
    assert_each_refused(&d.join("kfac/checkpoint"), &cases, resume("kfac"));
    for run in ["adamw", "kfac"] {
        let (o, _) = resume(run)(&format!("{run}-whole"));
        assert_eq!(code(&o), 0, "the repaired {run} files resume: {}", text(&o));
    }
}

#[test]
fn prefixrl_resume_refuses_checkpoint_state_that_does_not_fit() {
    use crate::prefixrl_train::{train, train_output};
    let tmp = tempfile::tempdir().unwrap();
    let first = train(&tmp.path().join("first"), &[], None);
    let cases: [(&str, Edit, &[&str]); 5] = [
        // Ran into a NaN policy-gradient loss (exit 1, a failed run folder).
        (
            M,
            Edit::T(|t| map(t, "ln_f.weight", |v| poke(v, f64::NAN))),
            &[M, "`ln_f.weight` holds NaN or infinite values"],
        ),
        // Taken silently (cast to the moments' dtype).
        (
            O,
            Edit::T(|t| map(t, "exp_avg/ln_f.weight", |v| v.to_kind(Kind::Int64))),
            &[O, "`exp_avg/ln_f.weight` holds Int64 values"],
        ),
        (
            O,
            Edit::T(|t| map(t, "exp_avg_sq/ln_f.weight", |v| poke(v, -1.0))),
            &["`exp_avg_sq/ln_f.weight` has negative entries"],
        ),
        // Taken silently: AdamW's bias correction restarted at step 0.
        (
            J,
            Edit::J(|v| v["step"] = 0.into()),
            &[J, "is at step 0", "checkpoint.json at step 2"],
        ),
        (
            J,
            Edit::J(|v| v["hyper"]["betas"][1] = 0.5.into()),
            &[
                J,
                "`hyper.betas[1]` is 0.5 there, this run's config gives 0.95",
            ],
        ),
    ];
    let resume = |out: &str| {
        let root = tmp.path().join(out);
        let o = train_output(&root, &["rl.steps=3"], Some(&first), None);
        (o, root.join("run"))
    };
    let last = first.join("checkpoints/step-00000002");
    // Finite values of the right names, shapes and dtypes pass every check of the contents:
    // checkpoint.json's SHA-256 of each file names them (before, the run resumed with them).
    let swapped: [(&str, Edit, &[&str]); 2] = [
        (
            M,
            Edit::T(|t| map(t, "ln_f.weight", |v| poke(v, 0.5))),
            &[M, "SHA-256", "swapped with another checkpoint's"],
        ),
        (
            O,
            Edit::T(|t| map(t, "exp_avg/ln_f.weight", |v| poke(v, 0.5))),
            &[O, "SHA-256", "swapped with another checkpoint's"],
        ),
    ];
    assert_each_refused(&last, &swapped, resume);
    // As a checkpoint written before checkpoint.json recorded its files' SHA-256 (which now
    // names any edited file first): the checks of each file's contents stand on their own.
    let meta = last.join("checkpoint.json");
    let mut v: serde_json::Value = serde_json::from_str(&read(&meta)).unwrap();
    assert!(v.as_object_mut().unwrap().remove("files").is_some());
    std::fs::write(&meta, v.to_string()).unwrap();
    assert_each_refused(&last, &cases, resume);
    // metrics.csv without the rows up to the checkpoint: the continued run's rows skipped the
    // missing steps (exit 0).
    let metrics = first.join("metrics.csv");
    let whole = read(&metrics);
    let lines: Vec<&str> = whole.lines().collect();
    assert_eq!(lines.len(), 3, "a header and steps 1, 2: {whole}");
    for (i, (text, needle)) in [
        (
            format!("{}\n{}\n", lines[0], lines[2]),
            "step 2 where step 1 was due",
        ),
        (
            format!("{}\n{}\n", lines[0], lines[1]),
            "its rows end at step 1",
        ),
        (String::new(), "metrics.csv: is missing"),
    ]
    .into_iter()
    .enumerate()
    {
        match text.is_empty() {
            true => std::fs::remove_file(&metrics).unwrap(),
            false => std::fs::write(&metrics, text).unwrap(),
        }
        let (o, out) = resume(&format!("rows{i}"));
        assert_refused(&o, needle, &["inputs.resume", needle], &out);
    }
    std::fs::write(&metrics, whole).unwrap();
    let (o, _) = resume("whole");
    assert_eq!(code(&o), 0, "the repaired files resume: {}", text(&o));
}

#[test]
fn prefixrl_a_base_model_with_nan_weights_is_refused_before_the_run_folder() {
    // The train stage loaded it after making the run folder: exit 1 and a failed run.
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("base-run");
    std::fs::create_dir_all(&base).unwrap();
    copy_dir(crate::prefixrl_train::pipeline(), &base);
    let weights = base.join("base/weights.safetensors");
    damage(
        &weights,
        Edit::T(|t| map(t, "ln_f.weight", |v| poke(v, f64::NAN))),
    );
    let set = format!("inputs.base={}", base.display());
    let root = tmp.path().join("train");
    let o = crate::prefixrl_train::train_output(&root, &[&set], None, None);
    let needles = [
        "inputs.base",
        "weights.safetensors",
        "`ln_f.weight` holds NaN",
    ];
    assert_refused(&o, "NaN base weights", &needles, &root.join("run"));
}

#[test]
fn prefixrl_a_damaged_stage_record_of_an_adopted_run_is_refused() {
    // A summary.json that is not an object dropped the adopted stages' sections silently, a
    // stage CSV of other columns was copied as it was.
    let tmp = tempfile::tempdir().unwrap();
    let inputs = tmp.path().join("inputs");
    std::fs::create_dir_all(&inputs).unwrap();
    let pipeline = crate::prefixrl_train::pipeline();
    copy_dir(pipeline, &inputs);
    let sets: Vec<String> = ["data", "base", "traces", "prefixes"]
        .iter()
        .map(|k| format!("inputs.{k}={}", inputs.display()))
        .chain(["stage=all".to_string()])
        .collect();
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    let summary = inputs.join("summary.json");
    let whole = read(&summary);
    for (i, (file, text, needle)) in [
        ("summary.json", "[1]", "summary.json: not a JSON object"),
        (
            "pretrain.csv",
            "garbage\n",
            "pretrain.csv: its header is not the columns",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        std::fs::write(&summary, &whole).unwrap();
        std::fs::write(inputs.join(file), text).unwrap();
        let root = tmp.path().join(format!("all{i}"));
        let o = crate::prefixrl_train::train_output(&root, &sets, None, None);
        assert_refused(&o, file, &[needle], &root.join("run"));
    }
}

/// Copy the files of `from` into `to`, recursively.
pub(crate) fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let dest = to.join(path.file_name().unwrap());
        if path.is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
            copy_dir(&path, &dest);
        } else {
            std::fs::copy(&path, &dest).unwrap();
        }
    }
}

#[test]
fn entropy_probe_refuses_non_finite_weights_naming_the_parameter() {
    // The probe ran on into NaN metrics (exit 1, a failed run folder).
    let tmp = tempfile::tempdir().unwrap();
    let run = crate::entropy_train::run_single(tmp.path(), &[], "gpt");
    let edit = Edit::T(|t| map(t, "ln_f.weight", |v| poke(v, f64::INFINITY)));
    damage(&run.join(M), edit);
    let path = format!("checkpoint.path={}", run.display());
    let o = crate::entropy_train::lab_single(tmp.path(), &["task=probe", &path], Some("probed"));
    let needles = [
        M,
        "`ln_f.weight` holds NaN or infinite values",
        "config.yaml",
    ];
    assert_refused(&o, "inf weights", &needles, &tmp.path().join("probed"));
}
