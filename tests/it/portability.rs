//! Portability and hostile input on the shared layer: YAML as other tools write it (a byte
//! order mark, `<<:` merge keys, YAML 1.1 booleans, bytes that are not UTF-8), arguments that
//! are not UTF-8, `--out` through a symbolic link that leads nowhere, and a stdout or stderr
//! that cannot be written (a full disk, a reader that went away).
use crate::common::{code, json, lab, read, stderr, stdout, text, LAB};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// `lab decompose --config FILE --print-config` in `dir` with `yaml` written to FILE.
fn print_config(dir: &Path, file: &str, yaml: &[u8]) -> Output {
    std::fs::write(dir.join(file), yaml).unwrap();
    lab(dir, &["decompose", "--config", file, "--print-config"])
}

/// `lab args` in `dir` with stdout and stderr sent to `/dev/full` as chosen.
fn lab_full(dir: &Path, args: &[&str], out_full: bool, err_full: bool) -> Output {
    let full = || Stdio::from(std::fs::File::create("/dev/full").unwrap());
    let mut cmd = Command::new(LAB);
    cmd.args(args).current_dir(dir).stdin(Stdio::null());
    cmd.stdout(if out_full { full() } else { Stdio::piped() });
    cmd.stderr(if err_full { full() } else { Stdio::piped() });
    cmd.output().unwrap()
}

#[test]
fn merge_keys_are_applied_and_a_value_they_bring_is_still_checked() {
    let dir = tempfile::tempdir().unwrap();
    // A chain: the outer mapping's own key wins over the inner one's, the file's over both.
    let chain = b"solver:\n  <<: {<<: {max_iter: 9, cg_max_iter: 50}, max_iter: 7}\n  \
                  tol_residual: 1.0e-10\n";
    let o = print_config(dir.path(), "m.yaml", chain);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["solver"]["max_iter"].as_i64(), Some(7), "{}", stdout(&o));
    assert_eq!(v["solver"]["cg_max_iter"].as_i64(), Some(50));
    assert_eq!(v["solver"]["tol_residual"].as_f64(), Some(1e-10));
    assert!(v["solver"].get("<<").is_none());
    let o = print_config(dir.path(), "bad.yaml", b"solver:\n  <<: {max_iter: 0}\n");
    assert_eq!(code(&o), 2, "{}", text(&o));
    let err = stderr(&o);
    assert!(err.contains("`solver.max_iter` in bad.yaml"), "{err}");
    let o = print_config(dir.path(), "scalar.yaml", b"solver:\n  <<: 3\n");
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(stderr(&o).contains("scalar.yaml: invalid YAML: a `<<:` merge key"));
}

#[test]
fn a_byte_order_mark_leaves_the_first_line_blamed_on_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let o = print_config(
        dir.path(),
        "bom.yaml",
        b"\xef\xbb\xbfseed: x\r\nmatrix:\r\n  n: 9\r\n",
    );
    assert_eq!(code(&o), 2, "{}", text(&o));
    let err = stderr(&o);
    assert!(err.contains("`seed` in bom.yaml line 1"), "{err}");
}

#[test]
fn a_config_that_is_not_utf8_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let o = print_config(
        dir.path(),
        "latin1.yaml",
        b"seed: 1\n\nmatrix:\n  n: 3 # \xe9\n",
    );
    assert_eq!(code(&o), 2, "{}", text(&o));
    let err = stderr(&o);
    assert!(err.contains("latin1.yaml: not valid UTF-8 text"), "{err}");
    assert!(err.contains("byte 0xE9 on line 4"), "{err}");
}

#[test]
fn a_line_indented_with_a_tab_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let o = print_config(dir.path(), "tab.yaml", b"seed: 1\nmatrix:\n\tn: 7\n");
    assert_eq!(code(&o), 2, "{}", text(&o));
    let err = stderr(&o);
    assert!(err.contains("tab.yaml: invalid YAML"), "{err}");
    assert!(err.contains("line 3"), "{err}");
    assert!(err.contains("indented with a tab"), "{err}");
}

#[test]
fn a_key_written_twice_names_its_lines() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = b"seed: 1\nmatrix:\n  n: 7\n  condition: 5.0\n  n: 8\n";
    let o = print_config(dir.path(), "dup.yaml", yaml);
    assert_eq!(code(&o), 2, "{}", text(&o));
    let err = stderr(&o);
    assert!(err.contains("dup.yaml: invalid YAML"), "{err}");
    assert!(err.contains("`n:` is on lines 3, 5"), "{err}");
}

#[test]
fn a_seed_given_twice_with_two_values_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["--seed", "9", "--set", "seed=5"][..],
        &["--set", "seed=5", "--seed", "9"][..],
    ] {
        let o = lab(
            dir.path(),
            &[&["decompose", "--print-config"][..], args].concat(),
        );
        assert_eq!(code(&o), 2, "{args:?}: {}", text(&o));
        assert!(stderr(&o).contains("--seed 9 and --set seed=5 disagree"));
    }
    let same = [
        "decompose",
        "--print-config",
        "--seed",
        "5",
        "--set",
        "seed=5",
    ];
    let o = lab(dir.path(), &same);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(stdout(&o).starts_with("seed: 5\n"), "{}", stdout(&o));
}

#[test]
fn yaml11_booleans_say_what_to_write() {
    let dir = tempfile::tempdir().unwrap();
    let o = lab(
        dir.path(),
        &["decompose", "--set", "output.csv=yes", "--print-config"],
    );
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(stderr(&o).contains("write true or false"), "{}", stderr(&o));
}

/// Number-like scalars that YAML 1.2 reads as text (or cannot hold) name the key, its line
/// and what to write; before, they said only "invalid type: string". A leading zero (YAML
/// 1.1's octal) is refused, never read as 8 or as 10.
#[test]
fn yaml11_numbers_say_what_to_write() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "condition: 1e400",
            "matrix.condition",
            "1e400 is out of range of a 64-bit float",
        ),
        ("condition: 010", "matrix.condition", "write 10, or 0o10"),
        ("n: 1_000", "matrix.n", "write 1000"),
        ("n: \"12\"", "matrix.n", "write it without quotes"),
    ];
    for (entry, key, words) in cases {
        let yaml = format!("matrix:\n  kind: random-spd\n  {entry}\n");
        let o = print_config(dir.path(), "n.yaml", yaml.as_bytes());
        assert_eq!(code(&o), 2, "{entry}: {}", text(&o));
        let err = stderr(&o);
        assert!(err.contains(&format!("`{key}` in n.yaml line 3")), "{err}");
        assert!(err.contains(words), "{entry}: {err}");
    }
    let o = lab(
        dir.path(),
        &[
            "decompose",
            "--set",
            "solver.max_iter=99999999999999999999",
            "--print-config",
        ],
    );
    assert_eq!(code(&o), 2, "{}", text(&o));
    let err = stderr(&o);
    assert!(err.contains("solver.max_iter"), "{err}");
    assert!(err.contains("out of range of a 64-bit integer"), "{err}");
}

#[test]
fn an_argument_that_is_not_utf8_is_recorded_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let out = OsStr::from_bytes(b"run-\xff");
    let o = Command::new(LAB)
        .args(["decompose", "--set", "matrix.n=6", "--quiet", "--out"])
        .arg(out)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o));
    let meta = json(&dir.path().join(out).join("meta.json"));
    assert_eq!(meta["status"], "completed");
    let args = meta["args"].as_array().unwrap();
    assert_eq!(args.last().unwrap(), "run-\u{fffd}", "{args:?}");
}

#[test]
fn out_through_a_symbolic_link_that_leads_nowhere_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("missing", dir.path().join("dangling")).unwrap();
    std::os::unix::fs::symlink("loop", dir.path().join("loop")).unwrap();
    std::fs::write(
        dir.path().join("s.yaml"),
        crate::common::study_yaml("s", "{}", "[0]"),
    )
    .unwrap();
    for (out, link, config) in [
        ("dangling", "dangling", None),
        ("dangling/run", "dangling", None),
        ("loop", "loop", None),
        ("dangling", "dangling", Some("s.yaml")),
    ] {
        let mut args = vec!["decompose", "--set", "matrix.n=6", "--quiet", "--out", out];
        if let Some(file) = config {
            args.extend(["--config", file]);
        }
        let o = lab(dir.path(), &args);
        assert_eq!(code(&o), 2, "{out}: {}", text(&o));
        let err = stderr(&o);
        assert!(
            err.contains(&format!("{link} is a symbolic link to")),
            "{err}"
        );
    }
    assert!(!dir.path().join("missing").exists());
}

#[test]
fn a_full_stdout_is_an_error_after_the_work_and_a_full_stderr_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let o = lab_full(dir.path(), &["decompose", "--print-config"], true, false);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let err = stderr(&o);
    assert!(err.contains("could not write to standard output"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let run = ["decompose", "--set", "matrix.n=6", "--out", "a"];
    let o = lab_full(dir.path(), &run, true, false);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    assert_eq!(json(&dir.path().join("a/meta.json"))["status"], "completed");
    let run = ["decompose", "--set", "matrix.n=6", "--out", "b"];
    let o = lab_full(dir.path(), &run, false, true);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(stdout(&o), "results: b\n");
    assert_eq!(json(&dir.path().join("b/meta.json"))["status"], "completed");
    assert!(read(&dir.path().join("b/config.yaml")).contains("n: 6"));
}

#[test]
fn a_reader_that_went_away_ends_lab_quietly() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["decompose", "--print-config"][..],
        &["decompose", "--set", "matrix.n=6", "--quiet", "--out", "r"][..],
    ] {
        let mut child = Command::new(LAB)
            .args(args)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // `| head -0`: the pipe's only reader is gone
        let o = child.wait_with_output().unwrap();
        assert_eq!(code(&o), 0, "{args:?}: {}", text(&o));
        assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    }
    assert_eq!(json(&dir.path().join("r/meta.json"))["status"], "completed");
}
