//! `lab decompose` on hostile inputs, round 5 (after decompose_hostile, 2, 3 and _values): a
//! degenerate L above the size where the phase-I check ran, A with cond(A) ~ 1e200, and more.
use crate::common::*;
use crate::decompose_hostile::decompose;
use lab::decompose::config::DecomposeConfig;
use lab::decompose::newton::Direction;
use lab::decompose::nondegen::{self, Certificate, EXACT_MAX_N};
use lab::decompose::subspace::{sparse_of, Basis};
use ndarray::{Array2, Array3};
use ndarray_linalg::EigValsh;
use std::path::Path;
use std::time::{Duration, Instant};

/// n×n with `block` placed at rows/columns `at`.
fn padded(n: usize, at: &[usize], block: &[f64]) -> Array2<f64> {
    let mut d = Array2::zeros((n, n));
    for (k, &i) in at.iter().enumerate() {
        d[[i, i]] = block[k];
    }
    d
}

fn basis_file(path: &Path, elements: &[Array2<f64>]) {
    let n = elements[0].nrows();
    let flat: Vec<f64> = elements.iter().flat_map(|e| e.iter().copied()).collect();
    let b = Array3::from_shape_vec((elements.len(), n, n), flat).unwrap();
    ndarray_npy::write_npy(path, &b).unwrap();
}

/// diag(1, 1, −1) + diag(−1, 1, 1) = diag(0, 2, 0) is PSD though neither element is, so only
/// the phase-I solve (stage 4) finds it; with a trace-free pair far away.
fn degenerate_elements(n: usize) -> Vec<Array2<f64>> {
    let mut far = Array2::zeros((n, n));
    (far[[n - 2, n - 1]], far[[n - 1, n - 2]]) = (1.0, 1.0);
    vec![
        padded(n, &[0, 1, 2], &[1., 1., -1.]),
        padded(n, &[0, 1, 2], &[-1., 1., 1.]),
        far,
    ]
}

fn basis_args(n: usize, method: &str) -> Vec<String> {
    [
        format!("matrix.n={n}"),
        "subspace.kind=basis-file".into(),
        "subspace.path=l.npy".into(),
        format!("solver.method={method}"),
    ]
    .into_iter()
    .flat_map(|s| ["--set".to_string(), s])
    .collect()
}

/// Stage 4 ran only for n ≤ 200: at n = 201 the same degenerate L ran 100 Newton steps to
/// "not converged" (exit 1, B and C written) where n = 200 was refused naming the PSD
/// element. Now stage 4 runs on each index component of L (here 3 indices) at any n.
#[test]
fn a_degenerate_subspace_just_above_the_phase_one_size_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let n = EXACT_MAX_N + 1;
    basis_file(&d.join("l.npy"), &degenerate_elements(n));
    for method in ["auto", "newton", "newton-cg"] {
        let args = basis_args(n, method);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let t = Instant::now();
        let out = decompose(d, &args);
        let needles = [
            "nondegeneracy violated",
            "phase-I divergence",
            "(1, 1) = 1.0000",
        ];
        assert_refused(&out, method, &needles, &d.join("run"));
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "{method}: {:?}",
            t.elapsed()
        );
    }
}

/// One element touching every index joins them into one component of n = 201 > 200, so stage 4
/// is still skipped up front; the solve stalls (it does not diverge) and said "not
/// converged" (exit 1). Now the stall runs the phase-I check it skipped and refuses L.
#[test]
fn a_degenerate_subspace_that_stalls_the_solver_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let n = EXACT_MAX_N + 1;
    let mut elements = degenerate_elements(n);
    let star = Array2::from_shape_fn((n, n), |(i, j)| f64::from(u8::from((i == 0) != (j == 0))));
    elements.push(star);
    basis_file(&d.join("l.npy"), &elements);
    let args = basis_args(n, "auto");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = decompose(d, &args);
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(err.contains("nondegeneracy violated"), "{err}");
    assert!(err.contains("(1, 1) = 1.0000"), "{err}");
    assert!(!err.contains("not converged"), "{err}");
}

/// The per-component phase-I: a PD certificate assembled from the blocks (identity on the
/// untouched indices) is orthogonal to L; a degenerate block gives its PSD element in place.
#[test]
fn phase_one_by_components_certifies_either_way() {
    let n = 300;
    let opts = DecomposeConfig::embedded_default().solver;
    let sparse = |d: &Array2<f64>| sparse_of(d);
    let nondeg = [
        padded(n, &[3, 4], &[2., -1.]),
        padded(n, &[10, 11, 12], &[1., -3., 1.]),
        padded(n, &[10, 11, 12], &[1., 1., -1.]),
    ];
    let l = Basis::new(n, nondeg.iter().map(sparse).collect(), true).unwrap();
    let dirs = [Direction::Explicit, Direction::Cg];
    match nondegen::phase_one(&l, EXACT_MAX_N, &dirs, &opts).unwrap() {
        Certificate::Nondegenerate { b0, margin, .. } => {
            assert!(margin > 1e-6, "margin {margin}");
            let min = b0.eigvalsh(ndarray_linalg::UPLO::Lower).unwrap()[0];
            assert!(min > 0.0, "λ_min {min}");
            for d in &nondeg {
                let ip = (&b0 * d).sum();
                assert!(ip.abs() < 1e-9, "<B0, D> = {ip}");
            }
            assert_eq!(b0[[200, 200]], 1.0);
        }
        other => panic!("want nondegenerate, got {:?}", other.report()),
    }
    let mut deg = nondeg.to_vec();
    deg.push(padded(n, &[250, 251, 252], &[1., 1., -1.]));
    deg.push(padded(n, &[250, 251, 252], &[-1., 1., 1.]));
    let l = Basis::new(n, deg.iter().map(sparse).collect(), true).unwrap();
    match nondegen::phase_one(&l, EXACT_MAX_N, &dirs, &opts).unwrap() {
        Certificate::Degenerate { psd, .. } => {
            assert!((psd[[251, 251]] - 1.0).abs() < 1e-6, "{}", psd[[251, 251]]);
            assert!((psd.sum() - psd[[251, 251]]).abs() < 1e-6);
        }
        other => panic!("want degenerate, got {:?}", other.report()),
    }
}

/// random-spd at condition 1e200 was told both "divide A by about 1e200 and scale B and C
/// back" (a generated A the user cannot divide) and "lower matrix.condition". One now.
#[test]
fn a_generated_a_at_condition_1e200_gets_one_piece_of_advice() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = decompose(
        d,
        &["--set", "matrix.n=5", "--set", "matrix.condition=1e200"],
    );
    let needles = ["matrix.condition = 1e200", "lower matrix.condition"];
    assert_refused(&out, "condition 1e200", &needles, &d.join("run"));
    assert!(!stderr(&out).contains("divide A"), "{}", stderr(&out));
}

/// Only max |A_ij| was range-checked and the advice put it at 1: diag(1e140, 1e-40) was told
/// to divide by 1e140, which leaves λ_min = 1e-180 (B ~ 1e200, squares overflow); and
/// diag(1, 1, 1e-200)-like files ran under "expect B and C to lose about log10(cond)
/// digits" (200 of 16) to failed certificates. Now λ_min(A) is range-checked too, the advice
/// centres both, and following it is not refused again.
#[test]
fn a_at_condition_1e200_is_told_the_scale_that_fits() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sets = [
        "--set",
        "matrix.kind=file",
        "--set",
        "matrix.path=a.csv",
        "--set",
        "subspace.kind=pattern",
        "--set",
        "subspace.pairs=[[0, 1]]",
    ];
    for (diag, advice, fixed) in [
        (
            [1e140, 1e140, 1e-40],
            "divide A by about 1e50",
            [1e90, 1e90, 1e-90],
        ),
        (
            [1.0, 0.5, 1e-190],
            "divide A by about 1e-95",
            [1e95, 5e94, 1e-95],
        ),
    ] {
        let csv = |v: [f64; 3]| format!("{:e},0.5,0\n0.5,{:e},0\n0,0,{:e}\n", v[0], v[1], v[2]);
        std::fs::write(d.join("a.csv"), csv(diag)).unwrap();
        let needles = ["is outside [1e-100, 1e100]", advice];
        assert_refused(&decompose(d, &sets), advice, &needles, &d.join("run"));
        let scaled = |v: [f64; 3]| {
            let t = diag[0] / v[0];
            format!(
                "{:e},{:e},0\n{:e},{:e},0\n0,0,{:e}\n",
                v[0],
                0.5 / t,
                0.5 / t,
                v[1],
                v[2]
            )
        };
        std::fs::write(d.join("a.csv"), scaled(fixed)).unwrap();
        // Representable now: not refused (whether the certificates pass at cond 1e190 is
        // the certificates' call, exit 0 or 1).
        let out = decompose(d, &sets);
        assert_ne!(code(&out), 2, "{advice}, then: {}", text(&out));
        assert!(!stderr(&out).contains("is outside"), "{}", text(&out));
        std::fs::remove_dir_all(d.join("run")).unwrap();
    }
    // cond(A) = 1.5e200: no scale fits both; said so instead of a scale that cannot work.
    std::fs::write(d.join("a.csv"), "1,0.5,0\n0.5,1,0\n0,0,1e-200\n").unwrap();
    let needles = ["no rescaling fits both", "regularize"];
    assert_refused(&decompose(d, &sets), "1.5e200", &needles, &d.join("run"));
}

/// Past 1/eps the cond(A) warning said "expect B and C to lose about log10(cond) digits"
/// (17 of 16) beside a run whose certificates pass; it now says what decides.
#[test]
fn the_cond_warning_past_one_over_eps_says_what_decides() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a.csv"), "1,0,0\n0,1,0\n0,0,1e-17\n").unwrap();
    let out = decompose(
        d,
        &[
            "--set",
            "matrix.kind=file",
            "--set",
            "matrix.path=a.csv",
            "--set",
            "subspace.kind=offdiag",
        ],
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    let err = stderr(&out);
    assert!(err.contains("no correct digit"), "{err}");
    assert!(!err.contains("log10(cond)"), "{err}");
}

/// Basis files that span nothing: a (0, n, n) file ran as L = {0} without a word, one of
/// zero matrices under a "linearly dependent" warning, and as a perp-basis-file both printed
/// a PSD "basis element 0" of an L nobody listed. Refused now, naming the file. A NaN in the
/// middle of a basis file was reported without the file's name.
#[test]
fn basis_files_that_span_nothing_or_hold_nan_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a.csv"), "4,1,0\n1,3,0.2\n0,0.2,2\n").unwrap();
    let empty = Array3::<f64>::zeros((0, 3, 3));
    ndarray_npy::write_npy(d.join("empty.npy"), &empty).unwrap();
    basis_file(
        &d.join("zeros.npy"),
        &[Array2::zeros((3, 3)), Array2::zeros((3, 3))],
    );
    let mut nan = Array2::zeros((3, 3));
    (nan[[0, 2]], nan[[2, 0]]) = (f64::NAN, f64::NAN);
    basis_file(&d.join("nan.npy"), &[padded(3, &[0, 1], &[1., -1.]), nan]);
    let cases = [
        ("empty.npy", "empty.npy: holds no matrices"),
        ("zeros.npy", "zeros.npy: holds only zero matrices"),
        (
            "nan.npy",
            "nan.npy: basis element 1 (0-based): non-finite entry at (0, 2)",
        ),
    ];
    for kind in ["basis-file", "perp-basis-file"] {
        for (file, needle) in cases {
            let kind_set = format!("subspace.kind={kind}");
            let path_set = format!("subspace.path={file}");
            let sets = [
                "matrix.kind=file",
                "matrix.path=a.csv",
                &kind_set,
                &path_set,
            ];
            let args: Vec<&str> = sets.iter().flat_map(|s| ["--set", *s]).collect();
            let out = decompose(d, &args);
            assert_refused(&out, &format!("{kind} {file}"), &[needle], &d.join("run"));
        }
    }
}

/// L given by its complement span{diag(1, −1, 0)} (no PD matrix there, so L is degenerate):
/// the refusal said "it is (plus or minus) basis element 2 (0-based)" of the complement
/// basis computed inside, which no file holds. Now it prints the PSD matrix only.
#[test]
fn a_degenerate_perp_basis_names_no_element_the_user_never_gave() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a.csv"), "4,1,0\n1,3,0.2\n0,0.2,2\n").unwrap();
    basis_file(&d.join("perp.npy"), &[padded(3, &[0, 1], &[1., -1.])]);
    for method in ["auto", "newton", "dual-newton"] {
        let method_set = format!("solver.method={method}");
        let sets = [
            "matrix.kind=file",
            "matrix.path=a.csv",
            "subspace.kind=perp-basis-file",
            "subspace.path=perp.npy",
            &method_set,
        ];
        let args: Vec<&str> = sets.iter().flat_map(|s| ["--set", *s]).collect();
        let out = decompose(d, &args);
        assert_refused(&out, method, &["nondegeneracy violated"], &d.join("run"));
        let err = stderr(&out);
        assert!(!err.contains("(plus or minus) basis element"), "{err}");
    }
}
