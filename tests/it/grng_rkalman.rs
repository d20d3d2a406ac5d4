//! R-Kalman's dense filter math against closed forms (grng spec §6.8 tests 14, 15, 16, 18), f64;
//! the `Stepper` on tiny softmax models in [`step`].
mod damped;
mod fallback;
mod kron;
mod step;

use crate::common::zip_eq;
use lab::grng::rkalman::dense::{
    implicit_gr, mean_direction, measurement_update, norm_upper_bound, predict, prior,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use tch::{Device, Kind, Tensor};

/// Copy `weights` (name, tensor) into the same-named variables of `vs` (a resumed model).
pub fn copy_weights(vs: &tch::nn::VarStore, weights: &[(String, Tensor)]) {
    let mut vars = vs.variables();
    tch::no_grad(|| {
        for (name, w) in weights {
            vars.get_mut(name)
                .unwrap_or_else(|| panic!("no variable {name}"))
                .copy_(w);
        }
    });
}

/// Standard normal entries from a seeded RNG (tests run in parallel: no torch global RNG).
pub fn randn(rng: &mut ChaCha8Rng, shape: &[i64]) -> Tensor {
    let n: i64 = shape.iter().product();
    let v: Vec<f64> = (0..n).map(|_| StandardNormal.sample(rng)).collect();
    Tensor::from_slice(&v).view(shape)
}

pub fn max_abs(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

fn eye(d: i64) -> Tensor {
    Tensor::eye(d, (Kind::Double, Device::Cpu))
}

fn inv(m: &Tensor) -> Tensor {
    Tensor::linalg_inv(m)
}

/// A random SPD matrix Q diag(λ) Qᵀ with eigenvalues in [lo, hi].
fn spd(rng: &mut ChaCha8Rng, d: i64, lo: f64, hi: f64) -> Tensor {
    let (q, _) = Tensor::linalg_qr(&randn(rng, &[d, d]), "reduced");
    let lam = Tensor::linspace(lo, hi, d, (Kind::Double, Device::Cpu));
    q.matmul(&lam.diag(0)).matmul(&q.tr())
}

/// The Woodbury update, unwrapped.
fn update(p: &Tensor, s: &Tensor, r: Option<&Tensor>, tau: f64) -> Tensor {
    measurement_update(p, s, r, tau)
        .unwrap()
        .expect("C is positive definite")
}

/// One pass of the linear-Gaussian Kalman filter (obs = jacobian with S = X rows, R = I) over
/// `batches` of row indices: returns (P, θ).
fn regression_pass(
    x: &Tensor,
    y: &Tensor,
    batches: &[Vec<i64>],
    tau: f64,
    s0: f64,
) -> (Tensor, Tensor) {
    let d = x.size()[1];
    let mut p = prior(d, s0, Device::Cpu);
    let mut theta = Tensor::zeros([d], (Kind::Double, Device::Cpu));
    for b in batches {
        let idx = Tensor::from_slice(b);
        let (xb, yb) = (x.index_select(0, &idx), y.index_select(0, &idx));
        let m = b.len() as i64;
        p = update(&predict(&p, 1.0), &xb, None, tau);
        // Σ_j ∇ℓ_j with ℓ_j = (y_j − x_jᵀθ)²/(2τ); mean_direction takes the mean gradient.
        let grad_sum = -xb.tr().mv(&(&yb - xb.mv(&theta))) / tau;
        theta = &theta - mean_direction(&p, &(grad_sum / m as f64), m);
    }
    (p, theta)
}

fn chunks(order: &[i64], size: usize) -> Vec<Vec<i64>> {
    order.chunks(size).map(<[i64]>::to_vec).collect()
}

/// §6.8 test 14: one pass over the data gives the exact Gaussian posterior, whatever the
/// batch order and size.
#[test]
fn exact_bayes_on_linear_gaussian_regression() {
    let mut rng = ChaCha8Rng::seed_from_u64(14);
    let (n, d, tau, s0) = (40, 5, 0.3_f64, 2.0);
    let x = randn(&mut rng, &[n, d]);
    let y = x.mv(&randn(&mut rng, &[d])) + randn(&mut rng, &[n]) * tau.sqrt();
    let xtx = x.tr().matmul(&x);
    let p_star = inv(&(&xtx / tau + eye(d) / s0));
    let theta_star = Tensor::linalg_solve(&(&xtx + eye(d) * (tau / s0)), &x.tr().mv(&y), true);
    let order: Vec<i64> = (0..n).collect();
    let mut shuffled = order.clone();
    rand::seq::SliceRandom::shuffle(shuffled.as_mut_slice(), &mut rng);
    for batches in [
        chunks(&order, 7),
        chunks(&order, 1),
        chunks(&order, 40),
        chunks(&shuffled, 6),
    ] {
        let (p, theta) = regression_pass(&x, &y, &batches, tau, s0);
        assert!(
            max_abs(&p, &p_star) < 1e-8,
            "covariance off by {}",
            max_abs(&p, &p_star)
        );
        assert!(
            max_abs(&theta, &theta_star) < 1e-8,
            "mean off by {}",
            max_abs(&theta, &theta_star)
        );
    }
}

/// §6.8 test 15: the Woodbury update equals the direct inverse; P stays exactly symmetric and
/// positive definite over 1000 random predict / GR / update steps.
#[test]
fn woodbury_matches_direct_inverse_and_keeps_p_spd() {
    let mut rng = ChaCha8Rng::seed_from_u64(15);
    let d = 8;
    let p = spd(&mut rng, d, 0.1, 3.0);
    let s = randn(&mut rng, &[3, d]);
    let tau = 0.7;
    let direct = inv(&(inv(&p) + s.tr().matmul(&s) / tau));
    let rel = max_abs(&update(&p, &s, None, tau), &direct) / direct.abs().max().double_value(&[]);
    assert!(rel < 1e-9, "identity noise: relative error {rel}");
    let r = spd(&mut rng, 3, 0.5, 2.0);
    let direct = inv(&(inv(&p) + s.tr().matmul(&inv(&r)).matmul(&s) / tau));
    let rel =
        max_abs(&update(&p, &s, Some(&r), tau), &direct) / direct.abs().max().double_value(&[]);
    assert!(rel < 1e-9, "matrix noise: relative error {rel}");

    let d = 6;
    let mut p = prior(d, 1.0, Device::Cpu);
    for step in 0..1000 {
        let delta = 0.3 * rand::Rng::gen::<f64>(&mut rng);
        p = implicit_gr(&predict(&p, 0.95), delta).p;
        p = update(&p, &(randn(&mut rng, &[2, d]) * 2.0), None, 0.5);
        let asym = max_abs(&p, &p.tr());
        assert!(asym < 1e-12, "step {step}: ‖P − Pᵀ‖ = {asym}");
        let (_, info) = p.linalg_cholesky_ex(false, false);
        assert_eq!(
            info.int64_value(&[]),
            0,
            "step {step}: P is not positive definite"
        );
    }
}

/// Ollivier's online natural gradient on binary logistic regression, coded independently:
/// precision Λ_k = β Λ_{k−1} + F_k (Λ_0 = P_0⁻¹), θ_k = θ_{k−1} − (1/Z_k) J_k⁻¹ Σ_j ∇ℓ_j with
/// J_k = Λ_k / Z_k and Z_k = Σ_{t≤k} β^{k−t} (Z_k = k + 1 for β = 1), by a dense solve.
fn online_natural_gradient(
    x: &Tensor,
    y: &Tensor,
    batches: &[Vec<i64>],
    beta: f64,
    s0: f64,
) -> Vec<Tensor> {
    let d = x.size()[1];
    let mut lambda = eye(d) / s0;
    let (mut z, mut theta) = (1.0, Tensor::zeros([d], (Kind::Double, Device::Cpu)));
    let mut path = Vec::new();
    for b in batches {
        let idx = Tensor::from_slice(b);
        let (xb, yb) = (x.index_select(0, &idx), y.index_select(0, &idx));
        let p = xb.mv(&theta).sigmoid();
        let w: Tensor = &p * (1.0 - &p); // (m,)
        lambda = lambda * beta + xb.tr().matmul(&(&xb * w.unsqueeze(1)));
        z = beta * z + 1.0;
        let j = &lambda / z;
        let grad_sum = xb.tr().mv(&(p - &yb));
        theta = &theta - Tensor::linalg_solve(&j, &grad_sum, true) / z;
        path.push(theta.copy());
    }
    path
}

/// The dense R-Kalman filter on the same problem: `obs = jacobian` with H_j = p_j(1−p_j) x_jᵀ
/// (Jacobian of the mean output) and R = diag(p_j(1−p_j)), τ = 1, η = 1, ρ = 0.
fn rkalman_logistic(
    x: &Tensor,
    y: &Tensor,
    batches: &[Vec<i64>],
    beta: f64,
    s0: f64,
) -> Vec<Tensor> {
    let d = x.size()[1];
    let mut p_cov = prior(d, s0, Device::Cpu);
    let mut theta = Tensor::zeros([d], (Kind::Double, Device::Cpu));
    let mut path = Vec::new();
    for b in batches {
        let idx = Tensor::from_slice(b);
        let (xb, yb) = (x.index_select(0, &idx), y.index_select(0, &idx));
        let m = b.len() as i64;
        let p = xb.mv(&theta).sigmoid();
        let w: Tensor = &p * (1.0 - &p);
        let h = &xb * w.unsqueeze(1); // (m, d)
        p_cov = implicit_gr(&predict(&p_cov, beta), 0.0).p;
        p_cov = update(&p_cov, &h, Some(&w.diag(0)), 1.0);
        let mean_grad = xb.tr().mv(&(p - &yb)) / m as f64;
        theta = &theta - mean_direction(&p_cov, &mean_grad, m);
        path.push(theta.copy());
    }
    path
}

/// §6.8 test 16: R-Kalman = online natural gradient over 50 steps, with β = 1 and β < 1.
#[test]
fn ollivier_equivalence_on_logistic_regression() {
    let mut rng = ChaCha8Rng::seed_from_u64(16);
    let (n, d) = (40, 4);
    let x = randn(&mut rng, &[n, d]);
    let logits = x.mv(&randn(&mut rng, &[d]));
    let u: Vec<f64> = (0..n).map(|_| rand::Rng::gen::<f64>(&mut rng)).collect();
    let y = Tensor::from_slice(&u)
        .lt_tensor(&logits.sigmoid())
        .to_kind(Kind::Double);
    let order: Vec<i64> = (0..n).collect();
    let batches: Vec<Vec<i64>> = (0..50)
        .map(|k| order[(k % 10) * 4..(k % 10) * 4 + 4].to_vec())
        .collect();
    for beta in [1.0, 0.9] {
        let ong = online_natural_gradient(&x, &y, &batches, beta, 1.5);
        let rk = rkalman_logistic(&x, &y, &batches, beta, 1.5);
        for (k, (a, b)) in zip_eq(&ong, &rk).enumerate() {
            let err = max_abs(a, b);
            assert!(
                err < 1e-8,
                "β = {beta}, step {k}: trajectories differ by {err}"
            );
        }
        assert!(
            ong[49].abs().max().double_value(&[]) > 0.1,
            "the trajectory moved"
        );
    }
}

/// §6.8 test 18: P − δP² matches (P⁻¹ + δI)⁻¹ to O(δ²) (halving δ quarters the error); when
/// δ‖P‖₂ > 0.5 the guard falls back to Newton iteration, which is exact (both warm-start
/// regimes: δ‖P‖_F below and above 0.9).
#[test]
fn implicit_gr_is_second_order_and_guarded() {
    let mut rng = ChaCha8Rng::seed_from_u64(18);
    let d = 10;
    let p = spd(&mut rng, d, 0.2, 2.0);
    let exact = |delta: f64| inv(&(inv(&p) + eye(d) * delta));
    let err = |delta: f64| {
        let step = implicit_gr(&p, delta);
        assert!(!step.fallback, "δ = {delta} is inside the guard");
        max_abs(&step.p, &exact(delta))
    };
    let (e1, e2) = (err(0.02), err(0.01));
    let ratio = e1 / e2;
    assert!(
        (3.6..=4.4).contains(&ratio),
        "error ratio {ratio} ({e1} vs {e2})"
    );
    let bound = norm_upper_bound(&p);
    assert!(
        (2.0..2.0 * 10f64.sqrt()).contains(&bound),
        "‖P‖₂ = 2, bound {bound}"
    );
    // One dominant eigenvalue 2 (others 0.05): δ = 0.4 fails the guard with δ‖P‖_F < 0.9.
    let v = randn(&mut rng, &[d, 1]);
    let v = &v / v.norm();
    let spiked = eye(d) * 0.05 + v.matmul(&v.tr()) * 1.95;
    for (m, delta) in [(&p, 0.26), (&p, 1.0), (&p, 40.0), (&spiked, 0.4)] {
        let exact = inv(&(inv(m) + eye(d) * delta));
        let step = implicit_gr(m, delta);
        assert!(
            step.fallback,
            "δ = {delta}: δ‖P‖₂ > 0.5 must trigger the fallback"
        );
        assert!(
            step.newton_iters > 0 && step.newton_resid < 1e-10,
            "{step:?}"
        );
        let e = max_abs(&step.p, &exact);
        assert!(e < 1e-10, "δ = {delta}: fallback off by {e}");
    }
    assert_eq!(implicit_gr(&p, 0.0).p, p, "δ = 0 leaves P unchanged");
}
