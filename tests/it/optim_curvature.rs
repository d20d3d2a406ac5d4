//! Curvature linear algebra (grng spec §6.5 tests 2–4, §6.8 test 18): Newton–Schulz inverses
//! against `linalg_inv`, the matrix-differential damping shift against exact inverses, and both
//! damping schemes against dense Kronecker products (f64 unless noted).
use lab::optim::curvature::{
    cholesky_fallbacks, damped_inverse, damped_inverse_in, eigen_precondition,
    factored_precondition, factored_split, has_nonfinite, newton_refine, shift_damping,
    shifted_precondition, spectral_norm, InverseRoute, NewtonOptions, ShiftOrder,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use tch::{Kind, Tensor};

const EPS: f64 = f64::EPSILON;

/// `(rows, cols)` standard normal f64 from a seeded RNG (torch's global generator is shared
/// between test threads).
fn randn(rng: &mut ChaCha8Rng, rows: i64, cols: i64) -> Tensor {
    let v: Vec<f64> = (0..rows * cols)
        .map(|_| rng.sample(StandardNormal))
        .collect();
    Tensor::from_slice(&v).view([rows, cols])
}

fn orthogonal(rng: &mut ChaCha8Rng, d: i64) -> Tensor {
    Tensor::linalg_qr(&randn(rng, d, d), "reduced").0
}

/// `Q diag(logspace(0, log10 κ)) Qᵀ`, `(d, d)`: SPD with condition number κ, ‖M‖₂ = κ.
fn spd(rng: &mut ChaCha8Rng, d: i64, kappa: f64) -> Tensor {
    let q = orthogonal(rng, d);
    let ev = Tensor::logspace(
        0.0,
        kappa.log10(),
        d,
        10.0,
        (Kind::Double, tch::Device::Cpu),
    );
    (&q * ev.unsqueeze(0)).mm(&q.transpose(0, 1))
}

/// A K-FAC-like factor `XᵀX/m` `(d, d)`, singular when `m < d`.
fn gram(rng: &mut ChaCha8Rng, m: i64, d: i64) -> Tensor {
    let x = randn(rng, m, d);
    x.transpose(0, 1).mm(&x) / m as f64
}

fn eye(d: i64) -> Tensor {
    Tensor::eye(d, (Kind::Double, tch::Device::Cpu))
}

fn norm(t: &Tensor) -> f64 {
    t.to_kind(Kind::Double).norm().double_value(&[])
}

/// `‖I − M X‖_F` in f64.
fn resid(m: &Tensor, x: &Tensor) -> f64 {
    let m = m.to_kind(Kind::Double);
    norm(&(eye(m.size()[0]) - m.mm(&x.to_kind(Kind::Double))))
}

fn rel_err(a: &Tensor, b: &Tensor) -> f64 {
    norm(&(a.to_kind(Kind::Double) - b.to_kind(Kind::Double))) / norm(b)
}

fn largest_eigenvalue(m: &Tensor) -> f64 {
    Tensor::linalg_eigvalsh(m, "L")
        .abs()
        .max()
        .double_value(&[])
}

#[test]
fn cold_newton_reaches_the_residual_bound_quadratically() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for d in [8_i64, 64, 129] {
        for kappa in [10.0_f64, 1e3, 1e5] {
            let m = spd(&mut rng, d, kappa);
            let floor = 100.0 * d as f64 * kappa * EPS;
            let bound = floor.max(1e-12);
            let budget = (2.0 * kappa.log2()).ceil() as u32 + 8;
            let opts = NewtonOptions {
                max_cold: budget,
                tol: Some(bound),
                ..Default::default()
            };
            let inv = damped_inverse(&m, 0.0, None, &opts).unwrap();
            let case = format!("d = {d}, κ = {kappa:e}: {inv:?}");
            assert_eq!(inv.route, InverseRoute::Cold, "{case}");
            assert!(inv.iters <= budget, "{case}");
            assert!(
                resid(&m, &inv.x) < bound,
                "{case}: residual {}",
                resid(&m, &inv.x)
            );
            assert!(
                inv.history[0] > 0.5,
                "{case}: a cold start begins far from the inverse"
            );
            for pair in inv.history.windows(2) {
                if pair[0] < 0.5 {
                    assert!(
                        pair[1] <= 1.01 * pair[0] * pair[0] + floor,
                        "{case}: {pair:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn default_tolerance_inverts_a_singular_factor_plus_damping() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let (d, delta) = (40, 1e-3);
    let a = gram(&mut rng, 10, d); // rank 10
    let inv = damped_inverse(&a, delta, None, &NewtonOptions::default()).unwrap();
    let damped = &a + eye(d) * delta;
    let kappa_hat = (a.trace().double_value(&[]) + delta) / delta;
    let tol = 1e-10_f64.max(10.0 * d as f64 * kappa_hat * EPS);
    assert_eq!(inv.route, InverseRoute::Cold);
    assert!(
        inv.resid < tol && resid(&damped, &inv.x) < tol,
        "{inv:?}, tol {tol}"
    );
    assert!(rel_err(&inv.x, &damped.inverse()) < 1e-8);
    assert!(
        rel_err(&inv.x, &inv.x.transpose(0, 1)) < 1e-15,
        "the inverse is symmetric"
    );
}

#[test]
fn warm_start_from_a_nearby_inverse_needs_at_most_three_iterations() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for d in [8_i64, 64, 129] {
        let m = spd(&mut rng, d, 10.0);
        let e = randn(&mut rng, d, d);
        let e = &e + e.transpose(0, 1);
        let e = &e * (1e-3 * largest_eigenvalue(&m) / largest_eigenvalue(&e)); // ‖E‖₂ = 1e-3‖M‖₂
        let warm = (&m + e).inverse();
        let inv = damped_inverse(&m, 0.0, Some(&warm), &NewtonOptions::default()).unwrap();
        assert_eq!(inv.route, InverseRoute::Warm, "d = {d}: {inv:?}");
        assert!(inv.iters <= 3, "d = {d}: {inv:?}");
        assert!(resid(&m, &inv.x) < 1e-10, "d = {d}: {inv:?}");
    }
}

#[test]
fn diverging_warm_start_restarts_cold_and_still_inverts() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let m = spd(&mut rng, 64, 1e3);
    let truth = m.inverse();
    let warm = &truth * 10.0; // R₀ = I − M·10M⁻¹ = −9I
    let inv = damped_inverse(&m, 0.0, Some(&warm), &NewtonOptions::default()).unwrap();
    assert_eq!(inv.route, InverseRoute::ColdRestart, "{inv:?}");
    let nan_warm = &truth * f64::NAN;
    let restarted = damped_inverse(&m, 0.0, Some(&nan_warm), &NewtonOptions::default()).unwrap();
    assert_eq!(
        restarted.route,
        InverseRoute::ColdRestart,
        "a non-finite warm start is dropped"
    );
    let cold_iters = inv.history.len() as u32 - 1;
    assert!(
        inv.iters > cold_iters,
        "the failed warm iterations are counted: {inv:?}"
    );
    assert!(rel_err(&inv.x, &truth) < 1e-8, "{inv:?}");
}

#[test]
fn f32_iteration_and_the_f64_policy() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for kappa in [10.0, 1e3] {
        let m = spd(&mut rng, 64, kappa).to_kind(Kind::Float);
        let opts = NewtonOptions::default();
        let native = damped_inverse_in(&m, 0.0, None, &opts, Kind::Float).unwrap();
        assert_eq!(native.x.kind(), Kind::Float);
        assert_ne!(
            native.route,
            InverseRoute::Cholesky,
            "κ = {kappa}: {native:?}"
        );
        assert!(resid(&m, &native.x) < 1e-2, "κ = {kappa}: {native:?}");
        // d ≤ 512: iterated in f64 (residual at f64 level), returned as f32.
        let promoted = damped_inverse(&m, 0.0, None, &opts).unwrap();
        assert_eq!(promoted.x.kind(), Kind::Float);
        assert!(promoted.resid < 1e-9, "κ = {kappa}: {promoted:?}");
        assert!(resid(&m, &promoted.x) < 1e-2);
    }
}

#[test]
fn newton_that_cannot_converge_falls_back_to_cholesky_and_counts_it() {
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let m = spd(&mut rng, 64, 1e3);
    let before = cholesky_fallbacks();
    let opts = NewtonOptions {
        max_cold: 2,
        ..Default::default()
    };
    let inv = damped_inverse(&m, 0.5, None, &opts).unwrap();
    assert_eq!(inv.route, InverseRoute::Cholesky, "{inv:?}");
    assert_eq!(inv.iters, 2);
    assert!(cholesky_fallbacks() > before);
    let damped = &m + eye(64) * 0.5;
    assert!(rel_err(&inv.x, &damped.inverse()) < 1e-12);
    assert!(inv.resid < 1e-12);
}

#[test]
fn bad_inputs_are_errors_that_say_what_is_wrong() {
    let opts = NewtonOptions::default();
    let err = |m: &Tensor, delta: f64| {
        damped_inverse(m, delta, None, &opts)
            .unwrap_err()
            .to_string()
    };
    assert!(err(&Tensor::ones([2, 3], (Kind::Double, tch::Device::Cpu)), 0.1).contains("square"));
    assert!(err(&eye(3), -1.0).contains("damping"));
    let nan = eye(3) * f64::NAN;
    assert!(has_nonfinite(&nan) && !has_nonfinite(&eye(3)));
    assert!(has_nonfinite(&(eye(2) / 0.0)), "±inf counts");
    assert!(err(&nan, 0.1).contains("non-finite"));
    // Indefinite: Newton diverges, Cholesky fails, the error says to raise the damping.
    let indefinite = Tensor::from_slice(&[3.0, 0.0, 0.0, -1.0]).view([2, 2]);
    let msg = err(&indefinite, 0.0);
    assert!(
        msg.contains("not positive definite") && msg.contains("raise the damping"),
        "{msg}"
    );
    let warm = eye(4);
    let msg = damped_inverse(&eye(3), 0.1, Some(&warm), &opts)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("warm start has shape"), "{msg}");
}

/// ‖X(δ+Δ) estimate − (M + (δ+Δ)I)⁻¹‖_F.
fn shift_error(m: &Tensor, delta: f64, change: f64, order: ShiftOrder) -> f64 {
    let d = m.size()[0];
    let x = (m + eye(d) * delta).inverse();
    let shifted = shift_damping(&x, change, order).expect("inside the guard");
    norm(&(shifted - (m + eye(d) * (delta + change)).inverse()))
}

#[test]
fn matrix_differential_error_is_second_and_third_order() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let m = spd(&mut rng, 32, 100.0);
    let delta = 0.5;
    let x_norm = 1.0 / (1.0 + delta); // λ_min(M) = 1
    for sign in [1.0, -1.0] {
        let change = sign * 0.02 / x_norm;
        for (order, factor) in [(ShiftOrder::First, 4.0), (ShiftOrder::Second, 8.0)] {
            let ratio =
                shift_error(&m, delta, change, order) / shift_error(&m, delta, change / 2.0, order);
            assert!(
                (ratio / factor - 1.0).abs() < 0.1,
                "{order:?}, Δ = {change}: ratio {ratio}"
            );
        }
    }
}

#[test]
fn implicit_gr_step_is_second_order_and_guarded() {
    // §6.8 test 18: P − δP² ≈ (P⁻¹ + δI)⁻¹ to O(δ²); the guard refuses δ‖P‖₂ > ½.
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let p = gram(&mut rng, 80, 20) + eye(20) * 0.1;
    let p_norm = largest_eigenvalue(&p);
    let error = |delta: f64| {
        let step = shift_damping(&p, delta, ShiftOrder::First).expect("inside the guard");
        let exact = (p.inverse() + eye(20) * delta).inverse();
        norm(&(step - exact))
    };
    let delta = 0.1 / p_norm;
    let (e1, e2) = (error(delta), error(delta / 2.0));
    assert!((e1 / e2 / 4.0 - 1.0).abs() < 0.1, "ratio {}", e1 / e2);
    let p3 = p.mm(&p).mm(&p);
    assert!(
        e1 <= delta * delta * norm(&p3) * 1.01,
        "error {e1} beyond δ²‖P³‖"
    );
    assert!(shift_damping(&p, 0.6 / p_norm, ShiftOrder::First).is_none());
    assert!(shift_damping(&p, -0.6 / p_norm, ShiftOrder::Second).is_none());
    assert!(shift_damping(&p, 0.45 / p_norm, ShiftOrder::First).is_some());
}

#[test]
fn newton_refine_after_a_refused_shift_contracts_the_residual() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let m = spd(&mut rng, 24, 50.0);
    let (delta, x_norm) = (1.0, 0.5); // λ_min(M + δI) = 2
    let x = (&m + eye(24) * delta).inverse();
    let change = 0.6 / x_norm;
    assert!(shift_damping(&x, change, ShiftOrder::First).is_none());
    let target = &m + eye(24) * (delta + change);
    let r0 = resid(&target, &x);
    let (refined, r2) = newton_refine(&target, &x, 2).unwrap();
    // Per eigen-direction the residual −Δx_i is raised to the 4th power: r₂ ≤ 0.6³ r₀.
    assert!(r2 <= 0.6_f64.powi(3) * r0 * 1.01, "r0 {r0}, r2 {r2}");
    assert!((resid(&target, &refined) - r2).abs() < 1e-12);
}

#[test]
fn implicit_lazy_preconditioning_matches_the_explicit_shift() {
    let mut rng = ChaCha8Rng::seed_from_u64(10);
    let x_g = (gram(&mut rng, 20, 4) + eye(4) * 0.3).inverse();
    let x_a = (gram(&mut rng, 20, 6) + eye(6) * 0.2).inverse();
    let grad = randn(&mut rng, 4, 6);
    let (dg, da) = (
        1e-3 / largest_eigenvalue(&x_g),
        -1e-3 / largest_eigenvalue(&x_a),
    );
    let explicit = factored_precondition(
        &grad,
        &shift_damping(&x_g, dg, ShiftOrder::First).unwrap(),
        &shift_damping(&x_a, da, ShiftOrder::First).unwrap(),
    );
    let implicit = shifted_precondition(&grad, &x_g, &x_a, dg, da);
    assert!(rel_err(&implicit, &explicit) < 1e-5);
    assert!(
        rel_err(&implicit, &factored_precondition(&grad, &x_g, &x_a)) > 1e-4,
        "Δ matters"
    );
}

#[test]
fn power_iteration_estimates_the_spectral_norm_from_below() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    // Symmetric indefinite with eigenvalues linspace(−10, 6): ‖S‖₂ = 10 from a negative one.
    let q = orthogonal(&mut rng, 30);
    let ev = Tensor::linspace(-10.0, 6.0, 30, (Kind::Double, tch::Device::Cpu));
    let s = (&q * ev.unsqueeze(0)).mm(&q.transpose(0, 1));
    assert!(spectral_norm(&s, 3) <= 10.0 * (1.0 + 1e-12));
    assert!((spectral_norm(&s, 300) / 10.0 - 1.0).abs() < 1e-9);
    let p = spd(&mut rng, 30, 1e3);
    assert!((spectral_norm(&p, 50) / 1e3 - 1.0).abs() < 1e-6);
    assert_eq!(spectral_norm(&(eye(5) * 0.0), 5), 0.0);
}

/// `(d_out·d_in)` row-major flattening of `w`, as a column.
fn vec_r(w: &Tensor) -> Tensor {
    w.reshape([-1, 1])
}

#[test]
fn exact_eigen_preconditioning_equals_the_dense_damped_kronecker_solve() {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let (d_out, d_in, lambda) = (4_i64, 6_i64, 1e-2);
    for a in [gram(&mut rng, 30, d_in), gram(&mut rng, 3, d_in)] {
        let g = gram(&mut rng, 25, d_out);
        let grad = randn(&mut rng, d_out, d_in);
        let u = eigen_precondition(&grad, &a, &g, lambda).unwrap();
        assert_eq!(u.size(), [d_out, d_in]);
        let dense = g.kron(&a) + eye(d_out * d_in) * lambda;
        let want = Tensor::linalg_solve(&dense, &vec_r(&grad), true);
        assert!(
            rel_err(&vec_r(&u), &want) < 1e-10,
            "{}",
            rel_err(&vec_r(&u), &want)
        );
    }
    let grad = randn(&mut rng, d_out, d_in);
    let bad = eigen_precondition(&grad, &eye(d_out), &eye(d_in), lambda).unwrap_err();
    assert!(bad.to_string().contains("needs A (6, 6)"), "{bad}");
    let bad = eigen_precondition(&grad, &eye(d_in), &eye(d_out), 0.0).unwrap_err();
    assert!(bad.to_string().contains("must be > 0"), "{bad}");
}

#[test]
fn factored_damping_equals_the_dense_kronecker_of_damped_inverses() {
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let (d_out, d_in, lambda) = (5_i64, 7_i64, 3e-2);
    let a = gram(&mut rng, 4, d_in) * 9.0; // singular, large trace
    let g = gram(&mut rng, 40, d_out) * 0.01;
    let (delta_a, delta_g) = factored_split(&a, &g, lambda);
    let pi2 =
        (a.trace().double_value(&[]) / d_in as f64) / (g.trace().double_value(&[]) / d_out as f64);
    assert!((delta_a * delta_g / lambda - 1.0).abs() < 1e-12);
    assert!((delta_a / delta_g / pi2 - 1.0).abs() < 1e-12);
    let opts = NewtonOptions::default();
    let x_a = damped_inverse(&a, delta_a, None, &opts).unwrap().x;
    let x_g = damped_inverse(&g, delta_g, None, &opts).unwrap().x;
    let grad = randn(&mut rng, d_out, d_in);
    let u = factored_precondition(&grad, &x_g, &x_a);
    let inv_g = (&g + eye(d_out) * delta_g).inverse();
    let inv_a = (&a + eye(d_in) * delta_a).inverse();
    let want = inv_g.kron(&inv_a).mm(&vec_r(&grad));
    assert!(
        rel_err(&vec_r(&u), &want) < 1e-8,
        "{}",
        rel_err(&vec_r(&u), &want)
    );
    // A zero factor has no usable trace: π = 1, both get √λ.
    let (da, dg) = factored_split(&a, &(eye(d_out) * 0.0), lambda);
    assert!((da - lambda.sqrt()).abs() < 1e-15 && (dg - lambda.sqrt()).abs() < 1e-15);
}
