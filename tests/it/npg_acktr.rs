//! `acktr` (npg spec §3.7): the K-FAC factors of the sampled-Fisher loss against dense
//! per-layer expectations built by hand from per-row scores, the preconditioned step against a
//! dense damped Kronecker solve, the KL clip's bound, the tch statistics against the native
//! ones (end to end: `npg_acktr_cli`).
use crate::common::*;
use lab::npg::acktr::{Acktr, AcktrSettings, FisherStats};
use lab::npg::backend::Policy;
use lab::npg::optim_actor::Objective;
use lab::npg::policy::{Actor, NativeActor, Samples};
use lab::npg::rank1::{dot, norm};
use lab::optim::kfac::{kl_clip_scale, DampingScheme};
use lab::rl::Space;
use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};

const HIDDEN: [usize; 1] = [4];

fn settings(scheme: DampingScheme) -> AcktrSettings {
    AcktrSettings {
        actor_lr: 0.25,
        momentum: 0.9,
        stat_decay: 0.99,
        kl_clip: 0.001,
        damping: 0.01,
        damping_scheme: scheme,
        inverse_every: 10,
        stats_every: 1,
        ent_coef: 0.0,
    }
}

fn uniform(rng: &mut ChaCha8Rng, n: usize) -> Vec<f64> {
    (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect()
}

fn spaces() -> [Space; 2] {
    [
        Space::Discrete(3),
        Space::Box {
            low: vec![-2.0, -1.0],
            high: vec![2.0, 1.0],
        },
    ]
}

/// A tiny tch actor (obs 3, hidden 4) with a perturbed θ and a non-zero log-std, and its
/// native copy (callers hold `torch_lock`).
fn actors(space: &Space) -> (Actor, NativeActor) {
    tch::set_num_threads(1);
    tch::manual_seed(7);
    let torch = Actor::new(3, space, &HIDDEN, Device::Cpu);
    let theta: Vec<f64> = torch
        .params
        .flat()
        .iter()
        .enumerate()
        .map(|(i, t)| t + 0.4 * ((i % 5) as f64 - 2.0) / 2.0)
        .collect();
    torch.params.set_flat(&theta).expect("set");
    let native = NativeActor::from_torch(&torch);
    (torch, native)
}

fn samples(actor: &NativeActor, rows: usize, seed: u64) -> Samples {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let obs = uniform(&mut rng, rows * 3);
    let (actions, _) = Policy::act(actor, &obs, 3, &mut rng, false);
    let mut s = Samples {
        obs,
        obs_dim: 3,
        actions,
        adv: uniform(&mut rng, rows),
        returns: uniform(&mut rng, rows),
        size: rows,
        ..Samples::default()
    };
    s.old_logp = Policy::log_probs(actor, &s);
    s
}

fn outer_mean(rows: &[Vec<f64>]) -> Array2<f64> {
    let d = rows[0].len();
    let mut m = Array2::<f64>::zeros((d, d));
    for r in rows {
        let r = Array1::from(r.clone());
        let col = r.view().insert_axis(ndarray::Axis(1));
        m += &col.dot(&col.t());
    }
    m / rows.len() as f64
}

/// Dense `(A, G)` per layer by hand: inputs by a hand forward pass, errors `e` as minus the
/// bias part of each row's score `∇θ log π(ãᵢ|sᵢ)` at the sampled actions (`∂/∂b = e`); the
/// weight part of the score must be `−e aᵀ`. Log-std: input 1, error = minus its score.
fn dense_factors(
    actor: &NativeActor,
    s: &Samples,
    sampled: &[f64],
) -> Vec<(Array2<f64>, Array2<f64>)> {
    let at = Samples {
        actions: sampled.to_vec(),
        ..s.clone()
    };
    let sizes = &actor.mlp.sizes;
    let p = &actor.params;
    let (mut inputs, mut errors) = (vec![vec![]; sizes.len()], vec![vec![]; sizes.len()]);
    for i in 0..s.size {
        let score = Policy::score(actor, &at, Some(i));
        let mut a: Vec<f64> = s.obs[3 * i..3 * i + 3].to_vec();
        let mut off = 0;
        for l in 0..sizes.len() - 1 {
            let (din, dout) = (sizes[l], sizes[l + 1]);
            let e: Vec<f64> = score[off + din * dout..off + din * dout + dout]
                .iter()
                .map(|x| -x)
                .collect();
            for o in 0..dout {
                for k in 0..din {
                    let want = -e[o] * a[k];
                    assert!((score[off + o * din + k] - want).abs() < 1e-12);
                }
            }
            let mut with_one = a.clone();
            with_one.push(1.0);
            inputs[l].push(with_one);
            errors[l].push(e);
            let z: Vec<f64> = (0..dout)
                .map(|o| {
                    p[off + din * dout + o]
                        + (0..din).map(|k| p[off + o * din + k] * a[k]).sum::<f64>()
                })
                .collect();
            a = z.iter().map(|x| x.tanh()).collect();
            off += (din + 1) * dout;
        }
        if off < p.len() {
            inputs[sizes.len() - 1].push(vec![1.0]);
            errors[sizes.len() - 1].push(score[off..].iter().map(|x| -x).collect());
        }
    }
    zip_eq(&inputs, &errors)
        .filter(|(a, _)| !a.is_empty())
        .map(|(a, e)| (outer_mean(a), outer_mean(e)))
        .collect()
}

fn array(t: &Tensor) -> Array2<f64> {
    let (r, c) = t.size2().expect("2-D");
    let v = Vec::<f64>::try_from(&t.contiguous().view([-1])).expect("f64");
    Array2::from_shape_vec((r as usize, c as usize), v).expect("shape")
}

fn max_abs(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    (a - b).iter().fold(0.0, |m, x| m.max(x.abs()))
}

/// An ACKTR state whose factors come from two batches (first initialises, second is EMA'd).
fn fitted(native: &NativeActor, scheme: DampingScheme) -> (Acktr, Vec<FisherStats>) {
    let mut k = Acktr::new(settings(scheme), &native.mlp.sizes, native.log_std_len());
    let mut all = Vec::new();
    for seed in [1, 2] {
        let s = samples(native, 20, seed);
        let stats = native
            .fisher_stats(&s, &mut ChaCha8Rng::seed_from_u64(10 + seed))
            .expect("stats");
        assert!(k.update_factors(&stats).expect("factors"));
        all.push(stats);
    }
    k.refresh_inverses().expect("eigh");
    (k, all)
}

#[test]
fn factors_are_the_dense_expectations_of_the_sampled_fisher_backward() {
    let _g = torch_lock();
    for space in spaces() {
        let (_, native) = actors(&space);
        let (k, stats) = fitted(&native, DampingScheme::ExactEigen);
        let (s1, s2) = (samples(&native, 20, 1), samples(&native, 20, 2));
        let d1 = dense_factors(&native, &s1, &stats[0].actions);
        let d2 = dense_factors(&native, &s2, &stats[1].actions);
        let got = k.layer_factors();
        assert_eq!(got.len(), d1.len(), "{space:?}: layers (+ log-std)");
        for (l, f) in got.iter().enumerate() {
            let (a, g) = f.as_ref().expect("factors");
            // First batch initialises, the second is averaged in with β = 0.99.
            let want_a = &d1[l].0 * 0.99 + &d2[l].0 * 0.01;
            let want_g = &d1[l].1 * 0.99 + &d2[l].1 * 0.01;
            assert!(
                max_abs(&array(a), &want_a) < 1e-12,
                "{space:?} layer {l}: A"
            );
            assert!(
                max_abs(&array(g), &want_g) < 1e-12,
                "{space:?} layer {l}: G"
            );
            assert!(want_g.iter().any(|x| x.abs() > 1e-3), "non-trivial G");
        }
    }
}

#[test]
fn torch_statistics_equal_the_native_ones() {
    let _g = torch_lock();
    for space in spaces() {
        let (torch, native) = actors(&space);
        let s = samples(&native, 12, 3);
        let n = native
            .fisher_stats(&s, &mut ChaCha8Rng::seed_from_u64(4))
            .expect("native");
        let t = torch
            .fisher_stats(&torch.batch(&s), &mut ChaCha8Rng::seed_from_u64(4))
            .expect("torch");
        // Same draws; Gaussian actions differ by the heads' rounding only.
        let gap = n
            .actions
            .iter()
            .zip(&t.actions)
            .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
        assert!(
            n.actions.len() == t.actions.len() && gap < 1e-12,
            "sampled actions: {gap}"
        );
        assert_eq!(n.layers.len(), t.layers.len());
        for (a, b) in n.layers.iter().zip(&t.layers) {
            assert!(max_abs(&a.input, &b.input) < 1e-12);
            assert!(max_abs(&a.errors, &b.errors) < 1e-12);
        }
        assert_eq!(torch.mlp_sizes(), native.mlp_sizes());
    }
}

/// `(G ⊗ A + λI)⁻¹ vec_r(V)` (exact_eigen) or `(G + √λ/π I)⁻¹ V (A + π√λ I)⁻¹` (factored),
/// by dense solves; `V = [W | b]` is `(d_out, cols)`.
fn dense_direction(
    a: &Tensor,
    g: &Tensor,
    v: &Tensor,
    lambda: f64,
    scheme: DampingScheme,
) -> Tensor {
    let (o, c) = (g.size()[0], a.size()[0]);
    match scheme {
        DampingScheme::ExactEigen => {
            let k = g.kron(a) + Tensor::eye(o * c, (Kind::Double, Device::Cpu)) * lambda;
            Tensor::linalg_solve(&k, &v.reshape([o * c, 1]), true).reshape([o, c])
        }
        DampingScheme::Factored => {
            let tr = |m: &Tensor, d: i64| m.trace().double_value(&[]) / d as f64;
            let pi = (tr(a, c) / tr(g, o)).sqrt();
            let eye = |d| Tensor::eye(d, (Kind::Double, Device::Cpu));
            let gd = g + eye(o) * (lambda.sqrt() / pi);
            let ad = a + eye(c) * (pi * lambda.sqrt());
            let left = Tensor::linalg_solve(&gd, v, true); // G⁻¹ V
            Tensor::linalg_solve(&ad, &left.transpose(0, 1), true).transpose(0, 1)
            // (G⁻¹V) A⁻¹, A sym.
        }
    }
}

#[test]
fn preconditioned_gradient_is_the_damped_kronecker_solve() {
    let _g = torch_lock();
    for space in spaces() {
        for scheme in [DampingScheme::ExactEigen, DampingScheme::Factored] {
            let (_, native) = actors(&space);
            let (k, _) = fitted(&native, scheme);
            let grad = uniform(&mut ChaCha8Rng::seed_from_u64(9), native.numel());
            let got = k.precondition(&grad).expect("precondition");
            let sizes = &native.mlp.sizes;
            let mut off = 0;
            for (l, f) in k.layer_factors().iter().enumerate() {
                let (a, g) = f.as_ref().expect("factors");
                let (o, c) = (g.size()[0] as usize, a.size()[0] as usize);
                let has_bias = l + 1 < sizes.len();
                let din = if has_bias { c - 1 } else { c };
                // (d_out, cols) from the flat layout: W row-major, then the bias column.
                let block = |flat: &[f64]| {
                    Array2::from_shape_fn((o, c), |(r, j)| {
                        if j < din {
                            flat[off + r * din + j]
                        } else {
                            flat[off + o * din + r]
                        }
                    })
                };
                let v = Tensor::from_slice(block(&grad).as_standard_layout().as_slice().unwrap())
                    .view([o as i64, c as i64]);
                let want = array(&dense_direction(a, g, &v, 0.01, scheme));
                let diff = max_abs(&block(&got), &want);
                let scale = want.iter().fold(0.0f64, |m, x| m.max(x.abs()));
                assert!(
                    diff <= 1e-9 * scale,
                    "{space:?} {scheme:?} layer {l}: {diff} of {scale}"
                );
                off += o * c;
            }
            assert_eq!(off, native.numel(), "every parameter is preconditioned");
        }
    }
}

#[test]
fn kl_clip_scale_meets_the_bound_exactly_when_it_clips() {
    let (kappa, lr) = (1e-3, 0.25);
    for vg in [1e-6, 1e-3, 0.016, 0.017, 0.5, 3.0, 1e4] {
        let nu = kl_clip_scale(Some(kappa), lr, vg);
        let kl = 0.5 * (nu * lr).powi(2) * vg; // ½(νη)²·vᵀ∇L
        if lr * lr * vg > kappa {
            assert!(nu < 1.0, "{vg}");
            assert!((kl - kappa / 2.0).abs() <= 1e-12 * kappa, "{vg}: {kl}");
        } else {
            assert_eq!(nu, 1.0, "{vg}");
            assert!(kl <= kappa / 2.0, "{vg}");
        }
    }
    assert_eq!(kl_clip_scale(Some(kappa), lr, 0.0), 1.0);
    assert_eq!(kl_clip_scale(Some(kappa), lr, -2.0), 1.0);
    assert_eq!(kl_clip_scale(None, lr, 5.0), 1.0);
}

/// The first step applies `Δθ = −η(1 − μ)·ν·v`, `v` the preconditioned loss gradient of
/// this minibatch's statistics, with `(νη)²·vᵀ∇L = κ` when clipped and `ν = 1` otherwise.
#[test]
fn first_step_is_the_clipped_natural_gradient() {
    let _g = torch_lock();
    for space in spaces() {
        for kl_clip in [1e-7, 1e6] {
            let (_, native) = actors(&space);
            let s = samples(&native, 20, 5);
            let mut set = settings(DampingScheme::ExactEigen);
            set.kl_clip = kl_clip;
            let (sizes, ls) = (native.mlp.sizes.clone(), native.log_std_len());
            let mut reference = Acktr::new(set.clone(), &sizes, ls);
            let stats = native
                .fisher_stats(&s, &mut ChaCha8Rng::seed_from_u64(6))
                .expect("stats");
            reference.update_factors(&stats).expect("factors");
            reference.refresh_inverses().expect("eigh");
            let g = native.objective_grad(&s, Objective::Surrogate, 0.0).0;
            let loss_grad: Vec<f64> = g.iter().map(|x| -x).collect();
            let v = reference.precondition(&loss_grad).expect("v");
            let vg = dot(&v, &loss_grad);
            assert!(vg > 0.0, "a descent direction");

            let mut k = Acktr::new(set.clone(), &sizes, ls);
            let mut actor = native.clone();
            let st = k
                .step(&mut actor, &s, &mut ChaCha8Rng::seed_from_u64(6))
                .expect("step");
            let nu = st.step_size / set.actor_lr;
            let delta: Vec<f64> = zip_eq(&actor.params, &native.params)
                .map(|(a, b)| a - b)
                .collect();
            let want: Vec<f64> = v.iter().map(|x| -set.actor_lr * 0.1 * nu * x).collect();
            // Δθ = θ_after − θ_before loses digits: with |θ| ≈ 1 and the clipped |Δθ| ≈ 1e-4 its
            // rounding alone is ≈ 1e-12 of |Δθ| (8e-13 measured here; a CI machine went past
            // 1e-12), so the bound leaves room for that cancellation, not for a wrong step.
            let tol = 1e-9;
            let err: Vec<f64> = zip_eq(&delta, &want).map(|(a, b)| a - b).collect();
            let (e, w) = (norm(&err), norm(&want));
            assert!(
                e <= tol * w,
                "{space:?} {kl_clip}: |Δθ − want| {e:e} of {w:e}"
            );
            let step_vg = st.g_dot_d.expect("vg");
            assert!(
                (step_vg - vg).abs() <= tol * vg,
                "{space:?}: vᵀ∇L {step_vg} vs {vg}"
            );
            let bound = (nu * set.actor_lr).powi(2) * step_vg;
            if kl_clip < 1.0 {
                assert!(st.clipped && nu < 1.0);
                let off = (bound - kl_clip).abs();
                assert!(
                    off <= 1e-12 * kl_clip,
                    "{space:?}: (νη)²vᵀ∇L {bound} vs κ {kl_clip}"
                );
            } else {
                assert!(!st.clipped);
                assert_eq!(nu, 1.0);
            }
        }
    }
}
