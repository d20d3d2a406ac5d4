//! Slurm settings that are wrong stop before anything is submitted: exit 2 naming the key
//! (no cluster needed).
use super::study_slurm::slurm_study;
use crate::common::*;
use std::process::Command;

#[test]
fn slurm_mistakes_exit_2_naming_the_key() {
    // No cluster needed: these stop before anything is submitted.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cases: [(String, &[&str], &str); 4] = [
        (
            slurm_study("a", "{matrix.n: [8]}", "[0]", ", partiton: x"),
            &[],
            "unknown field `partiton`",
        ),
        (
            slurm_study("b", "{matrix.n: [8]}", "[0]", ", time: 1h"),
            &[],
            "`study.slurm.time`",
        ),
        (
            slurm_study("c", "{matrix.n: [8]}", "[0]", ""),
            &["--executor", "slurm", "--jobs", "2"],
            "array_throttle",
        ),
        ("seed: 1\n".into(), &["--executor", "slurm"], "for studies"),
    ];
    for (i, (yaml, extra, message)) in cases.iter().enumerate() {
        let file = format!("case{i}.yaml");
        std::fs::write(dir.join(&file), yaml).unwrap();
        let out = lab(
            dir,
            &[&["decompose", "--config", file.as_str()][..], extra].concat(),
        );
        assert_eq!(out.status.code(), Some(2), "case {i}: {}", text(&out));
        assert!(
            text(&out).contains(message),
            "case {i}: want {message}\n{}",
            text(&out)
        );
    }
    std::fs::create_dir(dir.join("empty")).unwrap();
    let no_slurm = Command::new(LAB)
        .args(["decompose", "--config", "case2.yaml", "--executor", "slurm"])
        .current_dir(dir)
        .env("PATH", dir.join("empty"))
        .output()
        .unwrap();
    assert_eq!(no_slurm.status.code(), Some(2), "{}", text(&no_slurm));
    assert!(
        text(&no_slurm).contains("cannot run sbatch"),
        "{}",
        text(&no_slurm)
    );
    assert!(!dir.join("results/decompose/c").exists(), "nothing written");
    let not_a_study = lab(dir, &["status", "."]);
    assert_eq!(not_a_study.status.code(), Some(2), "{}", text(&not_a_study));
    assert!(text(&not_a_study).contains("not a study directory"));
    let missing = lab(dir, &["status", "no-such-study"]);
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing));
    assert!(
        text(&missing).contains("no-such-study: no such directory"),
        "{}",
        text(&missing)
    );
}
