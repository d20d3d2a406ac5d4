//! `inverse: newton` of the K-FAC family (grng spec §1.4, §1.5, §2.3 step 3): Newton–Schulz
//! refreshes against eigen inverses and dense `(M + δI)⁻¹`, §6.7 tests 10–12 with Newton
//! inverses, the lazy-step guard and the refresh report. Models: `kfac_fixture`; config and
//! bitwise resume: `grng_newton_state`.
use crate::common::zip_eq;
use crate::kfac_fixture::{assert_same_trajectory, batch, groups, plain, small_schedule, Mlp};
use lab::optim::curvature::NewtonOptions;
use lab::optim::kfac::newton::{EigenForm, LAZY_ORDER};
use lab::optim::kfac::{InverseMethod, Inverses, Kfac, KfacConfig, NewtonInv, NewtonStats};
use lab::optim::stepper::Stepper;
use tch::{Device, Kind, Tensor};

pub const D: i64 = 4;
pub const H: i64 = 5;
pub const C: i64 = 3;
/// The twin models of `assert_same_trajectory`: (d_in, hidden, classes, seed).
const TWINS: (i64, i64, i64, u64) = (D, H, C, 31);
const F64: (Kind, Device) = (Kind::Double, Device::Cpu);

pub fn with(inverse: InverseMethod, cfg: KfacConfig) -> KfacConfig {
    KfacConfig { inverse, ..cfg }
}

#[test]
fn newton_and_eigen_inverses_give_the_same_kfac_update() {
    // Every step a refresh (plain), then the schedule with reuse between refreshes.
    for cfg in [
        plain(KfacConfig::kfac()),
        small_schedule(KfacConfig::kfac()),
    ] {
        let eigen = with(InverseMethod::Eigen, cfg.clone());
        assert_same_trajectory(eigen, with(InverseMethod::Newton, cfg), TWINS, 8, 1e-8);
    }
}

#[test]
fn reng_with_rho_zero_is_kfac_with_newton_inverses() {
    // §6.7 test 10.
    let reng = small_schedule(KfacConfig {
        rho: 0.0,
        ..KfacConfig::reng()
    });
    let kfac = small_schedule(with(InverseMethod::Newton, KfacConfig::kfac()));
    assert_eq!(reng.inverse, InverseMethod::Newton);
    assert_same_trajectory(kfac, reng, TWINS, 8, 1e-10);
}

#[test]
fn ring_with_rho_zero_is_kfac_with_the_floor_damping_and_newton_inverses() {
    // §6.7 test 11 (ρ = 0 half): constant damping λ0, so no lazy update happens.
    let ring = small_schedule(KfacConfig {
        rho: 0.0,
        ..KfacConfig::ring()
    });
    let kfac = small_schedule(KfacConfig {
        damping: ring.damping,
        ..with(InverseMethod::Newton, KfacConfig::kfac())
    });
    assert_same_trajectory(kfac, ring, TWINS, 8, 1e-10);
}

/// `(M + δI)⁻¹` by LAPACK.
fn exact_inverse(m: &Tensor, delta: f64) -> Tensor {
    (m + Tensor::eye(m.size()[0], F64) * delta).inverse()
}

pub fn rel(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).norm().double_value(&[]) / b.norm().double_value(&[])
}

fn newton_of(inv: Option<&Inverses>) -> &NewtonInv {
    match inv {
        Some(Inverses::Newton(n)) => n,
        other => panic!("expected newton inverses, got {other:?}"),
    }
}

#[test]
fn ring_lazy_steps_track_the_exact_damped_inverse_to_first_order() {
    // §6.7 test 12. Statistics and the refresh only at step 0, so X always belongs to the
    // current factors; RING's damping δ_k = λ0 + ρ‖g_k‖² moves every step.
    let cfg = KfacConfig {
        rho: 0.5,
        damping: 1e-2,
        t_stat: 1000,
        t_inv: 1000,
        lr: 0.05,
        ..KfacConfig::ring()
    };
    let m = Mlp::new(D, H, C, 32);
    let mut s = Kfac::new(groups(&m, D, C, cfg.weight_decay), cfg).unwrap();
    s.step(&mut batch(&m, 0, 8, D, C)).unwrap();
    let mut moved = 0;
    for k in 1..12 {
        let before: Vec<(Tensor, Tensor, f64, f64)> = s
            .layer_inverses()
            .into_iter()
            .map(|i| {
                let n = newton_of(i);
                (n.xa(), n.xg(), n.delta_a, n.delta_g)
            })
            .collect();
        let r = s.step(&mut batch(&m, k, 8, D, C)).unwrap();
        assert!(r.newton_iters.is_none(), "step {k} is not a refresh");
        let factors = s.layer_factors();
        for ((inv, (_, a, g)), (xa0, xg0, da0, dg0)) in
            zip_eq(zip_eq(s.layer_inverses(), &factors), &before)
        {
            let n = newton_of(inv);
            for (x, x0, m, d, d0) in [
                (&n.xa(), xa0, a, n.delta_a, *da0),
                (&n.xg(), xg0, g, n.delta_g, *dg0),
            ] {
                let exact = exact_inverse(m, d);
                let change = (d - d0).abs();
                let x_norm = x0.linalg_eigvalsh("L").abs().max().double_value(&[]);
                let bound = 10.0 * change * x_norm;
                let err = rel(x, &exact);
                assert!(err < bound.max(1e-9), "step {k}: {err} ≥ {bound}");
                if change > 0.0 && r.lazy_guard_fallbacks == 0 {
                    moved += 1;
                    // One second-order step adds O((Δ‖X‖)³) to the error carried in from X₀
                    // (amplified by at most 1 + 2Δ‖X‖).
                    let carried = rel(x0, &exact_inverse(m, d0));
                    let dx = change * x_norm;
                    let step_bound = carried * (1.0 + 2.0 * dx) + 10.0 * dx.powi(3) + 1e-12;
                    assert!(err < step_bound, "step {k}: {err} ≥ {step_bound}");
                }
            }
        }
    }
    assert!(moved > 10, "only {moved} lazy updates were checked");
    // The drift stays small over 11 lazy steps (first-order updates reached 25% here).
    for (inv, (_, a, _)) in zip_eq(s.layer_inverses(), s.layer_factors()) {
        let n = newton_of(inv);
        let err = rel(&n.xa(), &exact_inverse(&a, n.delta_a));
        assert!(err < 0.05, "X_A drifted by {err}");
    }
}

/// A random SPD matrix `(d, d)` with eigenvalues in [1e-3, 1].
pub fn spd(d: i64, seed: i64) -> Tensor {
    tch::manual_seed(seed);
    let q = Tensor::randn([d, d], F64).f_linalg_eigh("L").unwrap().1; // orthogonal
    let ev = Tensor::logspace(-3.0, 0.0, d, 10.0, F64);
    (&q * ev.unsqueeze(0)).matmul(&q.transpose(0, 1))
}

#[test]
fn lazy_update_uses_the_expansion_inside_the_guard_and_the_exact_shift_outside() {
    let (a, g) = (spd(6, 1), spd(4, 2));
    let opts = NewtonOptions::default();
    let mut stats = NewtonStats::default();
    let inv = NewtonInv::refresh(&a, &g, 1e-2, None, &opts, &mut stats).unwrap();
    assert!(stats.refreshed && stats.iters > 0 && stats.resid_max < 1e-8);
    let (da, dg) = (inv.delta_a, inv.delta_g);
    assert!((da * dg - 1e-2).abs() < 1e-15);
    assert!((rel(&inv.xa(), &exact_inverse(&a, da))) < 1e-9);
    // Same damping: nothing to do.
    assert!(inv
        .at_damping(1e-2, &a, &g, &opts, &mut stats)
        .unwrap()
        .is_none());
    // A small change: second-order update (LAZY_ORDER), error O(Δ³) — halving Δ: ÷8.
    let errors: Vec<f64> = [1.02e-2, 1.01e-2]
        .iter()
        .map(|&delta| {
            let mut st = NewtonStats::default();
            let n = inv
                .at_damping(delta, &a, &g, &opts, &mut st)
                .unwrap()
                .unwrap();
            assert_eq!(st.guard_fallbacks, 0);
            assert!((n.delta_a * n.delta_g - delta).abs() < 1e-15);
            rel(&n.xa(), &exact_inverse(&a, n.delta_a))
        })
        .collect();
    let ratio = errors[0] / errors[1];
    assert!((ratio - 8.0).abs() < 0.8, "error ratio {ratio}");
    // A 100× jump fails the guard on both factors: the exact shift makes them exact anyway.
    let mut st = NewtonStats::default();
    let n = inv
        .at_damping(1.0, &a, &g, &opts, &mut st)
        .unwrap()
        .unwrap();
    assert_eq!(st.guard_fallbacks, 2);
    assert!(!st.refreshed);
    assert!(rel(&n.xa(), &exact_inverse(&a, n.delta_a)) < 1e-8);
    assert!(rel(&n.xg(), &exact_inverse(&g, n.delta_g)) < 1e-8);
    assert_eq!(
        st.reinversions, 0,
        "the exact shift exists for these factors"
    );
    // A warm refresh from the old inverse at the new damping needs few iterations.
    let mut st = NewtonStats::default();
    let warm = NewtonInv::refresh(&a, &g, 1.05e-2, Some(&inv), &opts, &mut st).unwrap();
    assert!(st.iters <= 2 * opts.max_warm, "{} iterations", st.iters);
    assert!(rel(&warm.xg(), &exact_inverse(&g, warm.delta_g)) < 1e-9);
}

/// The fallback's warm start: X summed to all orders in its eigenbasis, λ/(1 + Δλ), is the
/// damped inverse at δ + Δ exactly (up or down), and is refused where 1 + Δλ ≤ 0.
#[test]
fn an_eigenform_shifts_exactly_to_any_damping() {
    let a = spd(7, 3); // eigenvalues in [1e-3, 1]
    let e = EigenForm::of(&exact_inverse(&a, 1e-2)).unwrap();
    for change in [1.0, 50.0, -5e-3, -9e-3] {
        let s = e.exactly_shifted(change).unwrap();
        let err = rel(&s.dense(), &exact_inverse(&a, 1e-2 + change));
        assert!(err < 1e-10, "Δ {change}: {err}");
    }
    // δ + Δ ≤ −λ_min would make a factor 1 + Δλ ≤ 0: no inverse there.
    assert!(e.exactly_shifted(-1.1e-2 - 1e-3).is_none());
    // The truncated series refuses the large moves (guard) that the exact one takes.
    assert!(e.shifted(50.0, LAZY_ORDER).is_none());
}

/// A jump of δ by 100× fails the guard on factors that moved since X was computed (as RING's
/// EMA factors do between refreshes): X is shifted exactly to the new damping of the matrix it
/// inverts, the factors' newer statistics wait for the next refresh, and nothing is
/// re-inverted.
#[test]
fn a_guard_fallback_shifts_x_exactly_and_leaves_new_statistics_to_the_refresh() {
    let (a, g) = (spd(9, 4), spd(5, 5));
    let opts = NewtonOptions::default();
    let mut stats = NewtonStats::default();
    let inv = NewtonInv::refresh(&a, &g, 1e-2, None, &opts, &mut stats).unwrap();
    // The factors after a few statistics updates: 2 % of another SPD matrix mixed in.
    let (a2, g2) = (&a * 0.98 + spd(9, 6) * 0.02, &g * 0.98 + spd(5, 7) * 0.02);
    let mut st = NewtonStats::default();
    let n = inv
        .at_damping(1.0, &a2, &g2, &opts, &mut st)
        .unwrap()
        .unwrap();
    assert_eq!(st.guard_fallbacks, 2);
    assert_eq!(st.reinversions, 0);
    assert_eq!(st.iters, 0);
    assert!(rel(&n.xa(), &exact_inverse(&a, n.delta_a)) < 1e-9);
    assert!(rel(&n.xg(), &exact_inverse(&g, n.delta_g)) < 1e-9);
    // The moved factors differ by more than that: the check above can tell them apart.
    assert!(rel(&n.xa(), &exact_inverse(&a2, n.delta_a)) > 1e-4);
    // The eigenbasis is kept: only the eigenvalues moved.
    assert!(n.a.q.equal(&inv.a.q) && n.g.q.equal(&inv.g.q));
}

/// An X that is not the inverse of a positive semidefinite matrix plus its damping (an
/// eigenvalue above 1/δ) has no exact shift to a much lower damping (1 + Δλ ≤ 0): that factor
/// is re-inverted from its current value, and counted.
#[test]
fn a_guard_fallback_without_an_exact_shift_reinverts_from_the_current_factor() {
    let (a, g) = (spd(3, 8), spd(2, 9));
    let opts = NewtonOptions::default();
    let q = Tensor::eye(3, F64);
    // Claims X_A ≈ (A + 0.5 I)⁻¹, but λ = 10 > 1/0.5.
    let xa = EigenForm::new(q, vec![10.0, 1.0, 0.5]);
    let xg = EigenForm::of(&exact_inverse(&g, 0.5)).unwrap();
    let inv = NewtonInv::new(xa, xg, 0.5, 0.5, 1.0);
    let mut st = NewtonStats::default();
    // δ = 0.09 → δ_A = δ_G = 0.3: Δ = −0.2, and 1 + Δ·10 < 0.
    let n = inv
        .at_damping(0.09, &a, &g, &opts, &mut st)
        .unwrap()
        .unwrap();
    assert_eq!((st.guard_fallbacks, st.reinversions), (1, 1));
    assert!((n.delta_a - 0.3).abs() < 1e-12);
    assert!(rel(&n.xa(), &exact_inverse(&a, 0.3)) < 1e-8);
    // G's shift passed its guard (|Δ|·‖X_G‖ ≤ 0.2·2): the second-order update.
    assert!(rel(&n.xg(), &exact_inverse(&g, 0.3)) < 0.1);
}

#[test]
fn newton_iterations_are_reported_on_refresh_steps_only() {
    for inverse in [InverseMethod::Newton, InverseMethod::Eigen] {
        let cfg = KfacConfig {
            t_stat: 1,
            t_inv: 3,
            ..with(inverse, KfacConfig::ring())
        };
        let m = Mlp::new(D, H, C, 33);
        let mut s = Kfac::new(groups(&m, D, C, cfg.weight_decay), cfg).unwrap();
        for k in 0..7 {
            let r = s.step(&mut batch(&m, k, 8, D, C)).unwrap();
            let refresh = inverse == InverseMethod::Newton && k % 3 == 0;
            assert_eq!(r.newton_iters.is_some(), refresh, "{inverse:?} step {k}");
            assert_eq!(
                r.newton_resid_max.is_some(),
                refresh,
                "{inverse:?} step {k}"
            );
            if refresh {
                assert!(r.newton_iters.unwrap() >= 4, "two layers × two factors");
                assert!(r.newton_resid_max.unwrap() < 1e-6);
            }
        }
    }
}
