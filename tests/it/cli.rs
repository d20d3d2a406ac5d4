//! The shared frame seen from outside: CLI, config errors, `--print-config`. Run
//! directories and meta.json: `cli_runs`.
use crate::common::*;
use std::fs;

const SUBCOMMANDS: &[&str] = &[
    "npg-rank1",
    "grng",
    "decompose",
    "entropy-probe",
    "prefixrl",
];

#[test]
fn help_lists_every_subcommand_and_version_prints() {
    let dir = tempfile::tempdir().unwrap();
    let out = lab(dir.path(), &["--help"]);
    assert_eq!(code(&out), 0);
    for sub in SUBCOMMANDS {
        assert!(stdout(&out).contains(sub), "--help misses {sub}");
    }
    let out = lab(dir.path(), &["--version"]);
    assert_eq!(code(&out), 0);
    assert!(stdout(&out).starts_with("lab 0."), "{}", stdout(&out));
    let out = lab(dir.path(), &["decompose", "--help"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    for flag in [
        "--config",
        "--set",
        "--seed",
        "--device",
        "--threads",
        "--out",
        "--name",
        "--quiet",
    ] {
        assert!(
            stdout(&out).contains(flag),
            "decompose --help misses {flag}"
        );
    }
}

#[test]
fn print_config_round_trips_to_the_same_resolved_config() {
    let dir = tempfile::tempdir().unwrap();
    let printed = lab(dir.path(), &["decompose", "--print-config"]);
    assert_eq!(code(&printed), 0);
    let yaml: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&stdout(&printed)).expect("valid YAML");
    assert!(yaml.get("solver").is_some());
    fs::write(dir.path().join("printed.yaml"), stdout(&printed)).unwrap();
    let a = lab(dir.path(), &["decompose", "--quiet", "--out", "a"]);
    let b = lab(
        dir.path(),
        &[
            "decompose",
            "--quiet",
            "--config",
            "printed.yaml",
            "--out",
            "b",
        ],
    );
    assert_eq!((code(&a), code(&b)), (0, 0), "{}{}", stderr(&a), stderr(&b));
    let resolved = read(&dir.path().join("a/config.yaml"));
    assert_eq!(resolved, read(&dir.path().join("b/config.yaml")));
    // The resolved config itself is a valid config that reproduces the run.
    let c = lab(
        dir.path(),
        &[
            "decompose",
            "--quiet",
            "--config",
            "a/config.yaml",
            "--out",
            "c",
        ],
    );
    assert_eq!(code(&c), 0, "{}", stderr(&c));
    assert_eq!(resolved, read(&dir.path().join("c/config.yaml")));
    let drop = ["wall_s"];
    let m = |run: &str| csv_without(&dir.path().join(run).join("metrics.csv"), &drop);
    assert!(m("a").len() >= 3, "header and Newton rows: {:?}", m("a"));
    assert_eq!(m("a"), m("b"));
    assert_eq!(m("a"), m("c"));
}

#[test]
fn unknown_key_names_key_file_line_and_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("x.yaml"),
        "seed: 1\nsolver:\n  max_iter: 5\n  tol_decremnt: 1.0\n",
    )
    .unwrap();
    let out = lab(dir.path(), &["decompose", "--config", "x.yaml"]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    for part in [
        "unknown key",
        "tol_decremnt",
        "x.yaml",
        "line 4",
        "did you mean `tol_decrement`",
    ] {
        assert!(err.contains(part), "missing {part:?} in: {err}");
    }
    assert!(
        !dir.path().join("results").exists(),
        "a config error creates no run dir"
    );
}

#[test]
fn wrong_type_and_out_of_range_values_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("t.yaml"), "solver:\n  max_iter: many\n").unwrap();
    let out = lab(dir.path(), &["decompose", "--config", "t.yaml"]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(
        err.contains("solver.max_iter") && err.contains("t.yaml line 2"),
        "{err}"
    );
    assert!(err.contains("invalid type"), "{err}");

    fs::write(
        dir.path().join("r.yaml"),
        "solver:\n  tol_residual: -1.0e-3\n",
    )
    .unwrap();
    let out = lab(dir.path(), &["decompose", "--config", "r.yaml"]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(
        err.contains("solver.tol_residual") && err.contains("must be > 0"),
        "{err}"
    );
    assert!(err.contains("r.yaml line 2"), "{err}");

    let out = lab(dir.path(), &["decompose", "--set", "matrix.condition=0.5"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("from --set matrix.condition=0.5"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn missing_config_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = lab(dir.path(), &["decompose", "--config", "nope.yaml"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("cannot read config file nope.yaml"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn bad_device_and_threads_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = lab(dir.path(), &["decompose", "--device", "tpu"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("expected auto, cpu, cuda or cuda:N"),
        "{}",
        stderr(&out)
    );
    for n in ["0", "100000", "x"] {
        let out = lab(dir.path(), &["decompose", "--threads", n]);
        assert_eq!(code(&out), 2, "{n}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("expected a thread count from 1 to 1024"),
            "{}",
            stderr(&out)
        );
    }
    // A config's torch_threads: checked like any key, before libtorch is asked for threads.
    for (sub, n) in [
        ("entropy-probe", "0"),
        ("prefixrl", "4294967296"),
        ("grng", "2000"),
    ] {
        let set = format!("torch_threads={n}");
        let out = lab(dir.path(), &[sub, "--set", &set]);
        assert_eq!(code(&out), 2, "{sub} {n}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("torch_threads") && err.contains("from 1 to 1024"),
            "{sub}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    assert!(!dir.path().join("results").exists());
}

#[test]
fn an_empty_or_comment_only_config_means_all_defaults() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("empty.yaml"), "").unwrap();
    std::fs::write(dir.path().join("comments.yaml"), "# nothing to change\n\n").unwrap();
    let default = lab(dir.path(), &["decompose", "--quiet", "--out", "d"]);
    assert_eq!(code(&default), 0, "{}", text(&default));
    for file in ["empty.yaml", "comments.yaml"] {
        let run = format!("run-{file}");
        let args = ["decompose", "--config", file, "--quiet", "--out", &run];
        let out = lab(dir.path(), &args);
        assert_eq!(code(&out), 0, "{file}: {}", text(&out));
        assert_eq!(
            read(&dir.path().join(&run).join("config.yaml")),
            read(&dir.path().join("d/config.yaml")),
            "{file} resolves to the embedded default"
        );
    }
}

#[test]
fn a_study_listing_a_seed_twice_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("s.yaml"),
        study_yaml("dup", "{matrix.n: [6]}", "[0, 0]"),
    )
    .unwrap();
    let out = lab(dir.path(), &["decompose", "--config", "s.yaml", "--quiet"]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(
        stderr(&out).contains("lists a seed twice"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path().join("results").exists(), "nothing is written");
}

#[test]
fn integer_keys_accept_integral_floats_and_refuse_fractions() {
    let dir = tempfile::tempdir().unwrap();
    let ok = |set: &str, out: &str| {
        lab(
            dir.path(),
            &["decompose", "--quiet", "--out", out, "--set", set],
        )
    };
    let out = ok("matrix.n=2e1", "a");
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(read(&dir.path().join("a/config.yaml")).contains("n: 20"));
    let out = ok("solver.max_iter=1.0e2", "b");
    assert_eq!(code(&out), 0, "{}", text(&out));
    let out = ok("matrix.n=20.5", "c");
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(
        stderr(&out).contains("`20.5`, expected a whole number"),
        "{}",
        stderr(&out)
    );
    // Float keys still take integers.
    let out = ok("matrix.condition=100", "d");
    assert_eq!(code(&out), 0, "{}", text(&out));
}

#[test]
fn print_config_shows_the_resolved_config_and_checks_it() {
    let dir = tempfile::tempdir().unwrap();
    let plain = lab(dir.path(), &["decompose", "--print-config"]);
    assert_eq!(code(&plain), 0);
    assert!(
        stdout(&plain).starts_with('#'),
        "the embedded default, comments kept"
    );
    let set = lab(
        dir.path(),
        &[
            "decompose",
            "--print-config",
            "--set",
            "matrix.n=12",
            "--seed",
            "7",
        ],
    );
    assert_eq!(code(&set), 0, "{}", text(&set));
    let cfg: serde_yaml_ng::Value = serde_yaml_ng::from_str(&stdout(&set)).unwrap();
    assert_eq!(cfg["matrix"]["n"].as_u64(), Some(12));
    assert_eq!(cfg["seed"].as_u64(), Some(7));
    let bad = lab(
        dir.path(),
        &["decompose", "--print-config", "--set", "matrix.n=-5"],
    );
    assert_eq!(code(&bad), 2, "{}", text(&bad));
    assert!(stdout(&bad).is_empty());
    std::fs::write(
        dir.path().join("s.yaml"),
        study_yaml("p", "{matrix.n: [6, 8]}", "[0, 1]"),
    )
    .unwrap();
    let study = lab(
        dir.path(),
        &["decompose", "--config", "s.yaml", "--print-config"],
    );
    assert_eq!(code(&study), 0, "{}", text(&study));
    assert!(stdout(&study).contains("study:"), "{}", stdout(&study));
    assert!(!dir.path().join("results").exists(), "nothing runs");
}
