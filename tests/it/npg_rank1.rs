//! Spec §6.6: the O(n) rank-1 Sherman–Morrison direction against dense linear algebra,
//! its identities (§1.4), robustness, and the step rules (§1.5).
use crate::common::zip_eq;
use lab::npg::rank1::{apply_rank1_fisher, dot, norm, sherman_morrison_direction};
use lab::npg::step::{clip_update, step_size, StepRule};
use ndarray::{Array1, Array2};
use ndarray_linalg::{Eigh, Inverse, Solve, UPLO};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const DIMS: [usize; 5] = [1, 2, 5, 50, 500];
const DAMPINGS: [f64; 4] = [1e-3, 1e-1, 1.0, 10.0];

fn random_vec(rng: &mut ChaCha8Rng, n: usize) -> Vec<f64> {
    (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect()
}

/// Every (n, λ) with a fresh seeded (u, g).
fn cases() -> Vec<(Vec<f64>, Vec<f64>, f64)> {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let mut out = Vec::new();
    for n in DIMS {
        for lambda in DAMPINGS {
            out.push((random_vec(&mut rng, n), random_vec(&mut rng, n), lambda));
        }
    }
    out
}

fn dense_fisher(u: &[f64], lambda: f64) -> Array2<f64> {
    let n = u.len();
    Array2::from_shape_fn((n, n), |(i, j)| {
        u[i] * u[j] + if i == j { lambda } else { 0.0 }
    })
}

fn rel_err(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let diff: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    norm(&diff) / norm(b).max(f64::MIN_POSITIVE)
}

#[test]
fn closed_form_inverse_equals_the_dense_inverse() {
    for (u, _, lambda) in cases().into_iter().filter(|c| c.0.len() <= 50) {
        let n = u.len();
        let uu = dot(&u, &u);
        let closed = Array2::from_shape_fn((n, n), |(i, j)| {
            ((if i == j { 1.0 } else { 0.0 }) - u[i] * u[j] / (lambda + uu)) / lambda
        });
        let dense = dense_fisher(&u, lambda).inv().expect("invertible");
        let err =
            (&closed - &dense).mapv(|x| x * x).sum().sqrt() / dense.mapv(|x| x * x).sum().sqrt();
        assert!(err <= 1e-10, "n={n} λ={lambda}: {err}");
    }
}

#[test]
fn direction_equals_the_dense_solve_and_has_a_small_residual() {
    for (u, g, lambda) in cases() {
        let r = sherman_morrison_direction(&g, &u, lambda);
        if u.len() <= 50 {
            let x = dense_fisher(&u, lambda)
                .solve(&Array1::from(g.clone()))
                .expect("solve");
            let err = rel_err(&r.d, x.as_slice().expect("contiguous"));
            assert!(err <= 1e-10, "n={} λ={lambda}: {err}", u.len());
        }
        let kappa = 1.0 + r.u_norm_sq / lambda;
        let fd = apply_rank1_fisher(&u, lambda, &r.d);
        let res = rel_err(&fd, &g) * norm(&g);
        assert!(res <= 1e-12 * kappa * norm(&g), "residual {res}");
    }
}

#[test]
fn scaled_gradient_cases() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for lambda in DAMPINGS {
        let g = random_vec(&mut rng, 20);
        let gg = dot(&g, &g);
        let same = sherman_morrison_direction(&g, &g, lambda);
        let want: Vec<f64> = g.iter().map(|x| x / (lambda + gg)).collect();
        assert!(rel_err(&same.d, &want) <= 1e-12);
        let plain: Vec<f64> = g.iter().map(|x| x / lambda).collect();
        let zero = sherman_morrison_direction(&g, &[0.0; 20], lambda);
        assert!(rel_err(&zero.d, &plain) <= 1e-15);
        // u ⟂ g: swap two components with a sign flip.
        let mut u = vec![0.0; 20];
        (u[0], u[1]) = (g[1], -g[0]);
        let perp = sherman_morrison_direction(&g, &u, lambda);
        assert!(rel_err(&perp.d, &plain) <= 1e-12);
    }
}

#[test]
fn correction_lies_in_the_span_of_u() {
    for (u, g, lambda) in cases() {
        let r = sherman_morrison_direction(&g, &u, lambda);
        let corr: Vec<f64> = zip_eq(&r.d, &g).map(|(d, g)| d - g / lambda).collect();
        let along = dot(&corr, &u) / dot(&u, &u);
        let orth: Vec<f64> = zip_eq(&corr, &u).map(|(c, u)| c - along * u).collect();
        assert!(
            norm(&orth) <= 1e-10 * norm(&g) / lambda,
            "orthogonal part {}",
            norm(&orth)
        );
    }
}

#[test]
fn ascent_and_bounds_of_g_dot_d() {
    for (u, g, lambda) in cases() {
        let r = sherman_morrison_direction(&g, &u, lambda);
        let gg = dot(&g, &g);
        assert!(r.g_dot_d > 0.0);
        let lo = gg / (lambda + r.u_norm_sq) - 1e-12;
        let hi = gg / lambda + 1e-12;
        assert!(
            lo <= r.g_dot_d && r.g_dot_d <= hi,
            "{lo} ≤ {} ≤ {hi}",
            r.g_dot_d
        );
        let formula = (gg - r.u_dot_g * r.u_dot_g / (lambda + r.u_norm_sq)) / lambda;
        assert!(
            (r.g_dot_d - formula).abs() <= 1e-12 * formula.abs(),
            "gᵀd identity"
        );
        // dᵀF̂d = gᵀd.
        let dfd = dot(&r.d, &apply_rank1_fisher(&u, lambda, &r.d));
        assert!((dfd - r.g_dot_d).abs() <= 1e-10 * r.g_dot_d);
    }
}

#[test]
fn spectrum_of_the_dense_fisher() {
    for (u, _, lambda) in cases().into_iter().filter(|c| c.0.len() <= 50) {
        let (mut eig, _) = dense_fisher(&u, lambda).eigh(UPLO::Upper).expect("eigh");
        eig.as_slice_mut()
            .expect("contiguous")
            .sort_by(f64::total_cmp);
        let n = u.len();
        let top = lambda + dot(&u, &u);
        for (k, e) in eig.iter().enumerate() {
            let want = if k + 1 == n { top } else { lambda };
            assert!(
                (e - want).abs() <= 1e-10 * top,
                "n={n} eigenvalue {k}: {e} vs {want}"
            );
        }
    }
}

#[test]
fn worked_example() {
    let r = sherman_morrison_direction(&[0.5, -1.0, 2.0], &[1.0, 2.0, -1.0], 0.5);
    assert_eq!((r.u_dot_g, r.u_norm_sq), (-3.5, 6.0));
    assert!((r.c + 7.0 / 13.0).abs() < 1e-15);
    let want = [27.0 / 13.0, 2.0 / 13.0, 38.0 / 13.0];
    assert!(rel_err(&r.d, &want) < 1e-15);
    assert!((r.g_dot_d - 175.0 / 26.0).abs() < 1e-13);
}

#[test]
fn robust_for_extreme_conditioning() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for (u_norm, lambda) in [(1e6, 1e-8), (1e3, 1e-6), (1e-12, 1e-3)] {
        let dir = random_vec(&mut rng, 30);
        let u: Vec<f64> = dir.iter().map(|x| x * u_norm / norm(&dir)).collect();
        let g = random_vec(&mut rng, 30);
        let r = sherman_morrison_direction(&g, &u, lambda);
        assert!(r.d.iter().all(|x| x.is_finite()));
        let uu = dot(&u, &u);
        let mut g_perp = g.clone();
        for _ in 0..2 {
            let p = dot(&g_perp, &u) / uu;
            zip_eq(&mut g_perp, &u).for_each(|(x, ui)| *x -= p * ui);
        }
        let along = dot(&u, &g) / (uu * (lambda + uu));
        let d_ref: Vec<f64> = zip_eq(&g_perp, &u)
            .map(|(gp, ui)| gp / lambda + along * ui)
            .collect();
        let err = rel_err(&r.d, &d_ref);
        assert!(err <= 1e-10, "‖u‖={u_norm} λ={lambda}: forward error {err}");
    }
}

#[test]
fn step_rules_respect_their_kl_budgets() {
    for g_dot_d in [1e-6, 0.1, 3.0, 1e4] {
        let npg = StepRule::Npg {
            max_kl: 0.01,
            actor_lr_max: 1e6,
        };
        let beta = step_size(&npg, 0.0, g_dot_d).expect("closed form");
        assert!(
            (0.5 * beta * beta * g_dot_d - 0.01).abs() <= 1e-12,
            "npg KL"
        );
        let capped = StepRule::Npg {
            max_kl: 0.01,
            actor_lr_max: 1e-3,
        };
        assert!(step_size(&capped, 0.0, g_dot_d).expect("closed form") <= 1e-3);
        let kl_clip = StepRule::KlClip { kl_clip: 0.001 };
        let alpha = 0.25;
        let step = step_size(&kl_clip, alpha, g_dot_d).expect("closed form");
        assert!(step <= alpha * (1.0 + 1e-15), "ν ≤ 1");
        assert!(0.5 * step * step * g_dot_d <= 0.001 / 2.0 * (1.0 + 1e-12));
        assert_eq!(step_size(&StepRule::Fixed {}, alpha, g_dot_d), Some(alpha));
    }
    let mut delta = vec![3.0, 4.0];
    assert!(clip_update(&mut delta, 1.0));
    assert!((norm(&delta) - 1.0).abs() < 1e-15);
    let mut small = vec![0.3, 0.4];
    assert!(!clip_update(&mut small, 1.0));
    assert_eq!(small, vec![0.3, 0.4]);
}
