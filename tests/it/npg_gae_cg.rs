//! GAE with termination and truncation (spec §6.7) and CG against a dense solve.
use crate::common::zip_eq;
use lab::npg::cg::conjugate_gradient;
use lab::npg::rank1::norm;
use lab::rl::gae::{gae, Rollout};
use ndarray::{Array1, Array2};
use ndarray_linalg::Solve;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One env, 5 steps, γ = 0.9, λ = 0.8: a termination at t = 1 and a truncation at t = 3
/// whose final observation is worth 10. Values computed by hand:
/// t4: δ = 5 + 0.9·3 − 2.5 = 5.2 (bootstrap from the last value)
/// t3: δ = 4 + 0.9·10 − 2 = 11 (truncation: final value, recursion cut)
/// t2: δ = 3 + 0.9·2 − 1.5 = 3.3, Â = 3.3 + 0.72·11 = 11.22
/// t1: δ = 2 − 1 = 1 (termination: no bootstrap)
/// t0: δ = 1 + 0.9·1 − 0.5 = 1.4, Â = 1.4 + 0.72·1 = 2.12
fn hand_case(truncated: [bool; 5]) -> lab::rl::gae::Targets {
    let r = Rollout {
        num_envs: 1,
        rewards: &[1.0, 2.0, 3.0, 4.0, 5.0],
        values: &[0.5, 1.0, 1.5, 2.0, 2.5],
        terminated: &[false, true, false, false, false],
        truncated: &truncated,
        final_values: &[0.0, 99.0, 0.0, 10.0, 0.0],
        last_values: &[3.0],
    };
    gae(&r, 0.9, 0.8)
}

fn assert_close(got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 1e-12, "{got:?} vs {want:?}");
    }
}

#[test]
fn gae_hand_example_with_termination_and_truncation() {
    let t = hand_case([false, false, false, true, false]);
    assert_close(&t.advantages, &[2.12, 1.0, 11.22, 11.0, 5.2]);
    assert_close(&t.returns, &[2.62, 2.0, 12.72, 13.0, 7.7]);
}

#[test]
fn gae_without_the_truncation_flag_differs() {
    // Ignoring the truncation bootstraps t3 from V(s4) = 2.5 and carries Â4 back:
    // t4: δ = 5 + 0.9·3 − 2.5 = 5.2, Â = 5.2 (unchanged)
    // t3: δ = 4 + 0.9·2.5 − 2 = 4.25, Â = 4.25 + 0.72·5.2 = 4.25 + 3.744 = 7.994 (not 11)
    // t2: δ = 3.3, Â = 3.3 + 0.72·7.994 = 3.3 + 5.75568 = 9.05568
    // t1, t0: behind the termination, unchanged (1 and 2.12).
    // Returns are Â + V: 2.62, 2, 9.05568 + 1.5 = 10.55568, 7.994 + 2 = 9.994, 7.7.
    let t = hand_case([false; 5]);
    assert_close(&t.advantages, &[2.12, 1.0, 9.05568, 7.994, 5.2]);
    assert_close(&t.returns, &[2.62, 2.0, 10.55568, 9.994, 7.7]);
}

#[test]
fn gae_interleaves_envs_time_major() {
    // Two envs: env 0 is the hand case, env 1 a constant reward of 1 with zero values.
    let hand = hand_case([false, false, false, true, false]);
    let mut rewards = Vec::new();
    let (v0, r0) = ([0.5, 1.0, 1.5, 2.0, 2.5], [1.0, 2.0, 3.0, 4.0, 5.0]);
    let mut values = Vec::new();
    for t in 0..5 {
        rewards.extend([r0[t], 1.0]);
        values.extend([v0[t], 0.0]);
    }
    let term: Vec<bool> = (0..10).map(|i| i == 2).collect();
    let trunc: Vec<bool> = (0..10).map(|i| i == 6).collect();
    let finals: Vec<f64> = (0..10).map(|i| if i == 6 { 10.0 } else { 0.0 }).collect();
    let r = Rollout {
        num_envs: 2,
        rewards: &rewards,
        values: &values,
        terminated: &term,
        truncated: &trunc,
        final_values: &finals,
        last_values: &[3.0, 0.0],
    };
    let t = gae(&r, 0.9, 0.8);
    let env0: Vec<f64> = t.advantages.iter().step_by(2).copied().collect();
    assert_close(&env0, &hand.advantages);
    // Env 1: Â_t = Σ_k (0.72)^k over the remaining steps.
    let env1: Vec<f64> = t.advantages.iter().skip(1).step_by(2).copied().collect();
    let want: Vec<f64> = (0..5)
        .map(|t| (0..5 - t).map(|k| 0.72f64.powi(k)).sum())
        .collect();
    assert_close(&env1, &want);
}

#[test]
fn cg_solves_a_random_spd_system() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let n = 20;
    let m = Array2::from_shape_fn((n, n), |_| rng.gen_range(-1.0..1.0));
    // Condition number around 10, like a damped Fisher block.
    let a = m.t().dot(&m) / n as f64 + Array2::<f64>::eye(n) * 0.1;
    let b: Vec<f64> = (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let apply = |v: &[f64], out: &mut [f64]| {
        let av = a.dot(&Array1::from(v.to_vec()));
        out.copy_from_slice(av.as_slice().expect("contiguous"));
    };
    let res = conjugate_gradient(apply, &b, 20, 1e-20);
    let exact = a.solve(&Array1::from(b.clone())).expect("solve");
    assert_eq!(res.x.len(), n);
    let diff: Vec<f64> = zip_eq(&res.x, &exact).map(|(x, y)| x - y).collect();
    let err = norm(&diff) / exact.dot(&exact).sqrt();
    assert!(res.iters <= 20);
    assert!(
        err <= 1e-8,
        "relative error {err} after {} iterations",
        res.iters
    );
}

#[test]
fn cg_stops_early_on_the_residual_and_caps_iterations() {
    // Identity: one iteration solves it exactly.
    let res = conjugate_gradient(|v, out| out.copy_from_slice(v), &[1.0, 2.0, 3.0], 10, 1e-10);
    assert_eq!(res.iters, 1);
    assert!(res.residual_sq < 1e-20);
    let diag = [1.0, 10.0, 100.0, 1000.0];
    let scale = |v: &[f64], out: &mut [f64]| {
        for i in 0..4 {
            out[i] = diag[i] * v[i];
        }
    };
    let capped = conjugate_gradient(scale, &[1.0; 4], 2, 0.0);
    assert_eq!(capped.iters, 2);
    assert!(capped.residual_sq > 0.0);
}

/// With `residual_tol: 0` and more iterations than unknowns the residual reaches exactly 0;
/// the next iteration divided 0 by 0 and returned NaN (npg-cg / trpo with
/// `cg_residual_tol: 0`, `cg_iters: 100` stopped on a NaN row). A zero right-hand side too.
#[test]
fn cg_stops_on_an_exact_solution_instead_of_dividing_zero_by_zero() {
    let diag = [2.0, 4.0];
    let scale = |v: &[f64], out: &mut [f64]| {
        for i in 0..2 {
            out[i] = diag[i] * v[i];
        }
    };
    let res = conjugate_gradient(scale, &[1.0, 1.0], 100, 0.0);
    assert_eq!(res.x, [0.5, 0.25], "{res:?}");
    assert_eq!(res.residual_sq, 0.0);
    assert!(res.iters <= 3, "{res:?}");
    let zero = conjugate_gradient(scale, &[0.0, 0.0], 100, 0.0);
    assert_eq!(zero.x, [0.0, 0.0], "{zero:?}");
}
