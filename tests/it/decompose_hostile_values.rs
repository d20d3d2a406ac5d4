//! `lab decompose` on hostile values, round 2 (files and sizes: decompose_hostile): entries
//! outside double range (NaN or LAPACK failures, exit 1), keys finance mode does not read
//! (ignored), CSV messages naming the wrong line; plus the clean refusals the probe found and
//! closed forms at the edges (an optimal start, n = 1).
use crate::common::*;
use crate::decompose_hostile::{b_and_c, decompose, decompose_file};
use ndarray::Array2;
use std::path::Path;

/// 3×3 SPD A times `s`, as a CSV.
fn scaled_a(path: &Path, s: f64) {
    let a = [[4.0, 1.0, 1.0], [1.0, 3.0, 1.0], [1.0, 1.0, 2.0]];
    let rows: Vec<String> = a
        .iter()
        .map(|r| {
            r.iter()
                .map(|v| format!("{:e}", v * s))
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    std::fs::write(path, rows.join("\n") + "\n").unwrap();
}

/// Squares of entries of A or of B ≈ A⁻¹ left double range: 1e160·A stopped with NaN residuals
/// or failed certificates, 1e300·A in LAPACK, 1e-160·A in a line search (all exit 1) for a
/// problem scaling makes trivial. Refused now; 1e±90·A runs and obeys tA → B/t, tC (§1.4).
#[test]
fn entries_outside_the_double_range_exit_2_and_inside_it_scale() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sets = ["matrix.kind=file", "matrix.path=a.csv"];
    let pattern = ["subspace.kind=pattern", "subspace.pairs=[[0, 2]]"];
    for s in [1e160, 1e300, 1e-160] {
        scaled_a(&d.join("a.csv"), s);
        let mut args = Vec::new();
        for set in sets.iter().chain(&pattern) {
            args.extend(["--set", set]);
        }
        let needles = ["is outside [1e-100, 1e100]", "divide A by about"];
        assert_refused(
            &decompose(d, &args),
            &format!("{s:e}"),
            &needles,
            &d.join("run"),
        );
    }
    scaled_a(&d.join("a.csv"), 1.0);
    let (b1, c1) = b_and_c(d, "one", &[&sets[..], &pattern].concat());
    for s in [1e90, 1e-90] {
        scaled_a(&d.join("a.csv"), s);
        let (b, c) = b_and_c(d, "scaled", &[&sets[..], &pattern].concat());
        let rel = |x: &Array2<f64>, y: &Array2<f64>| {
            (x - y).mapv(f64::abs).sum() / y.mapv(f64::abs).sum()
        };
        assert!(rel(&(b * s), &b1) < 1e-12, "{s}: B must be B(A)/{s}");
        assert!(rel(&(c / s), &c1) < 1e-12, "{s}: C must be {s} C(A)");
    }
}

/// Finance mode solves its Markovian structure by primal Newton (explicit Hessian), the others
/// in closed form, and writes no B or C: another method, the CG and basis keys and `output.*`
/// were silently ignored. Refused when changed; the Newton keys it reads still load.
#[test]
fn finance_mode_refuses_solver_and_output_keys_it_does_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let dry = |set: &str| {
        let args = ["decompose", "--print-config", "--set", "mode.kind=finance"];
        lab(dir.path(), &[&args[..], &["--set", set]].concat())
    };
    for set in [
        "solver.method=dual-newton",
        "solver.method=closed-form",
        "solver.cg_tol=0.5",
        "solver.max_full_hessian=10",
        "solver.strict_basis=true",
        "output.csv=true",
        "output.save_matrices=false",
    ] {
        let key = set.split('=').next().unwrap();
        let blame = format!("invalid value for `{key}` (from --set {set})");
        let needles = [blame.as_str(), "is not read in mode finance", "`mode.kind`"];
        assert_refused(&dry(set), set, &needles, &dir.path().join("run"));
    }
    for set in [
        "solver.method=newton",
        "solver.max_iter=50",
        "solver.tol_decrement=1e-20",
    ] {
        let out = dry(set);
        assert_eq!(code(&out), 0, "{set}: {}", text(&out));
    }
}

/// The matrix CSV reader skipped blank lines but counted records, so an error after a blank
/// line named the line before it; an empty file said only "A is empty". Now the line and
/// column as the file numbers them, the value, and the file; BOM, CRLF and blank lines read.
#[test]
fn matrix_csv_errors_name_the_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases = [
        (
            "blank.csv",
            "2,0\n\n0,x\n",
            "blank.csv line 3, column 2: `x`",
        ),
        (
            "ragged.csv",
            "2,0\n\n0,2,1\n",
            "line 3 has 3 values for 2 lines",
        ),
        (
            "header.csv",
            "a,b\n2,0\n0,2\n",
            "header.csv line 1, column 1: `a`",
        ),
        ("empty.csv", "", "empty.csv: the file holds no rows"),
    ];
    for (name, body, want) in cases {
        std::fs::write(d.join(name), body).unwrap();
        let out = decompose_file(d, name);
        assert_refused(&out, name, &[want], &d.join("run"));
    }
    std::fs::write(d.join("ok.csv"), "\u{feff}2,0\r\n\r\n0,4\r\n").unwrap();
    let sets = [
        "matrix.kind=file",
        "matrix.path=ok.csv",
        "subspace.kind=offdiag",
    ];
    let (b, _) = b_and_c(d, "ok", &sets);
    assert_eq!(b, ndarray::arr2(&[[0.5, 0.0], [0.0, 0.25]]));
}

/// What the probe found already refused cleanly (exit 2, the key or file named, no folder),
/// pinned so it stays so.
#[test]
fn clean_refusals_stay_clean() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("dir.npy")).unwrap();
    std::fs::write(d.join("a.csv"), "2,0,0,0\n0,2,0,0\n0,0,2,0\n0,0,0,2\n").unwrap();
    std::fs::write(d.join("A.CSV"), "2,0,0,0\n0,2,0,0\n0,0,2,0\n0,0,0,2\n").unwrap();
    std::fs::write(d.join("latin1.csv"), b"\xff\xfe2,0\n0,2\n").unwrap();
    let file = |path: &'static str, sub: &'static str| -> Vec<&'static str> {
        vec!["matrix.kind=file", path, sub]
    };
    let cases: [(Vec<&str>, &str); 8] = [
        (vec!["solver.tol_residual=.nan"], "must be > 0, got NaN"),
        (
            vec!["solver.divergence_factor=.nan"],
            "`solver.divergence_factor`",
        ),
        (vec!["matrix.condition=.nan"], "must be >= 1, got NaN"),
        (vec!["seed=-1"], "expected a whole number >= 0"),
        (
            file("matrix.path=dir.npy", "subspace.kind=offdiag"),
            "dir.npy: Is a directory",
        ),
        (
            file("matrix.path=latin1.csv", "subspace.kind=offdiag"),
            "valid UTF-8",
        ),
        (
            [
                file("matrix.path=a.csv", "subspace.kind=circulant"),
                vec!["subspace.lags=[7]"],
            ]
            .concat(),
            "lag 7 is out of range for n = 4",
        ),
        (
            [
                file("matrix.path=a.csv", "subspace.kind=block-offdiag"),
                vec!["subspace.sizes=[1, 2]"],
            ]
            .concat(),
            "must be positive and sum to n = 4 (they sum to 3)",
        ),
    ];
    for (sets, want) in cases {
        let mut args = Vec::new();
        for s in &sets {
            args.extend(["--set", s]);
        }
        assert_refused(&decompose(d, &args), want, &[want], &d.join("run"));
    }
    // Upper-case extensions read as lower-case ones (they were refused, while pattern files
    // took `.CSV`); another extension is still refused.
    let args = ["--set", "matrix.kind=file", "--set", "matrix.path=A.CSV"];
    let o = decompose(
        d,
        &[&args[..], &["--set", "subspace.kind=offdiag"]].concat(),
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    std::fs::remove_dir_all(d.join("run")).unwrap();
    std::fs::rename(d.join("A.CSV"), d.join("a.txt")).unwrap();
    let args = ["--set", "matrix.kind=file", "--set", "matrix.path=a.txt"];
    let o = decompose(
        d,
        &[&args[..], &["--set", "subspace.kind=offdiag"]].concat(),
    );
    assert_refused(&o, "a.txt", &["expected a .npy or .csv"], &d.join("run"));
}

/// Closed forms at the edges. A diagonal A is optimal at the start for any pattern Ω (the
/// max-det completion of a diagonal is itself: B = A⁻¹, C = 0, a zero gradient at x = 0), for
/// every method; with n = 1 every L is {0} and B = 1/a.
#[test]
fn an_optimal_start_and_n_1_give_the_closed_forms() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("d.csv"), "1,0,0,0\n0,2,0,0\n0,0,3,0\n0,0,0,4\n").unwrap();
    let want = Array2::from_diag(&ndarray::arr1(&[1.0, 0.5, 1.0 / 3.0, 0.25]));
    let base = [
        "matrix.kind=file",
        "matrix.path=d.csv",
        "subspace.kind=pattern",
    ];
    for method in ["newton", "newton-cg", "dual-newton", "dual-newton-cg"] {
        let m = format!("solver.method={method}");
        let sets = [&base[..], &["subspace.pairs=[[0, 1], [2, 3]]", &m]].concat();
        let (b, c) = b_and_c(d, method, &sets);
        assert!(
            (&b - &want).mapv(f64::abs).sum() < 1e-12,
            "{method}: B = {b}"
        );
        assert!(c.mapv(f64::abs).sum() < 1e-12, "{method}: C = {c}");
    }
    std::fs::write(d.join("one.csv"), "5\n").unwrap();
    let kinds: [&[&str]; 6] = [
        &["subspace.kind=offdiag"],
        &["subspace.kind=trace-zero"],
        &["subspace.kind=pattern", "subspace.pairs=[]"],
        &["subspace.kind=circulant"],
        &["subspace.kind=band-complement", "subspace.bandwidth=0"],
        &["subspace.kind=block-offdiag", "subspace.sizes=[1]"],
    ];
    for kind in kinds {
        let sets = [&["matrix.kind=file", "matrix.path=one.csv"][..], kind].concat();
        let (b, c) = b_and_c(d, "one", &sets);
        assert!(
            (b[[0, 0]] - 0.2).abs() < 1e-15 && c[[0, 0]].abs() < 1e-15,
            "{kind:?}"
        );
    }
}

/// A pairs CSV saved with a UTF-8 BOM was refused as "line 1, column 1: `0` is not an integer
/// index", the BOM invisible in the message (the matrix CSV reader skipped it). It reads as
/// the YAML pairs now, CRLF endings included.
#[test]
fn a_pairs_csv_with_a_bom_reads_as_the_yaml_pairs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a.csv"), "4,1,1,1\n1,4,1,1\n1,1,4,1\n1,1,1,4\n").unwrap();
    std::fs::write(d.join("p.csv"), "\u{feff}0,1\r\n2,3\r\n").unwrap();
    let base = [
        "matrix.kind=file",
        "matrix.path=a.csv",
        "subspace.kind=pattern",
    ];
    let yaml = b_and_c(
        d,
        "yaml",
        &[&base[..], &["subspace.pairs=[[0, 1], [2, 3]]"]].concat(),
    );
    let csv = b_and_c(
        d,
        "csv",
        &[&base[..], &["subspace.pairs_file=p.csv"]].concat(),
    );
    assert_eq!(yaml, csv);
}

/// Basis elements far from unit size: the Gram entries of the dependence check (squares)
/// underflowed, so span{1e-300·D} was dropped as dependent (L = {0}, a warning) and a perp
/// basis of it left L^⊥ = {0} ("nondegeneracy violated"). Only the span counts: 1e-300·D and
/// 1e300·D give D's answer; circulant columns likewise (1e300 failed the line search).
#[test]
fn basis_elements_far_from_unit_size_span_what_they_span() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a.csv"), "2,1\n1,2\n").unwrap();
    let off = |s: f64| ndarray::arr3(&[[[0.0, s], [s, 0.0]]]);
    let diag = |s: f64| ndarray::arr3(&[[[s, 0.0], [0.0, s]]]);
    for (kind, elem) in [
        ("basis-file", &off as &dyn Fn(f64) -> _),
        ("perp-basis-file", &diag),
    ] {
        let mut answers = Vec::new();
        for s in [1.0, 1e-300, 1e300] {
            ndarray_npy::write_npy(d.join("e.npy"), &elem(s)).unwrap();
            let sets = [
                "matrix.kind=file",
                "matrix.path=a.csv",
                "subspace.path=e.npy",
            ];
            let k = format!("subspace.kind={kind}");
            let out = format!("{kind}-{s:e}");
            answers.push(b_and_c(d, &out, &[&sets[..], &[k.as_str()]].concat()));
        }
        let want = Array2::from_diag(&ndarray::arr1(&[0.5, 0.5]));
        for (b, _) in &answers {
            assert!((b - &want).mapv(f64::abs).sum() < 1e-12, "{kind}: B = {b}");
        }
    }
    // Circulant columns the same: span{Z_1} of a 4x4 A, given at three sizes.
    std::fs::write(d.join("a4.csv"), "4,1,0,1\n1,4,1,0\n0,1,4,1\n1,0,1,4\n").unwrap();
    let mut answers = Vec::new();
    for s in ["1", "1e-300", "1e300"] {
        let col = format!("subspace.columns=[[0, {s}, 0, {s}]]");
        let sets = [
            "matrix.kind=file",
            "matrix.path=a4.csv",
            "subspace.kind=circulant",
            &col,
        ];
        answers.push(b_and_c(d, &format!("circulant-{s}"), &sets));
    }
    let (b1, c1) = &answers[0];
    assert!(
        c1.mapv(f64::abs).sum() > 0.1,
        "C = {c1} lies in span{{Z_1}}"
    );
    for (b, _) in &answers[1..] {
        assert!((b - b1).mapv(f64::abs).sum() < 1e-12, "B = {b}, want {b1}");
    }
}
