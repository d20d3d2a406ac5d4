//! Bad input data is a usage error (exit 2) that leaves nothing written: no run directory, and
//! an old run that `--force` would have replaced stays where and as it was.
use crate::common::{code, json, lab, stderr, stdout};
use std::fs;
use std::path::Path;
use std::time::Duration;

/// A `.npy` whose header declares `shape` (as numpy writes it, e.g. `(2, 2)`) of `descr`
/// values, followed by `data` as given (which may hold more or less than the header says).
pub fn raw_npy(path: &Path, descr: &str, shape: &str, data: &[u8]) {
    let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while !(10 + h.len() + 1).is_multiple_of(64) {
        h.push(' ');
    }
    h.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((h.len() as u16).to_le_bytes());
    bytes.extend(h.as_bytes());
    bytes.extend(data);
    fs::write(path, bytes).unwrap();
}

/// A float `.npy` of `descr` ('<f8', '<f4', '<i8') holding `values` row-major in `shape`.
pub fn npy(path: &Path, descr: &str, shape: (usize, usize), values: &[f64]) {
    let mut data = Vec::new();
    for v in values {
        match descr {
            "<f4" => data.extend((*v as f32).to_le_bytes()),
            "<i8" => data.extend((*v as i64).to_le_bytes()),
            _ => data.extend(v.to_le_bytes()),
        }
    }
    raw_npy(path, descr, &format!("({}, {})", shape.0, shape.1), &data);
}

fn decompose_file(dir: &Path, file: &str, extra: &[&str]) -> std::process::Output {
    let set = format!("matrix.path={file}");
    let mut args = vec![
        "decompose",
        "--quiet",
        "--out",
        "run",
        "--set",
        "matrix.kind=file",
        "--set",
        &set,
        "--set",
        "subspace.kind=offdiag",
    ];
    args.extend_from_slice(extra);
    lab(dir, &args)
}

#[test]
fn bad_matrix_files_exit_2_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    npy(&d.join("neg.npy"), "<f8", (2, 2), &[-1.0, 0.0, 0.0, 1.0]);
    npy(
        &d.join("nan.npy"),
        "<f8",
        (2, 2),
        &[1.0, f64::NAN, f64::NAN, 1.0],
    );
    npy(&d.join("f4.npy"), "<f4", (2, 2), &[2.0, 0.0, 0.0, 2.0]);
    npy(&d.join("i8.npy"), "<i8", (2, 2), &[2.0, 0.0, 0.0, 2.0]);
    npy(&d.join("rect.npy"), "<f8", (2, 3), &[1.0; 6]);
    for file in ["neg.npy", "nan.npy", "f4.npy", "i8.npy", "rect.npy"] {
        let out = decompose_file(d, file, &[]);
        assert_eq!(code(&out), 2, "{file}: {}", stderr(&out));
        if file.starts_with('f') || file.starts_with('i') {
            // Another dtype is named with the line that converts it (it said only "not a 2-D
            // float64 .npy file").
            assert!(
                stderr(&out).contains("dtype=np.float64"),
                "{}",
                stderr(&out)
            );
        }
        assert!(!d.join("run").exists(), "{file} left a run directory");
        assert!(!d.join("results").exists(), "{file} left results/");
    }
    // A good file runs, so the failures above are about the data.
    npy(&d.join("ok.npy"), "<f8", (2, 2), &[2.0, 0.5, 0.5, 2.0]);
    let out = decompose_file(d, "ok.npy", &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json(&d.join("run/meta.json"))["status"], "completed");
}

#[test]
fn a_bad_input_under_force_leaves_the_old_run_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    npy(&d.join("ok.npy"), "<f8", (2, 2), &[2.0, 0.5, 0.5, 2.0]);
    npy(&d.join("neg.npy"), "<f8", (2, 2), &[-1.0, 0.0, 0.0, 1.0]);
    assert_eq!(code(&decompose_file(d, "ok.npy", &[])), 0);
    fs::write(d.join("run/notes.txt"), "mine").unwrap();
    let out = decompose_file(d, "neg.npy", &["--force"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert_eq!(json(&d.join("run/meta.json"))["status"], "completed");
    assert_eq!(fs::read_to_string(d.join("run/notes.txt")).unwrap(), "mine");
    let names: Vec<String> = fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("replaced"))
        .collect();
    assert!(names.is_empty(), "an old run was left aside: {names:?}");
}

#[test]
fn resuming_a_run_without_a_checkpoint_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let printed = lab(
        d,
        &["npg-rank1", "--print-config", "--set", "total_steps=64"],
    );
    assert_eq!(code(&printed), 0, "{}", stderr(&printed));
    fs::create_dir(d.join("old")).unwrap();
    fs::write(d.join("old/config.yaml"), stdout(&printed)).unwrap();
    let out = lab(
        d,
        &[
            "npg-rank1",
            "--quiet",
            "--device",
            "cpu",
            "--resume",
            "old",
            "--out",
            "new",
        ],
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("resume_from"), "{}", stderr(&out));
    assert!(
        !d.join("new").exists(),
        "a bad --resume target left a run directory"
    );
}

/// A device never ends a read (/dev/zero fills memory): a named input that is a device is an
/// exit-2 error naming it, before any run directory exists.
#[test]
fn inputs_that_are_devices_are_refused_instead_of_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for name in ["zero.npy", "zero.csv", "config.yaml", "samples.txt"] {
        std::os::unix::fs::symlink("/dev/zero", d.join(name)).unwrap();
    }
    let check = |out: std::process::Output, what: &str| {
        assert_eq!(code(&out), 2, "{what}: {}", stderr(&out));
        let want = format!("{what}: not a regular file");
        assert!(stderr(&out).contains(&want), "{want}: {}", stderr(&out));
        assert!(!d.join("run").exists(), "{what} left a run directory");
    };
    for file in ["zero.npy", "zero.csv"] {
        check(decompose_file(d, file, &[]), file);
    }
    let out = lab(d, &["decompose", "--config", "config.yaml", "--out", "run"]);
    check(out, "cannot read config file config.yaml");
    let samples = [
        "entropy-probe",
        "--out",
        "run",
        "--set",
        "task=text",
        "--set",
        "text.samples=samples.txt",
    ];
    check(lab(d, &samples), "samples.txt: cannot read");
    fs::write(d.join("vocab.json"), r#"["a", "b"]"#).unwrap();
    let probe = [
        "entropy-probe",
        "--out",
        "run",
        "--set",
        "task=probe",
        "--set",
        "checkpoint.torchscript=/dev/zero",
        "--set",
        "checkpoint.vocab=vocab.json",
    ];
    let out = lab(d, &probe);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let want = "checkpoint.torchscript: /dev/zero is not a regular file";
    assert!(stderr(&out).contains(want), "{}", stderr(&out));
}

/// A matrix handed over through a FIFO (the shell's `<(...)`) is read whole by the run: the
/// memory preflight does not take its first row.
#[test]
fn a_matrix_read_from_a_fifo_arrives_whole() {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let made = std::process::Command::new("mkfifo")
        .arg(d.join("m.csv"))
        .status()
        .unwrap();
    assert!(made.success());
    let mut args = vec!["decompose", "--quiet", "--out", "run", "--set"];
    args.extend(["matrix.kind=file", "--set", "matrix.path=m.csv"]);
    args.extend(["--set", "subspace.kind=offdiag"]);
    let child = std::process::Command::new(crate::common::LAB)
        .args(&args)
        .current_dir(d)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A non-blocking open for writing fails until the run opens the FIFO for reading.
    let mut fifo = None;
    crate::common::wait_until("the run to open m.csv", Duration::from_secs(60), || {
        fifo = fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(d.join("m.csv"))
            .ok();
        fifo.is_some()
    });
    let mut fifo = fifo.unwrap();
    fifo.write_all(b"2,0.5,0\n0.5,2,0.5\n0,0.5,2\n").unwrap();
    drop(fifo);
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json(&d.join("run/summary.json"))["n"], 3);
}
