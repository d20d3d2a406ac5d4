//! Issue 17 item 4: the certificate phase reuses factorisations (one Cholesky factor of B for
//! log det B, B⁻¹ and the PD proof; the solver's log det(A − C); Lanczos for λ_min(B) above
//! n = 500) and reports the same numbers as computing each certificate from scratch.
use crate::decompose_common::{fro, inv, ln_det, min_eig, random_a, random_pairs, rng, run};
use lab::decompose::certify;
use lab::decompose::config::Method;
use lab::decompose::newton;
use lab::decompose::structures::Subspace;
use ndarray::Array2;
use rand::Rng;

fn close(got: f64, want: f64, tol: f64, what: &str) {
    assert!(
        (got - want).abs() <= tol * want.abs().max(1e-300),
        "{what}: {got:e} vs {want:e} (relative tolerance {tol:e})"
    );
}

/// Every certificate of `summarize` against the old from-scratch path: a fresh inverse of B,
/// a fresh Cholesky per log det, the all-Cholesky duality gap, dense eigenvalues of B.
#[test]
fn summarize_matches_the_from_scratch_certificates() {
    let n = 60;
    let mut g = rng(11);
    let a = random_a(n, &mut g);
    let pairs = random_pairs(n, 0.05, &mut g);
    let sub = Subspace::from_pairs(n, &pairs, true).expect("pairs");
    for method in [Method::Newton, Method::NewtonCg, Method::DualNewton] {
        let out = run(&a, &sub, method).expect("solves");
        if method == Method::Newton {
            let direct = ln_det(&(&a - &out.c));
            let reused = out
                .ln_det_a_minus_c
                .expect("dense primal keeps ln det(A - C)");
            close(reused, direct, 1e-12, "ln det(A - C)");
        }
        let s = lab::decompose::summarize(&a, &sub, &out).expect("certificates");
        let b = &out.b;
        let recon = fro(&(&a - &(&inv(b) + &out.c))) / fro(&a);
        // Both are rounding-level: compare on the scale of one rounding of A.
        assert!(
            (s.reconstruction_error - recon).abs() <= 1e-14,
            "{method:?}"
        );
        close(s.log_det_b_inv, -ln_det(b), 1e-12, "log det B^-1");
        close(s.min_eig_b, min_eig(b), 1e-12, "min eig B");
        let proj = sub.project_l(b).expect("projection");
        close(s.proj_l_b, fro(&proj), 1e-12, "|P_L(B)|");
        let gap = lab::decompose::duality_gap(&a, &(b - &proj), &out.c, b).expect("gap");
        // The gap is a difference of O(n·ln cond) terms: compare on their scale.
        let scale = n as f64 * (1.0 + ln_det(b).abs() / n as f64);
        let got = s.duality_gap.expect("gap computed");
        assert!(
            (got - gap).abs() <= 1e-12 * scale,
            "{method:?}: gap {got:e} vs {gap:e}"
        );
    }
}

/// The known-log-det shortcuts of `certify::duality_gap` give the all-Cholesky value.
#[test]
fn duality_gap_with_known_log_dets_equals_the_factorised_one() {
    let n = 40;
    let mut g = rng(5);
    let a = random_a(n, &mut g);
    let sub = Subspace::from_pairs(n, &random_pairs(n, 0.1, &mut g), true).expect("pairs");
    let out = run(&a, &sub, Method::Newton).expect("solves");
    let b = &out.b;
    let plain = certify::duality_gap(&a, b, &out.c, b, certify::KnownLogDets::default());
    let known = certify::KnownLogDets {
        b: Some(ln_det(b)),
        a_minus_c: Some(ln_det(&(&a - &out.c))),
    };
    let fast = certify::duality_gap(&a, b, &out.c, b, known);
    let (plain, fast) = (plain.expect("gap"), fast.expect("gap"));
    assert!(
        (plain - fast).abs() <= 1e-12 * n as f64 * 10.0,
        "{plain:e} vs {fast:e}"
    );
}

/// Above the dense-eigensolver size, λ_min(B) agrees with the dense eigenvalues: on a spectrum
/// clustered at the top (Lanczos falls back to them) and, by Lanczos, with a small top gap.
#[test]
fn lanczos_min_eig_matches_dense_eigenvalues_above_500() {
    let n = certify::DENSE_EIG_MAX + 20;
    let mut g = rng(3);
    let b = random_a(n, &mut g);
    let b_inv = inv(&b);
    let want = min_eig(&b);
    close(
        certify::min_eig(&b, &b_inv).expect("lanczos"),
        want,
        1e-9,
        "min eig",
    );
    // A known spectrum with a relative gap of 1e-3 at the top: Q diag(λ) Qᵀ.
    let q = newton::symmetric_inverse(&random_a(n, &mut g)).expect("spd");
    let (qf, _) = ndarray_linalg::QR::qr(&q).expect("qr");
    let lam: Vec<f64> = (0..n).map(|i| 1.0 + i as f64 / n as f64).collect();
    let top = lam[n - 1] * 1.001;
    let mut d = Array2::zeros((n, n));
    for (i, v) in lam.iter().enumerate() {
        d[[i, i]] = if i == n - 1 { top } else { *v };
    }
    let m = qf.dot(&d).dot(&qf.t());
    let m = (&m + &m.t()) * 0.5;
    let got = certify::lanczos_max(&m).expect("runs").expect("converges");
    close(got, top, 1e-9, "lambda max");
}

/// B = F⁻ᵀF⁻¹ by the blocked triangular product equals the full product.
#[test]
fn lower_gram_equals_the_full_product() {
    let mut g = rng(9);
    for n in [7, 300, 517] {
        let x = Array2::from_shape_fn(
            (n, n),
            |(i, j)| {
                if i >= j {
                    g.gen::<f64>() - 0.5
                } else {
                    0.0
                }
            },
        );
        let full = x.t().dot(&x);
        let got = newton::lower_gram(x.view());
        assert!(fro(&(&got - &full)) <= 1e-13 * fro(&full), "n = {n}");
        assert_eq!(got, got.t(), "n = {n}: symmetric by construction");
    }
}
