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
        &[
            "--set",
            "matrix.kind=mixed-fbm",
            "--set",
            "matrix.alpha=0",
        ],
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
