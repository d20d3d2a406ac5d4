//! The memory check of `lab decompose` (issue 16, "Sizes and resources"): a run whose
//! estimated peak memory does not fit is refused with exit 2 before its run directory exists;
//! `limits.memory_check: false` runs it anyway; `auto` avoids an explicit Hessian that does
//! not fit; the estimate is within a factor 2 of the measured peak RSS.
use crate::common::*;
use std::path::Path;
use std::time::{Duration, Instant};

/// `lab decompose --quiet ARGS` in `dir` (results under `dir/results`): exit code, stderr and
/// how long it took.
fn decompose(dir: &Path, args: &[&str]) -> (i32, String, Duration) {
    let t = Instant::now();
    let all = [&["decompose", "--quiet"], args].concat();
    let out = lab(dir, &all);
    (code(&out), stderr(&out), t.elapsed())
}

/// The refusal: exit 2, quickly, the estimate and the budget named, no run directory.
fn assert_refused(dir: &Path, (rc, err, took): &(i32, String, Duration), key: &str) {
    assert_eq!(*rc, 2, "expected a refusal, got exit {rc}: {err}");
    assert!(took.as_secs_f64() < 5.0, "refusal took {took:?}");
    assert!(err.contains("would need about"), "no estimate in: {err}");
    assert!(err.contains("is available"), "no budget in: {err}");
    assert!(
        err.contains(&format!("`{key}`")),
        "does not blame {key}: {err}"
    );
    assert!(
        err.contains("limits.memory_check: false"),
        "no override named: {err}"
    );
    assert!(!dir.join("results").exists(), "a refused run left results/");
}

#[test]
fn a_matrix_of_a_million_rows_is_refused_before_anything_is_allocated() {
    let dir = tempfile::tempdir().unwrap();
    let r = decompose(dir.path(), &["--set", "matrix.n=1000000"]);
    assert_refused(dir.path(), &r, "matrix.n");
    assert!(r.1.contains("TB"), "the estimate is in terabytes: {}", r.1);
}

#[test]
fn dense_dual_newton_hessian_is_refused_and_points_to_the_cg_method() {
    let dir = tempfile::tempdir().unwrap();
    // The case: p ≈ 72 000 at n = 400, density 0.1: a 42 GB Hessian on a 16 GB budget.
    let args = [
        "--set",
        "matrix.n=400",
        "--set",
        "solver.method=dual-newton",
        "--set",
        "limits.max_memory_gb=16",
    ];
    let r = decompose(dir.path(), &args);
    assert_refused(dir.path(), &r, "solver.method");
    assert!(
        r.1.contains("use `solver.method: dual-newton-cg`"),
        "no cheaper method: {}",
        r.1
    );
}

const SMALL_NEWTON: [&str; 8] = [
    "--set",
    "matrix.n=200",
    "--set",
    "solver.method=newton",
    "--set",
    "limits.max_memory_gb=0.05",
    "--set",
    "output.save_matrices=false",
];

#[test]
fn memory_check_false_lets_a_forced_explicit_hessian_through() {
    let dir = tempfile::tempdir().unwrap();
    let r = decompose(dir.path(), &SMALL_NEWTON);
    assert_refused(dir.path(), &r, "solver.method");
    assert!(r.1.contains("use `solver.method: newton-cg`"), "{}", r.1);
    let args = [&SMALL_NEWTON[..], &["--set", "limits.memory_check=false"]].concat();
    let (rc, err, _) = decompose(dir.path(), &[&args[..], &["--out", "run"]].concat());
    assert_eq!(rc, 0, "{err}");
    let s = json(&dir.path().join("run/summary.json"));
    assert_eq!(s["method"], "newton");
    assert!(s["memory_estimate_mb"].as_f64().unwrap() > 50.0, "{s}");
}

#[test]
fn auto_avoids_an_explicit_hessian_that_does_not_fit() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--set",
        "matrix.n=200",
        "--set",
        "solver.max_full_hessian=100000",
        "--set",
        "limits.max_memory_gb=0.05",
        "--set",
        "output.save_matrices=false",
        "--out",
        "run",
    ];
    let (rc, err, _) = decompose(dir.path(), &args);
    assert_eq!(rc, 0, "{err}");
    let s = json(&dir.path().join("run/summary.json"));
    assert_eq!(s["method"], "newton-cg", "{s}");
    assert!(s["memory_estimate_mb"].as_f64().unwrap() <= 50.0, "{s}");
}

#[test]
fn the_estimate_is_within_a_factor_2_of_the_measured_peak_rss() {
    let cases: [&[&str]; 3] = [
        // explicit primal Hessian, m ≈ 1 270: H and its two copies dominate
        &["matrix.n=160", "solver.method=newton"],
        // explicit dual Hessian, p ≈ 1 660
        &[
            "matrix.n=80",
            "subspace.density=0.5",
            "solver.method=dual-newton",
        ],
        // Newton-CG: the dense n×n matrices dominate
        &["matrix.n=600", "solver.method=newton-cg"],
    ];
    for sets in cases {
        let dir = tempfile::tempdir().unwrap();
        let mut args = vec!["--out", "run", "--set", "output.save_matrices=false"];
        for s in sets {
            args.extend(["--set", s]);
        }
        let (rc, err, _) = decompose(dir.path(), &args);
        assert_eq!(rc, 0, "{sets:?}: {err}");
        let s = json(&dir.path().join("run/summary.json"));
        let est = s["memory_estimate_mb"].as_f64().unwrap();
        let peak = s["peak_rss_mb"].as_f64().unwrap();
        let ratio = est / peak;
        assert!(
            (0.5..=2.0).contains(&ratio),
            "{sets:?}: estimate {est} MB, peak {peak} MB"
        );
        assert!(
            peak > 30.0,
            "{sets:?}: too small to test the model: {peak} MB"
        );
    }
}

#[test]
fn a_matrix_file_is_sized_from_its_first_line_and_blamed_by_path() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.csv"), "4,1,0\n1,4,1\n0,1,4\n").unwrap();
    let args = [
        "--set",
        "matrix.kind=file",
        "--set",
        "matrix.path=a.csv",
        "--set",
        "limits.max_memory_gb=0.001",
    ];
    let r = decompose(dir.path(), &args);
    assert_refused(dir.path(), &r, "matrix.path");
    assert!(
        r.1.contains("(n = 3,"),
        "n read from the first line: {}",
        r.1
    );
}
