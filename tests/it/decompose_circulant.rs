//! Circulant subspaces (spec §1.3, §3.6): the Fourier-diagonal solver against exact answers and
//! the generic solvers, nondegeneracy, and bad input.
use crate::common::zip_eq;
use crate::decompose_common::*;
use lab::decompose::circulant;
use lab::decompose::config::{Method, SubspaceSpec};
use lab::decompose::structures::{self, Subspace};
use lab::error::exit_code;
use ndarray::{array, Array1, Array2};

fn build(n: usize, lags: &[usize], columns: &[Vec<f64>]) -> anyhow::Result<Subspace> {
    let spec = SubspaceSpec::Circulant {
        lags: lags.to_vec(),
        columns: columns.to_vec(),
    };
    structures::build(&spec, n, true, &mut rng(0))
}

fn dense_elements(n: usize, lags: &[usize]) -> Vec<Array2<f64>> {
    circulant::columns(n, lags, &[])
        .unwrap()
        .iter()
        .map(circulant::dense)
        .collect()
}

#[test]
fn eigenvalues_are_the_cosine_transform() {
    let n = 9;
    let z1 = circulant::columns(n, &[1], &[]).unwrap().remove(0);
    let lam = circulant::eig(&z1);
    for j in 0..n {
        let want = 2.0 * (2.0 * std::f64::consts::PI * j as f64 / n as f64).cos();
        assert!((lam[j] - want).abs() < 1e-14, "lambda_{j} = {}", lam[j]);
    }
    let c = Array1::from(vec![3.0, 1.0, -0.5, 0.25, 0.25, -0.5, 1.0]);
    let back = circulant::from_eig(&circulant::eig(&c));
    assert!((&back - &c).iter().all(|v| v.abs() < 1e-14), "{back}");
    // Eigenvalues of the dense matrix agree.
    let mut want = circulant::eig(&c).to_vec();
    want.sort_by(f64::total_cmp);
    use ndarray_linalg::{EigValsh, UPLO};
    let got = circulant::dense(&c).eigvalsh(UPLO::Lower).unwrap();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() < 1e-12);
    }
}

/// n = 2, L = span{Z₁}: B must be diagonal, so C = b·Z₁ and B = I/a exactly.
#[test]
fn two_by_two_is_exact() {
    let a = array![[3.0, 1.25], [1.25, 3.0]];
    let out = run(&a, &build(2, &[1], &[]).unwrap(), Method::Auto).unwrap();
    assert_eq!(out.method, Method::Circulant);
    assert!(rel(&out.b, &(Array2::eye(2) / 3.0)) < 1e-12, "{}", out.b);
    assert!(rel(&out.c, &array![[0.0, 1.25], [1.25, 0.0]]) < 1e-12);
}

/// Every lag: a circulant B orthogonal to all Z_k (k ≥ 1) is b₀I, and tr(AB) = n gives b₀ = 1/a₀.
#[test]
fn all_lags_give_a_scaled_identity() {
    for n in [5, 8] {
        let a = circulant_a(n, n as u64);
        let out = run(&a, &build(n, &[], &[]).unwrap(), Method::Auto).unwrap();
        assert_eq!(out.method, Method::Circulant);
        let a0 = a[[0, 0]];
        assert!(rel(&out.b, &(Array2::eye(n) / a0)) < 1e-10, "n = {n}");
        assert!(rel(&out.c, &(&a - &(Array2::<f64>::eye(n) * a0))) < 1e-10);
    }
}

#[test]
fn fourier_solver_matches_the_generic_solvers() {
    for (n, lags) in [(7, vec![1, 3]), (8, vec![2, 4]), (12, vec![1, 2, 5])] {
        let a = circulant_a(n, 3 + n as u64);
        let sub = build(n, &lags, &[]).unwrap();
        let fast = run(&a, &sub, Method::Circulant).unwrap();
        let ds = dense_elements(n, &lags);
        check_invariants(&a, &ds, &fast, &format!("circulant n = {n}"));
        assert_eq!(fast.method, Method::Circulant);
        for method in ITERATIVE {
            let other = run(&a, &sub, method).unwrap();
            assert!(rel(&fast.b, &other.b) < 1e-9, "{method:?} n = {n}");
            assert!(rel(&fast.c, &other.c) < 1e-9, "{method:?} n = {n}");
        }
    }
}

/// A non-circulant A with a circulant L goes to the generic solvers under `auto`; asking for
/// the Fourier solver is a usage error.
#[test]
fn non_circulant_a_uses_the_generic_path() {
    let n = 9;
    let a = random_a(n, &mut rng(4));
    let sub = build(n, &[1, 4], &[]).unwrap();
    let out = run(&a, &sub, Method::Auto).unwrap();
    assert_eq!(out.method, Method::Newton);
    check_invariants(&a, &dense_elements(n, &[1, 4]), &out, "generic");
    let err = run(&a, &sub, Method::Circulant).unwrap_err();
    assert!(format!("{err}").contains("circulant A"), "{err}");
    assert_eq!(exit_code(&err), 2);
}

/// Explicit columns with a nonzero trace: (ND) is decided beyond the trace test.
#[test]
fn nondegeneracy_of_explicit_columns() {
    let n = 6;
    let a = circulant_a(n, 11);
    let eye: Vec<f64> = (0..n).map(|k| f64::from(k == 0)).collect();
    let z1: Vec<f64> = (0..n).map(|k| f64::from(k == 1 || k == n - 1)).collect();
    let i_minus_z1: Vec<f64> = zip_eq(&eye, &z1).map(|(e, z)| e - z).collect();
    // I − Z₁ alone is indefinite: nondegenerate, solvable.
    let out = run(
        &a,
        &build(n, &[], std::slice::from_ref(&i_minus_z1)).unwrap(),
        Method::Auto,
    )
    .unwrap();
    let d = circulant::dense(&Array1::from(i_minus_z1.clone()));
    check_invariants(&a, &[d], &out, "I - Z1");
    assert_eq!(out.nondegeneracy.holds, Some(true));
    // Lag 0 is I: PSD, caught by the basis-element test.
    let err = run(&a, &build(n, &[0, 2], &[]).unwrap(), Method::Auto).unwrap_err();
    assert!(format!("{err}").contains("nondegeneracy violated"), "{err}");
    assert_eq!(exit_code(&err), 2);
    // I − Z₁ and Z₁ are both indefinite but sum to I: only the exact stage sees it.
    let err = run(&a, &build(n, &[], &[i_minus_z1, z1]).unwrap(), Method::Auto).unwrap_err();
    assert!(format!("{err}").contains("nondegeneracy violated"), "{err}");
    assert_eq!(exit_code(&err), 2);
}

#[test]
fn bad_circulant_input_is_a_usage_error() {
    type Case = (usize, Vec<usize>, Vec<Vec<f64>>, &'static str);
    let cases: [Case; 4] = [
        (6, vec![4], vec![], "out of range"),
        (4, vec![], vec![vec![1.0, 2.0, 0.0, 3.0]], "not symmetric"),
        (4, vec![], vec![vec![1.0, 2.0]], "length"),
        (3, vec![], vec![vec![0.0, f64::NAN, f64::NAN]], "non-finite"),
    ];
    for (n, lags, cols, want) in cases {
        let err = build(n, &lags, &cols).err().expect(want);
        assert!(format!("{err}").contains(want), "{err}");
        assert_eq!(exit_code(&err), 2);
    }
}
