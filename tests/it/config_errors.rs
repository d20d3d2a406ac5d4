//! Config errors name the key path and where the value really came from (the `--set`, or the
//! user's file and line), in the user's words; a section switched to another `kind` gets that
//! kind's documented defaults.
use crate::common::{code, lab, stderr, stdout};
use std::fs;
use std::path::Path;

/// Rust type names that must never reach a user.
const LEAKS: &[&str] = &[
    "struct ", "enum ", "usize", "u64", "f64", "Config", "Spec", "variant ",
];

fn dry(dir: &Path, sub: &str, args: &[&str]) -> (i32, String) {
    let mut all = vec![sub, "--print-config"];
    all.extend_from_slice(args);
    let out = lab(dir, &all);
    (code(&out), stderr(&out))
}

/// A failing dry run whose message names `key` and `origin` and no Rust type.
fn assert_blames(sub: &str, args: &[&str], key: &str, origin: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (rc, err) = dry(dir.path(), sub, args);
    assert_eq!(rc, 2, "{args:?}: {err}");
    assert!(
        err.contains(&format!("`{key}`")),
        "{args:?} must name `{key}`: {err}"
    );
    assert!(
        err.contains(origin),
        "{args:?} must blame {origin:?}: {err}"
    );
    assert!(
        !err.contains("default.yaml"),
        "{args:?} blames the embedded default: {err}"
    );
    for leak in LEAKS {
        assert!(!err.contains(leak), "{args:?} leaks {leak:?}: {err}");
    }
}

#[test]
fn a_bad_set_is_blamed_on_the_set_with_its_key_path() {
    let cases: &[(&[&str], &str)] = &[
        (&["--set", "matrix.kind=file"], "matrix.path"),
        (&["--set", "matrix.n=\"12\""], "matrix.n"),
        (&["--set", "matrix.n=-5"], "matrix.n"),
        (&["--set", "subspace.pairs=[[-1, 2]]"], "subspace.pairs"),
        (
            &[
                "--set",
                "subspace.kind=pattern",
                "--set",
                "subspace.pairs=[[-1, 2]]",
            ],
            "subspace.pairs[0][0]",
        ),
        (&["--set", "solver=3"], "solver"),
        (&["--set", "matrix.kind=nope"], "matrix.kind"),
    ];
    for (args, key) in cases {
        let set = args.last().unwrap();
        let shown = if key == &"matrix.path" {
            "matrix.kind=file"
        } else {
            set
        };
        assert_blames("decompose", args, key, &format!("--set {shown}"));
    }
    let npg: &[(&[&str], &str)] = &[
        (&["--set", "num_envs=0"], "num_envs"),
        (
            &[
                "--set",
                "algo.step_rule.kind=npg",
                "--set",
                "algo.step_rule.max_kl=x",
            ],
            "algo.step_rule.max_kl",
        ),
        (
            &[
                "--set",
                "algo.step_rule.kind=npg",
                "--set",
                "algo.step_rule.maxkl=1",
            ],
            "algo.step_rule.maxkl",
        ),
        (&["--set", "algo.score_sample=often"], "algo.score_sample"),
    ];
    for (args, key) in npg {
        assert_blames(
            "npg-rank1",
            args,
            key,
            &format!("--set {}", args.last().unwrap()),
        );
    }
    // num_envs = 0 is one problem, not also one of `minibatches` blamed on the default.
    let (_, err) = dry(Path::new("."), "npg-rank1", &["--set", "num_envs=0"]);
    assert!(!err.contains("minibatches"), "{err}");
}

#[test]
fn a_bad_value_in_a_file_names_its_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("m.yaml"), "seed: 1\nmatrix:\n  n: -5\n").unwrap();
    fs::write(
        dir.path().join("w.yaml"),
        "matrix:\n  kind: wishart\n  n: 8\n  scale: big\n",
    )
    .unwrap();
    fs::write(dir.path().join("s.yaml"), "solver: 3\n").unwrap();
    for (file, key, line) in [
        ("m.yaml", "matrix.n", 3),
        ("w.yaml", "matrix.scale", 4),
        ("s.yaml", "solver", 1),
    ] {
        let (rc, err) = dry(dir.path(), "decompose", &["--config", file]);
        assert_eq!(rc, 2, "{err}");
        assert!(
            err.contains(&format!("`{key}` in {file} line {line}")),
            "{err}"
        );
        for leak in LEAKS {
            assert!(!err.contains(leak), "{file} leaks {leak:?}: {err}");
        }
    }
}

#[test]
fn a_relation_between_keys_names_where_each_came_from() {
    let (rc, err) = dry(
        Path::new("."),
        "npg-rank1",
        &["--set", "num_envs=1", "--set", "rollout_len=2"],
    );
    assert_eq!(rc, 2, "{err}");
    for part in [
        "`minibatches`",
        "1 × 2 = 2",
        "`num_envs` (from --set num_envs=1)",
        "`rollout_len` (from --set rollout_len=2)",
    ] {
        assert!(err.contains(part), "missing {part:?}: {err}");
    }
}

/// decompose's finance mode builds its own matrices: a matrix or subspace key changed from
/// its default is refused, not ignored; left at the default (a copied config) it loads.
#[test]
fn keys_finance_mode_does_not_read_are_refused_when_changed() {
    let finance = ["--set", "mode.kind=finance"];
    let with = |extra: &'static str| [finance[0], finance[1], "--set", extra];
    assert_blames(
        "decompose",
        &with("matrix.n=5"),
        "matrix.n",
        "(from --set matrix.n=5): is not read in mode finance",
    );
    assert_blames(
        "decompose",
        &with("subspace.density=0.3"),
        "subspace.density",
        "`mode.kind` (from --set mode.kind=finance)",
    );
    assert_blames(
        "decompose",
        &with("matrix.kind=wishart"),
        "matrix.kind",
        "is not read in mode finance",
    );
    let dir = tempfile::tempdir().unwrap();
    let (rc, err) = dry(dir.path(), "decompose", &with("matrix.n=60"));
    assert_eq!(rc, 0, "the default value: {err}");
    let (rc, err) = dry(dir.path(), "decompose", &["--set", "matrix.n=5"]);
    assert_eq!(rc, 0, "read in mode plain: {err}");
}

/// The kinds a `kind` key accepts, read from the error for an unknown one.
fn kinds_of(sub: &str, sets: &[String], key: &str) -> Vec<String> {
    let mut args: Vec<String> = sets.to_vec();
    args.extend(["--set".into(), format!("{key}=no-such-kind")]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let (rc, err) = dry(Path::new("."), sub, &refs);
    assert_eq!(rc, 2, "{err}");
    let list = err
        .split("valid: ")
        .nth(1)
        .unwrap_or_else(|| panic!("no list: {err}"));
    list.trim().split(", ").map(str::to_string).collect()
}

/// Keys that have no default in some kind (paths, explicit patterns): the only acceptable
/// failures of a bare kind switch.
const REQUIRED: &[(&str, &str)] = &[
    ("matrix.kind=file", "`matrix.path`"),
    ("subspace.kind=pattern", "`subspace.pairs`"),
    ("subspace.kind=complement-pattern", "`subspace.pairs`"),
    ("subspace.kind=basis-file", "`subspace.path`"),
    ("subspace.kind=perp-basis-file", "`subspace.path`"),
];

/// Every `kind` key in a printed config, as dotted paths.
fn kind_keys(yaml: &str) -> Vec<String> {
    fn walk(v: &serde_yaml_ng::Value, at: &str, out: &mut Vec<String>) {
        if let Some(m) = v.as_mapping() {
            for (k, child) in m {
                let k = k.as_str().unwrap_or_default();
                let path = if at.is_empty() {
                    k.to_string()
                } else {
                    format!("{at}.{k}")
                };
                if k == "kind" {
                    out.push(path.clone());
                }
                walk(child, &path, out);
            }
        }
    }
    let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(yaml).unwrap();
    let mut out = Vec::new();
    walk(&v, "", &mut out);
    out
}

/// Switch every kind-tagged section (and the sections inside each kind) to each of its kinds
/// with one `--set`: the dry run resolves with that kind's defaults.
fn every_kind_resolves(sub: &str, sets: Vec<String>, within: &str) -> usize {
    let refs: Vec<&str> = sets.iter().map(String::as_str).collect();
    let out = lab(
        Path::new("."),
        &[&[sub, "--print-config"][..], &refs].concat(),
    );
    assert_eq!(code(&out), 0, "{sets:?}: {}", stderr(&out));
    let mut tried = 0;
    for key in kind_keys(&stdout(&out)) {
        let mine = key.starts_with(within) && !sets.iter().any(|s| s.starts_with(&key));
        if !mine {
            continue;
        }
        for kind in kinds_of(sub, &sets, &key) {
            let set = format!("{key}={kind}");
            let mut next = sets.clone();
            next.extend(["--set".into(), set.clone()]);
            let refs: Vec<&str> = next.iter().map(String::as_str).collect();
            let (rc, err) = dry(Path::new("."), sub, &refs);
            tried += 1;
            if rc == 0 {
                let section = key.trim_end_matches("kind");
                tried += every_kind_resolves(sub, next, section);
                continue;
            }
            let needed = REQUIRED.iter().find(|(s, _)| *s == set);
            let Some((_, why)) = needed else {
                panic!("`--set {set}` must give {kind}'s defaults: {err}");
            };
            assert!(
                err.contains(why) && !err.contains("default.yaml"),
                "{set}: {err}"
            );
        }
    }
    tried
}

#[test]
fn switching_any_kind_gives_that_kinds_defaults() {
    for sub in ["decompose", "npg-rank1"] {
        let tried = every_kind_resolves(sub, Vec::new(), "");
        assert!(tried >= 10, "{sub}: only {tried} kinds tried");
    }
    // The defaults are the documented ones, and the user's keys still win.
    let (rc, _) = dry(Path::new("."), "npg-rank1", &["--set", "algo.kind=ppo"]);
    assert_eq!(rc, 0);
    let out = lab(
        Path::new("."),
        &[
            "npg-rank1",
            "--print-config",
            "--set",
            "algo.clip_coef=0.1",
            "--set",
            "algo.kind=ppo",
        ],
    );
    let cfg: serde_yaml_ng::Value = serde_yaml_ng::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        cfg["algo"]["clip_coef"].as_f64(),
        Some(0.1),
        "{}",
        stderr(&out)
    );
    assert_eq!(cfg["algo"]["actor_lr"].as_f64(), Some(2.5e-4));
    assert!(cfg["algo"].get("damping").is_none(), "smac's keys must go");
}

#[test]
fn a_bad_study_cell_is_blamed_on_its_axis_or_case() {
    let dir = tempfile::tempdir().unwrap();
    let grid = "study:\n  grid:\n    matrix.n: [8, -5]\n";
    fs::write(dir.path().join("g.yaml"), grid).unwrap();
    let case = "study:\n  cases:\n    m:\n      big: {solver.max_iter: 0}\n";
    fs::write(dir.path().join("c.yaml"), case).unwrap();
    let (rc, err) = dry(dir.path(), "decompose", &["--config", "g.yaml"]);
    assert_eq!(rc, 2, "{err}");
    assert!(
        err.contains("`matrix.n` (study axis `matrix.n` = -5)"),
        "{err}"
    );
    assert!(!err.contains("default.yaml"), "{err}");
    let (rc, err) = dry(dir.path(), "decompose", &["--config", "c.yaml"]);
    assert_eq!(rc, 2, "{err}");
    assert!(
        err.contains("`solver.max_iter` (study case `m: big`)"),
        "{err}"
    );
}

/// A misspelt section that only a `--set` wrote (`solvr.max_iter=3`) is blamed on that `--set`,
/// with or without a config file, not on the embedded default or the file.
#[test]
fn an_unknown_section_made_by_a_set_is_blamed_on_the_set() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("c.yaml"),
        "seed: 1\nsolver: {max_iter: 5}\n",
    )
    .unwrap();
    for first in [&[][..], &["--config", "c.yaml"][..]] {
        let args = [first, &["--set", "solvr.max_iter=3"]].concat();
        let (rc, err) = dry(dir.path(), "decompose", &args);
        assert_eq!(rc, 2, "{args:?}: {err}");
        assert!(
            err.contains(
                "unknown key `solvr` (from --set solvr.max_iter=3); did you mean `solver`?"
            ),
            "{args:?}: {err}"
        );
        assert!(
            !err.contains("c.yaml") && !err.contains("default.yaml"),
            "{err}"
        );
    }
}

/// NaN or infinity as a grid value or in a case is refused, naming the axis: study.json (JSON)
/// cannot hold it, and it became `null` for the cell (shown as "= null").
#[test]
fn a_non_finite_grid_value_is_refused_not_turned_into_null() {
    let dir = tempfile::tempdir().unwrap();
    let grid = "study:\n  grid:\n    matrix.condition: [10.0, .nan]\n";
    fs::write(dir.path().join("g.yaml"), grid).unwrap();
    let case = "study:\n  cases:\n    m:\n      big: {matrix.condition: -.inf}\n";
    fs::write(dir.path().join("c.yaml"), case).unwrap();
    for (file, want) in [
        (
            "g.yaml",
            "`study.grid.matrix.condition`: NaN is not a value a study can record",
        ),
        (
            "c.yaml",
            "`study.cases.m.big`: -inf is not a value a study can record",
        ),
    ] {
        let (rc, err) = dry(dir.path(), "decompose", &["--config", file]);
        assert_eq!(rc, 2, "{file}: {err}");
        assert!(err.contains(want), "{file}: {err}");
        assert!(!err.contains("null"), "{file}: {err}");
    }
}
