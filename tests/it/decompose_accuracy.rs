//! Issue 17 §2: "converged" means accurate by default. A default `lab decompose` run on a
//! random pattern (density 0.1, κ(A) = 100, n = 100) gives C to 1e-12 relative of an
//! independent dense primal Newton written here, and reports its achieved residuals.
use crate::common::*;
use crate::decompose_common::{fro, inv, random_pairs, rel, rng};
use ndarray::{Array1, Array2};
use ndarray_linalg::{Cholesky, Solve, QR, UPLO};
use rand::Rng;
use rand_distr::StandardNormal;

/// A = Q diag(λ) Qᵀ with λ log-spaced from 1 to `cond` and Q orthogonal (QR of a Gaussian).
fn spd_with_condition(n: usize, cond: f64, rng: &mut impl Rng) -> Array2<f64> {
    let g = Array2::from_shape_fn((n, n), |_| rng.sample::<f64, _>(StandardNormal));
    let (q, _) = g.qr().expect("qr");
    let lam = Array1::from_shape_fn(n, |i| cond.powf(i as f64 / (n - 1) as f64));
    let a = (&q * &lam).dot(&q.t());
    (&a + &a.t()) * 0.5
}

fn c_of(n: usize, pairs: &[[usize; 2]], x: &Array1<f64>) -> Array2<f64> {
    let mut c = Array2::zeros((n, n));
    for (k, &[i, j]) in pairs.iter().enumerate() {
        c[[i, j]] = x[k];
        c[[j, i]] = x[k];
    }
    c
}

/// Φ(x) = −log det(A − C(x)), None outside the domain.
fn phi(a: &Array2<f64>, pairs: &[[usize; 2]], x: &Array1<f64>) -> Option<f64> {
    let f = (a - &c_of(a.nrows(), pairs, x))
        .cholesky(UPLO::Lower)
        .ok()?;
    Some(-2.0 * f.diag().mapv(f64::ln).sum())
}

/// Dense primal Newton on Φ over C = Σ xₖ(eᵢeⱼᵀ + eⱼeᵢᵀ): gₖ = 2Bᵢⱼ,
/// Hₖₗ = 2(B_pi B_jq + B_pj B_iq); unit steps once λ² < 1e-6, until λ² < 1e-26 after a step.
fn dense_newton(a: &Array2<f64>, pairs: &[[usize; 2]]) -> Array2<f64> {
    let (n, m) = (a.nrows(), pairs.len());
    let mut x = Array1::zeros(m);
    for _ in 0..60 {
        let b = inv(&(a - &c_of(n, pairs, &x)));
        let g = Array1::from_shape_fn(m, |k| 2.0 * b[[pairs[k][0], pairs[k][1]]]);
        let h = Array2::from_shape_fn((m, m), |(k, l)| {
            let ([i, j], [p, q]) = (pairs[k], pairs[l]);
            2.0 * (b[[p, i]] * b[[j, q]] + b[[p, j]] * b[[i, q]])
        });
        let d = h.solve(&(-&g)).expect("Newton system");
        let lambda2 = -g.dot(&d);
        let f = phi(a, pairs, &x).expect("feasible iterate");
        let mut t = 1.0;
        if lambda2 >= 1e-6 {
            for _ in 0..60 {
                match phi(a, pairs, &(&x + &(&d * t))) {
                    Some(v) if v <= f - 1e-4 * t * lambda2 => break,
                    _ => t *= 0.5,
                }
            }
        }
        x = &x + &(&d * t);
        if lambda2 < 1e-26 {
            return c_of(n, pairs, &x);
        }
    }
    panic!("the reference Newton did not converge in 60 steps");
}

#[test]
fn a_default_run_gives_c_to_1e_12_of_an_independent_dense_newton() {
    let n = 100;
    let mut r = rng(17);
    let a = spd_with_condition(n, 100.0, &mut r);
    let pairs = random_pairs(n, 0.1, &mut r);
    assert!(pairs.len() > 400, "{} pairs", pairs.len());
    let c_ref = dense_newton(&a, &pairs);
    let dir = tempfile::tempdir().unwrap();
    ndarray_npy::write_npy(dir.path().join("a.npy"), &a).expect("write A");
    let list: Vec<String> = pairs.iter().map(|[i, j]| format!("[{i},{j}]")).collect();
    let pairs_arg = format!("subspace.pairs=[{}]", list.join(","));
    let args = [
        "decompose",
        "--quiet",
        "--force",
        "--out",
        "run",
        "--set",
        "matrix.kind=file",
        "--set",
        "matrix.path=a.npy",
        "--set",
        "subspace.kind=pattern",
        "--set",
        &pairs_arg,
    ];
    let out = lab(dir.path(), &args);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let run = dir.path().join("run");
    let c: Array2<f64> = ndarray_npy::read_npy(run.join("C.npy")).expect("C.npy");
    let b: Array2<f64> = ndarray_npy::read_npy(run.join("B.npy")).expect("B.npy");
    let err = rel(&c, &c_ref);
    assert!(err <= 1e-12, "C differs by {err:e} relative");
    let b_ref = inv(&(&a - &c_ref));
    assert!(
        rel(&b, &b_ref) <= 1e-12,
        "B differs by {:e}",
        rel(&b, &b_ref)
    );
    assert!(fro(&c_ref) > 1e-3 * fro(&a), "a trivial C proves little");
    let s = json(&run.join("summary.json"));
    for key in ["residual", "reconstruction_error", "proj_l_b_rel"] {
        let v = s[key].as_f64().expect(key);
        assert!(v <= 1e-12, "{key} = {v:e}");
    }
    assert_eq!(s["converged"].as_bool(), Some(true));
}
