//! `lab decompose` inputs that are the user's mistakes: exit 2 naming the key and why, before
//! any run directory exists (spec §7.4).
use crate::common::*;
use std::path::Path;

/// `lab decompose --quiet --out run ARGS` in `dir`: the exit code and the output.
fn decompose(dir: &Path, args: &[&str]) -> (i32, String) {
    let all = [&["decompose", "--quiet", "--out", "run"], args].concat();
    let out = lab(dir, &all);
    (code(&out), text(&out))
}

/// α = 0 makes the market's covariance singular (X_l = Y_l): a config error naming
/// `mode.alpha` and its range, not a LAPACK failure (exit 1) in the middle of the run.
#[test]
fn finance_alpha_zero_is_a_usage_error_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let (code, text) = decompose(
        dir.path(),
        &[
            "--set",
            "mode.kind=finance",
            "--set",
            "mode.periods=4",
            "--set",
            "mode.alpha=0",
        ],
    );
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("`mode.alpha`"), "{text}");
    assert!(text.contains("non-zero"), "the valid range: {text}");
    assert!(!dir.path().join("run").exists(), "nothing written");
    let (code, text) = decompose(
        dir.path(),
        &["--set", "matrix.kind=mixed-fbm", "--set", "matrix.alpha=0"],
    );
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("`matrix.alpha`"), "{text}");
    // Any other finite α is a market (α enters only as α²).
    let (code, text) = decompose(
        dir.path(),
        &[
            "--set",
            "mode.kind=finance",
            "--set",
            "mode.periods=4",
            "--set",
            "mode.alpha=-2",
            "--set",
            "mode.structures=[sum, full]",
        ],
    );
    assert_eq!(code, 0, "{text}");
}

/// An α so small that the fBM covariance is singular in double precision (its fractional part
/// under 1e-12 of the Brownian one) is refused naming the key and the smallest α that works,
/// in finance mode and for the mixed-fbm matrix, instead of a LAPACK failure mid-run; an α just
/// above that bound solves.
#[test]
fn an_alpha_too_small_for_double_precision_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let finance = [
        "--set",
        "mode.kind=finance",
        "--set",
        "mode.structures=[sum, full]",
    ];
    for (key, sets) in [
        ("mode.alpha", &finance[..]),
        ("matrix.alpha", &["--set", "matrix.kind=mixed-fbm"][..]),
    ] {
        for alpha in ["1e-8", "-1e-300"] {
            let set = format!("{key}={alpha}");
            let (code, text) = decompose(dir.path(), &[sets, &["--set", &set]].concat());
            assert_eq!(code, 2, "{text}");
            assert!(
                text.contains(&format!("{key} = {alpha}: at hurst"))
                    && text.contains("numerically singular")
                    && text.contains("use |alpha| of at least"),
                "{text}"
            );
            assert!(!dir.path().join("run").exists(), "nothing written");
        }
    }
    // The finance default (N = 125, H = 0.7, code convention) needs |α| ≥ 5.6e-6.
    let (code, text) = decompose(
        dir.path(),
        &[&finance[..], &["--set", "mode.alpha=1e-5"]].concat(),
    );
    assert_eq!(code, 0, "{text}");
}

/// The other end in finance mode: with the Brownian part lost next to the fractional one,
/// Newton stalled (α = 1e6 at N = 8, exit 1) and from α ≈ 1e100 the squares overflowed; a
/// risk aversion of 1e-320 made the certainty equivalent infinite mid-run. Both are refused
/// naming the key; α = 3e5 still solves.
#[test]
fn an_alpha_too_large_or_a_vanishing_risk_aversion_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let finance = ["--set", "mode.kind=finance", "--set", "mode.periods=8"];
    for alpha in ["1e6", "-1e60", "1e200"] {
        let set = format!("mode.alpha={alpha}");
        let (code, text) = decompose(dir.path(), &[&finance[..], &["--set", &set]].concat());
        assert_eq!(code, 2, "{text}");
        assert!(
            text.contains("mode.alpha = ")
                && text.contains("the market is numerically pure fBM")
                && text.contains("use |alpha| of at most 3.2e5"),
            "{text}"
        );
        assert!(!dir.path().join("run").exists(), "nothing written");
    }
    let set = "mode.risk_aversion=1e-320";
    let (code, text) = decompose(dir.path(), &[&finance[..], &["--set", set]].concat());
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("`mode.risk_aversion`") && text.contains("[1e-100, 1e100]"),
        "{text}"
    );
    let (code, text) = decompose(
        dir.path(),
        &[&finance[..], &["--set", "mode.alpha=3e5"]].concat(),
    );
    assert_eq!(code, 0, "{text}");
}

/// `cross_excluded` lists pairs of different blocks whose cross entries leave L: a block
/// paired with itself, an index past the last block or a pair given twice is a mistake, said
/// with the key and why instead of being ignored.
#[test]
fn block_pattern_exclusions_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let block = |extra: &[&str]| {
        let mut args = vec![
            "--set",
            "matrix.kind=block-exchangeable",
            "--set",
            "matrix.sizes=[3, 3]",
            "--set",
            "matrix.diagonal=[1.0, 1.2]",
            "--set",
            "matrix.within=0.1",
            "--set",
            "matrix.cross=0.05",
            "--set",
            "subspace.kind=block-pattern",
            "--set",
            "subspace.sizes=[3, 3]",
        ];
        args.extend_from_slice(extra);
        decompose(dir.path(), &args)
    };
    let cases = [
        (
            "subspace.cross_excluded=[[0, 0]]",
            "pairs block 0 with itself",
        ),
        (
            "subspace.cross_excluded=[[0, 2]]",
            "block index 2 is out of range: there are 2 blocks",
        ),
        (
            "subspace.cross_excluded=[[0, 1], [1, 0]]",
            "entry 1 = [1, 0] is listed twice",
        ),
        ("subspace.within_excluded=[1, 1]", "block 1 is listed twice"),
        (
            "subspace.within_excluded=[7]",
            "block index 7 is out of range",
        ),
    ];
    for (set, want) in cases {
        let (code, text) = block(&["--set", set]);
        assert_eq!(code, 2, "{set}: {text}");
        let key = set.split('=').next().unwrap();
        assert!(text.contains(&format!("`{key}`")), "{set}: {text}");
        assert!(text.contains(want), "{set}: expected `{want}` in: {text}");
        assert!(!dir.path().join("run").exists(), "{set}: nothing written");
    }
    let (code, text) = block(&["--set", "subspace.cross_excluded=[[1, 0]]"]);
    assert_eq!(code, 0, "a valid exclusion runs: {text}");
}

/// A linearly dependent spanning set is warned about once per run (the basis is built for the
/// solve and again for the summary), and the warning is in summary.json. Warnings are not
/// progress: `--quiet` keeps them (README, "Progress goes to stderr").
#[test]
fn the_linear_dependence_warning_is_given_once_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    // Four elements of rank 2 (D, 2D, E, D + E); `random-trace-free` with dim above
    // n(n+1)/2 - 1 was the dependent set here, and is refused now (decompose_hostile).
    let pair = |i: usize, j: usize| {
        let mut d = ndarray::Array2::<f64>::zeros((3, 3));
        d[[i, j]] = 1.0;
        d[[j, i]] = 1.0;
        d
    };
    let (d, e) = (pair(0, 1), pair(1, 2));
    let elems = [d.clone(), &d * 2.0, e.clone(), &d + &e];
    let views: Vec<_> = elems.iter().map(|x| x.view()).collect();
    let basis = ndarray::stack(ndarray::Axis(0), &views).unwrap();
    ndarray_npy::write_npy(dir.path().join("basis.npy"), &basis).unwrap();
    let (code, text) = decompose(
        dir.path(),
        &[
            "--set",
            "matrix.n=3",
            "--set",
            "subspace.kind=basis-file",
            "--set",
            "subspace.path=basis.npy",
            "--set",
            "solver.method=newton",
        ],
    );
    assert_eq!(code, 0, "{text}");
    let said = text.matches("is linearly dependent").count();
    assert_eq!(said, 1, "one warning: {text}");
    let summary = json(&dir.path().join("run/summary.json"));
    let warnings = summary["warnings"].to_string();
    assert!(
        warnings.contains("linearly dependent; dropped 2"),
        "{warnings}"
    );
}

/// The fieldless subspace kinds refuse a stray key like every other kind (serde dropped it:
/// `{kind: offdiag, bandwidth: 2}` ran as offdiag, silently).
#[test]
fn fieldless_subspace_kinds_refuse_stray_keys() {
    let dir = tempfile::tempdir().unwrap();
    for kind in ["offdiag", "trace-zero"] {
        let set = format!("subspace={{kind: {kind}, bandwidth: 2}}");
        let (code, text) = decompose(dir.path(), &["--set", &set]);
        assert_eq!(code, 2, "{kind}: {text}");
        assert!(text.contains("subspace.bandwidth"), "{kind}: {text}");
        assert!(!dir.path().join("run").exists(), "{kind}: nothing written");
    }
}
