//! RENG and RING, the gradient-regularized K-FAC variants (grng spec §2.2, §2.3), against
//! §6.7 tests 10, 11, 13 (their resume test of §6.11 is in `grng_newton_state`, with K-FAC's
//! newton form). Models and helpers: `kfac_fixture`.
use crate::common::zip_eq;
use crate::kfac_fixture::{
    assert_same_trajectory, batch, delta, groups, plain, small_schedule, Mlp,
};
use lab::optim::kfac::{GrNorm, InverseMethod, Kfac, KfacConfig};
use lab::optim::stepper::{mean_ce, Objective, Stepper};
use tch::{Kind, Tensor};

const D: i64 = 4;
const H: i64 = 5;
const C: i64 = 3;
/// The twin models of `assert_same_trajectory`: (d_in, hidden, classes, seed).
const TWINS: (i64, i64, i64, u64) = (D, H, C, 21);
const KFAC_PARAMS: [&str; 4] = ["l1.bias", "l1.weight", "l2.bias", "l2.weight"];

#[test]
fn reng_with_rho_zero_is_kfac_step_for_step() {
    // Both with eigen inverses (`grng_newton` repeats this with newton ones).
    let reng = small_schedule(KfacConfig {
        rho: 0.0,
        inverse: InverseMethod::Eigen,
        ..KfacConfig::reng()
    });
    assert_same_trajectory(small_schedule(KfacConfig::kfac()), reng, TWINS, 8, 1e-12);
}

#[test]
fn ring_with_rho_zero_is_kfac_with_the_floor_damping() {
    let ring = small_schedule(KfacConfig {
        rho: 0.0,
        inverse: InverseMethod::Eigen,
        ..KfacConfig::ring()
    });
    let kfac = small_schedule(KfacConfig {
        damping: ring.damping,
        ..KfacConfig::kfac()
    });
    assert_same_trajectory(kfac, ring, TWINS, 8, 1e-12);
}

/// The gradient of the mean cross-entropy of batch `k` at the model's parameters, by name.
fn gradient(m: &Mlp, k: u64) -> Vec<(String, Tensor)> {
    let mut b = batch(m, k, 8, D, C);
    let (logits, _) = b.forward(false).unwrap();
    let vars = m.vs.variables();
    for t in vars.values() {
        t.shallow_clone().zero_grad();
    }
    mean_ce(&logits, &b.y).backward();
    let mut out: Vec<(String, Tensor)> = vars
        .into_iter()
        .map(|(n, t)| (n, t.grad().copy()))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn ring_with_huge_rho_steps_along_the_gradient_scaled_by_one_over_delta() {
    for gr_norm in [GrNorm::Global, GrNorm::PerLayer] {
        let m = Mlp::new(D, H, C, 22);
        let g = gradient(&m.twin(D, H, C), 3);
        let cfg = KfacConfig {
            rho: 1e6,
            gr_norm,
            ..plain(KfacConfig::ring())
        };
        let before = m.values();
        let mut s = Kfac::new(groups(&m, D, C, 0.0), cfg).unwrap();
        let r = s.step(&mut batch(&m, 3, 8, D, C)).unwrap();
        let after = m.values();
        let layers: [&[&str]; 2] = [&KFAC_PARAMS[..2], &KFAC_PARAMS[2..]];
        for names in layers {
            let (mut u, mut gv) = (Vec::new(), Vec::new());
            for name in names {
                u.extend(delta(&before, &after, name).iter().map(|d| -d)); // U = −Δθ/η, η = 1
                let t = &g.iter().find(|(n, _)| n == name).unwrap().1;
                gv.extend(Vec::<f64>::try_from(t.flatten(0, -1)).unwrap());
            }
            let dot: f64 = zip_eq(&u, &gv).map(|(a, b)| a * b).sum();
            let (nu, ng) = (norm(&u), norm(&gv));
            assert!(
                dot / (nu * ng) > 0.999,
                "{gr_norm:?} cosine {}",
                dot / (nu * ng)
            );
            let g_sq = match gr_norm {
                GrNorm::Global => r.grad_norm.powi(2),
                GrNorm::PerLayer => ng * ng,
            };
            let delta_k = 1e-4 + 1e6 * g_sq;
            assert!(
                (nu * delta_k / ng - 1.0).abs() < 0.01,
                "{gr_norm:?} ‖U‖δ/‖g‖ = {}",
                nu * delta_k / ng
            );
            if gr_norm == GrNorm::Global {
                assert!((r.damping_eff.unwrap() / delta_k - 1.0).abs() < 1e-12);
            }
        }
    }
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

#[test]
fn reng_direction_is_the_preconditioned_gr_gradient_with_fd_hessian() {
    let (rho, lambda) = (0.3, 1e-3);
    let m = Mlp::new(D, H, C, 23);
    let probe = m.twin(D, H, C);
    // g and Hg = (∇L(θ + εg) − ∇L(θ − εg)) / 2ε by central differences.
    let g = gradient(&probe, 4);
    let eps = 1e-5;
    let shift = |sign: f64| {
        let vars = probe.vs.variables();
        tch::no_grad(|| {
            for (n, gt) in &g {
                let mut p = vars[n].shallow_clone();
                let _ = p.g_add_(&(gt * (sign * eps)));
            }
        });
    };
    shift(1.0);
    let g_plus = gradient(&probe, 4);
    shift(-2.0);
    let g_minus = gradient(&probe, 4);
    let v: Vec<(String, Tensor)> = zip_eq(&g, zip_eq(&g_plus, &g_minus))
        .map(|((n, g0), ((_, gp), (_, gm)))| (n.clone(), g0 + (gp - gm) * (rho / (2.0 * eps))))
        .collect();
    let cfg = KfacConfig {
        rho,
        damping: lambda,
        ..plain(KfacConfig::reng())
    };
    let before = m.values();
    let mut s = Kfac::new(groups(&m, D, C, 0.0), cfg).unwrap();
    let r = s.step(&mut batch(&m, 4, 8, D, C)).unwrap();
    let g_sq: f64 = g
        .iter()
        .map(|(_, t)| t.square().sum(Kind::Double).double_value(&[]))
        .sum();
    assert!((r.grad_norm - g_sq.sqrt()).abs() < 1e-12);
    assert!((r.gr_penalty.unwrap() - 0.5 * rho * g_sq).abs() < 1e-12);
    let after = m.values();
    let vt = |n: &str| v.iter().find(|(k, _)| k == n).unwrap().1.shallow_clone();
    for (i, (layer, a, gf)) in s.layer_factors().into_iter().enumerate() {
        let (w, b) = (KFAC_PARAMS[2 * i + 1], KFAC_PARAMS[2 * i]);
        let vl = Tensor::cat(&[vt(w), vt(b).unsqueeze(1)], 1); // (d_out, cols)
        let pi = ((a.trace().double_value(&[]) / a.size()[0] as f64)
            / (gf.trace().double_value(&[]) / gf.size()[0] as f64))
            .sqrt();
        let ia = (&a + Tensor::eye(a.size()[0], (Kind::Double, a.device())) * (pi * lambda.sqrt()))
            .inverse();
        let ig = (&gf
            + Tensor::eye(gf.size()[0], (Kind::Double, a.device())) * (lambda.sqrt() / pi))
            .inverse();
        let want = ig.matmul(&vl).matmul(&ia);
        let d_w = Tensor::from_slice(&delta(&before, &after, w)).view_as(&vt(w));
        let d_b = Tensor::from_slice(&delta(&before, &after, b)).unsqueeze(1);
        let got = -Tensor::cat(&[d_w, d_b], 1);
        let rel = (&got - &want).norm().double_value(&[]) / want.norm().double_value(&[]);
        assert!(rel < 1e-5, "{layer}: relative error {rel}");
    }
}
