//! The Kronecker form's implicit GR as an operator (`rkalman::damped`): on each route it applies
//! the same P̃ as the dense formula, from either side, without forming it.
use crate::grng_newton::rel;
use lab::grng::rkalman::damped::{damp_factor, Damped};
use lab::grng::rkalman::kron::Factor;
use tch::{Device, Kind, Tensor};

const F64: (Kind, Device) = (Kind::Double, Device::Cpu);

/// A random SPD `(k, k)` with eigenvalues in [1e-2, top].
fn spd(k: i64, top: f64, seed: i64) -> Tensor {
    tch::manual_seed(seed);
    let q = Tensor::randn([k, k], F64).f_linalg_eigh("L").unwrap().1;
    let ev = Tensor::logspace(-2.0, top.log10(), k, 10.0, F64);
    (&q * ev.unsqueeze(0)).matmul(&q.transpose(0, 1))
}

#[test]
fn each_route_applies_the_dense_damped_covariance_from_both_sides() {
    let k = 9;
    let eye = Tensor::eye(k, F64);
    tch::manual_seed(5);
    let (x_right, x_left) = (Tensor::randn([4, k], F64), Tensor::randn([k, 3], F64));
    // (top eigenvalue of P, δ, expected route): δ‖P‖ = 0, 0.2 (first order), 50 (exact).
    for (top, delta, route) in [
        (1.0, 0.0, "plain"),
        (1.0, 0.2, "first"),
        (100.0, 0.5, "exact"),
    ] {
        let p = spd(k, top, 7);
        let d = damp_factor(&Factor::new(p.shallow_clone()), delta);
        let expected = match route {
            "plain" => p.shallow_clone(),
            "first" => &p - p.matmul(&p) * delta,
            _ => (p.inverse() + &eye * delta).inverse(),
        };
        let got_route = match &d.op {
            Damped::Matrix(_) => "plain",
            Damped::FirstOrder { .. } => "first",
            Damped::Exact { .. } => "exact",
        };
        assert_eq!(got_route, route);
        assert_eq!(d.fallback, route == "exact");
        assert!(
            rel(&d.op.right(&x_right), &x_right.matmul(&expected)) < 1e-10,
            "{route}"
        );
        assert!(
            rel(&d.op.left(&x_left), &expected.matmul(&x_left)) < 1e-10,
            "{route}"
        );
        assert!(rel(&d.op.dense(), &expected) < 1e-10, "{route}");
    }
}

/// Past the guard the exact form is bounded by 1/δ however large P grows (unobserved
/// directions under forgetting), where the first-order form would go negative.
#[test]
fn the_exact_route_caps_the_damped_covariance_at_one_over_delta() {
    let p = spd(6, 1e6, 11);
    let d = damp_factor(&Factor::new(p), 0.1);
    let top = d.op.dense().linalg_eigvalsh("L").max().double_value(&[]);
    assert!(top < 10.0 && top > 9.9, "{top}");
}
