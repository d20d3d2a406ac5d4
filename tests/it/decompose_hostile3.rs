//! `lab decompose` on hostile inputs, round 4 (after decompose_hostile, decompose_hostile2 and
//! decompose_hostile_values): a degenerate subspace none of whose basis elements is PSD, finance
//! lists that repeat a case, generated matrices that are not SPD, and matrix-file messages that
//! did not say what to change.
use crate::common::*;
use crate::decompose_hostile::{decompose, decompose_file};
use ndarray::{Array2, Array3};

/// A 3×3 SPD A as CSV.
const A3: &str = "4,1,0.5\n1,3,0.2\n0.5,0.2,2\n";
/// A 4×4 SPD A as CSV.
const A4: &str = "4,1,0.5,0\n1,3,0.2,0.1\n0.5,0.2,2,0\n0,0.1,0,1\n";

/// `elements` (each n×n) as a basis file of shape (m, n, n).
fn basis_file(path: &std::path::Path, elements: &[Array2<f64>]) {
    let n = elements[0].nrows();
    let flat: Vec<f64> = elements.iter().flat_map(|e| e.iter().copied()).collect();
    let b = Array3::from_shape_vec((elements.len(), n, n), flat).unwrap();
    ndarray_npy::write_npy(path, &b).unwrap();
}

/// L spanned by indefinite elements whose sum is a low-rank PSD matrix: (ND) fails, but no ±Dₖ
/// is PSD (stage 3 passes), so the phase-I solve (stage 4) must find it. Its explicit-Hessian
/// Newton stalled at ‖C‖ ≈ 1e7 (vᵀHv ~ ‖C‖⁻² along the sum is a cancellation of O(1) entries),
/// short of the 1e8·‖A‖ divergence test; stage 4 said "deferred", and the main Newton ran 100
/// iterations to "not converged" (exit 1, with a B and C written), for a problem that has no
/// decomposition. Now the phase-I solve falls back to Newton-CG and exhibits the PSD element.
#[test]
fn a_degenerate_subspace_without_a_psd_basis_element_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a3.csv"), A3).unwrap();
    std::fs::write(d.join("a4.csv"), A4).unwrap();
    // diag(1, 1, −1) + diag(−1, 1, 1) = diag(0, 2, 0).
    let diag = |v: [f64; 3]| Array2::from_diag(&ndarray::arr1(&v));
    basis_file(
        &d.join("deg3.npy"),
        &[diag([1., 1., -1.]), diag([-1., 1., 1.])],
    );
    // (P + R₁) + (R₂ − R₁) − R₂ = P = vvᵀ, v = (1, 2, 0, 1); each element indefinite.
    let v = ndarray::arr1(&[1.0, 2.0, 0.0, 1.0]);
    let p = Array2::from_shape_fn((4, 4), |(i, j)| v[i] * v[j]);
    let r1 = ndarray::arr2(&[
        [0., 1., 2., 0.],
        [1., -3., 0., 1.],
        [2., 0., 1., -1.],
        [0., 1., -1., 2.],
    ]);
    let r2 = ndarray::arr2(&[
        [1., 0., -1., 2.],
        [0., 0., 1., 0.],
        [-1., 1., -2., 1.],
        [2., 0., 1., 0.],
    ]);
    basis_file(&d.join("deg4.npy"), &[&p + &r1, &r2 - &r1, -&r2]);
    // The PSD element found, normalized to unit Frobenius norm: e₁ₑ₁ᵀ, and vvᵀ/6.
    for (a, basis, entry) in [
        ("a3.csv", "deg3.npy", "1.0000"),
        ("a4.csv", "deg4.npy", "0.6667"),
    ] {
        for method in ["auto", "newton"] {
            let sets = [
                "matrix.kind=file".to_string(),
                format!("matrix.path={a}"),
                "subspace.kind=basis-file".into(),
                format!("subspace.path={basis}"),
                format!("solver.method={method}"),
            ];
            let args: Vec<&str> = sets.iter().flat_map(|s| ["--set", s.as_str()]).collect();
            let needles = ["nondegeneracy violated", "phase-I divergence", entry];
            assert_refused(&decompose(d, &args), basis, &needles, &d.join("run"));
        }
    }
}

/// `mode.hurst: [0.7, 0.7]` solved both and wrote six finance.csv rows, but summary.json said
/// `cases: 6` over three entries (`H=0.7 markovian` holding the warm-started repeat, 1
/// iteration instead of 6); `structures: [sum, sum]` the same. Refused now, naming the key.
#[test]
fn finance_lists_that_repeat_a_case_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (set, want) in [
        (
            "mode.hurst=[0.7, 0.5, 0.7]",
            "entry 2 (0.7) repeats entry 0",
        ),
        (
            "mode.structures=[sum, full, sum]",
            "entry 2 (sum) repeats entry 0",
        ),
    ] {
        let args = [
            "--set",
            "mode.kind=finance",
            "--set",
            "mode.periods=4",
            "--set",
            set,
        ];
        let key = set.split('=').next().unwrap();
        let blame = format!("`{key}`");
        assert_refused(&decompose(d, &args), set, &[&blame, want], &d.join("run"));
    }
    // Distinct values still run.
    let args = ["--set", "mode.kind=finance", "--set", "mode.periods=4"];
    let all = [&args[..], &["--set", "mode.hurst=[0.7, 0.5]"]].concat();
    let o = decompose(d, &all);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(json(&d.join("run/summary.json"))["cases"], 6);
}

/// A generated A that is not SPD said only "A is not positive definite" (no key, nothing to
/// change), and random-spd at condition 1e20 added "lambda_min(A) = 6.456843e3", a positive
/// eigenvalue beside "not positive definite". Now the message names the generator's keys,
/// puts a positive λ_min against λ_max, and says what to change.
#[test]
fn a_generated_a_that_is_not_spd_names_its_keys() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases: [(&[&str], &[&str]); 4] = [
        (
            &["matrix.n=6", "matrix.condition=1e20"],
            &[
                "matrix.kind random-spd, matrix.condition = 1e20",
                "singular to working precision",
                "lower matrix.condition",
            ],
        ),
        (
            &["matrix.kind=wishart", "matrix.n=3", "matrix.shift=-5"],
            &[
                "matrix.kind wishart, matrix.shift = -5",
                "raise matrix.shift",
            ],
        ),
        (
            &["matrix.kind=banded", "matrix.n=4", "matrix.shift=-1"],
            &[
                "matrix.kind banded, matrix.shift = -1",
                "raise matrix.shift",
            ],
        ),
        (
            &[
                "matrix.kind=block-exchangeable",
                "matrix.sizes=[2, 2]",
                "matrix.diagonal=[1, 1]",
                "matrix.within=2",
                "matrix.cross=0",
                "subspace.kind=offdiag",
            ],
            &["matrix.kind block-exchangeable", "matrix.within"],
        ),
    ];
    for (sets, needles) in cases {
        let args: Vec<&str> = sets.iter().flat_map(|s| ["--set", *s]).collect();
        let mut all = needles.to_vec();
        all.push("A is not positive definite");
        assert_refused(&decompose(d, &args), sets[1], &all, &d.join("run"));
    }
}

/// Matrix files a spreadsheet or another tool plausibly writes: `;`, tab or space separated
/// values, a header line, one stored triangle. The messages said "invalid float literal" and
/// "A is not symmetric: max |A - A^T| = 1" without where or what to do.
#[test]
fn matrix_file_messages_say_what_to_change() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let comma = "values must be separated by commas";
    let cases = [
        ("semi.csv", "2;1\n1;2\n", comma),
        ("tab.csv", "2\t1\n1\t2\n", comma),
        ("space.csv", "2 1\n1 2\n", comma),
        ("header.csv", "x,y\n2,1\n1,2\n", "remove the header line"),
        (
            "upper.csv",
            "4,1,0.5\n0,3,0.2\n0,0,2\n",
            "at A[0,1] = 1e0 against A[1,0] = 0e0 (0-based); store both triangles",
        ),
    ];
    for (name, body, want) in cases {
        std::fs::write(d.join(name), body).unwrap();
        assert_refused(
            &decompose_file(d, name),
            name,
            &[name, want],
            &d.join("run"),
        );
    }
}
