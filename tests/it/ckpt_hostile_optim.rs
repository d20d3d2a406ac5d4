//! Optimizer states that a build of lab never writes: K-FAC inverse slots of another dtype than
//! the f64 they are saved in (they were cast to f64 silently, while the other buffers were
//! dtype-checked), and a header of `format: 0`, older than any format there has been (it was
//! read as the current one). `lab grng --resume` refuses each with exit 2 naming the file and
//! the tensor or the version, and an optimizer.json that is a FIFO (the resume blocked on
//! it); the repaired files still resume.
use crate::ckpt_hostile::{assert_each_refused, map, Edit, J, O};
use crate::common::*;
use crate::spine_hostile::{lab_within, mkfifo};
use tch::Kind;

#[test]
fn grng_resume_refuses_kfac_inverses_of_another_dtype_and_an_unknown_state_format() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let kfac = ["optimizer.kind=kfac", "train.stop_after=2", "assert=null"];
    let o = grng_smoke(d, "kfac", &kfac);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let resume = |out: &str| {
        let args = ["grng", "--quiet", "--resume", "kfac", "--out", out];
        (lab(d, &args), d.join(out))
    };
    let cases: [(&str, Edit, &[&str]); 4] = [
        (
            O,
            Edit::T(|t| map(t, "kfac.a_vecs/fc1.weight", |v| v.to_kind(Kind::Float))),
            &[
                "checkpoint/optimizer.",
                "`kfac.a_vecs/fc1.weight` is Float, the buffer it restores is Double",
            ],
        ),
        (
            O,
            Edit::T(|t| map(t, "kfac.g_vals/fc2.weight", |v| v.to_kind(Kind::Half))),
            &["`kfac.g_vals/fc2.weight` is Half, the buffer it restores is Double"],
        ),
        (
            J,
            Edit::J(|v| v["format"] = 0.into()),
            &[
                J,
                "optimizer state has format 0, this build reads format 1",
                "older than any format lab wrote",
            ],
        ),
        (
            J,
            Edit::J(|v| v["format"] = 7.into()),
            &[J, "optimizer state has format 7", "newer than this build"],
        ),
    ];
    assert_each_refused(&d.join("kfac/checkpoint"), &cases, resume);
    // optimizer.json a FIFO: the resume blocked reading it.
    let js = d.join("kfac/checkpoint").join(J);
    let whole = std::fs::read(&js).unwrap();
    mkfifo(&js);
    let args = ["grng", "--quiet", "--resume", "kfac", "--out", "fifo"];
    let o = lab_within(d, &args);
    let needles = [J, "not a regular file (a FIFO)"];
    assert_refused(&o, "FIFO", &needles, &d.join("fifo"));
    std::fs::remove_file(&js).unwrap();
    std::fs::write(&js, whole).unwrap();
    let (o, _) = resume("whole");
    assert_eq!(code(&o), 0, "the repaired files resume: {}", text(&o));
}

/// The model checkpoint's own `checkpoint.json` (prefixrl's, from `nn::checkpoint`): format 0
/// or a newer one is refused naming the file, as the optimizer header is, and a FIFO in its
/// place is not read (the resume would block on it).
#[test]
fn prefixrl_resume_refuses_an_unknown_checkpoint_format_and_a_fifo() {
    use crate::prefixrl_train::{train, train_output};
    let tmp = tempfile::tempdir().unwrap();
    let first = train(&tmp.path().join("first"), &[], None);
    const C: &str = "checkpoint.json";
    let cases: [(&str, Edit, &[&str]); 2] = [
        (
            C,
            Edit::J(|v| v["format"] = 0.into()),
            &[
                C,
                "checkpoint has format 0, this build reads format 1",
                "older than any",
            ],
        ),
        (
            C,
            Edit::J(|v| v["format"] = 9.into()),
            &[C, "checkpoint has format 9", "newer than this build"],
        ),
    ];
    let resume = |out: &str| {
        let root = tmp.path().join(out);
        let o = train_output(&root, &["rl.steps=3"], Some(&first), None);
        (o, root.join("run"))
    };
    let ckpt = first.join("checkpoints/step-00000002");
    assert_each_refused(&ckpt, &cases, resume);
    let js = ckpt.join(C);
    let whole = std::fs::read(&js).unwrap();
    mkfifo(&js);
    let (o, out) = resume("fifo");
    assert_refused(&o, "FIFO", &[C, "not a regular file (a FIFO)"], &out);
    std::fs::remove_file(&js).unwrap();
    std::fs::write(&js, whole).unwrap();
    let (o, _) = resume("whole");
    assert_eq!(code(&o), 0, "the repaired file resumes: {}", text(&o));
}
