//! The native backend (spec §1.12): the flat MLP's reverse and forward-mode passes against
//! finite differences, and every quantity the algorithms use against the torch backend at the
//! same parameters (log-probs, objective gradients, scores, KL, Fisher products, the exact
//! Fisher, critic loss and gradient, sampled actions).
use crate::common::zip_eq;
use lab::npg::backend::{Policy, ValueFn};
use lab::npg::optim_actor::Objective;
use lab::npg::policy::{Actor, Critic, FlatMlp, NativeActor, NativeCritic, Samples};
use lab::npg::rank1::norm;
use lab::rl::Space;
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::Device;

fn uniform(rng: &mut ChaCha8Rng, n: usize) -> Vec<f64> {
    (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect()
}

/// `‖a − b‖ / max(‖b‖, 1e-300)`.
fn rel(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let diff: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    norm(&diff) / norm(b).max(1e-300)
}

#[test]
fn flat_mlp_backward_and_jvp_match_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mlp = FlatMlp::new(3, &[5, 4], 2);
    let p = uniform(&mut rng, mlp.numel());
    let x = Array2::from_shape_vec((6, 3), uniform(&mut rng, 18)).expect("x");
    let c = Array2::from_shape_vec((6, 2), uniform(&mut rng, 12)).expect("c");
    let loss = |q: &[f64]| (mlp.output(q, x.view()) * &c).sum();
    let cache = mlp.forward(&p, x.view());
    let mut grad = vec![0.0; p.len()];
    mlp.backward(&p, &cache, c.clone(), &mut grad);
    let h = 1e-6;
    let fd: Vec<f64> = (0..p.len())
        .map(|i| {
            let (mut up, mut down) = (p.clone(), p.clone());
            up[i] += h;
            down[i] -= h;
            (loss(&up) - loss(&down)) / (2.0 * h)
        })
        .collect();
    assert!(rel(&grad, &fd) < 1e-8, "VJP vs FD: {}", rel(&grad, &fd));
    let v = uniform(&mut rng, p.len());
    let jv = mlp.jvp(&p, &cache, &v);
    let shifted = |s: f64| {
        let q: Vec<f64> = zip_eq(&p, &v).map(|(a, b)| a + s * h * b).collect();
        mlp.output(&q, x.view())
    };
    let fd_jv = (shifted(1.0) - shifted(-1.0)) / (2.0 * h);
    let (a, b) = (
        jv.iter().cloned().collect::<Vec<_>>(),
        fd_jv.iter().cloned().collect::<Vec<_>>(),
    );
    assert!(rel(&a, &b) < 1e-8, "JVP vs FD: {}", rel(&a, &b));
}

fn gaussian() -> Space {
    Space::Box {
        low: vec![-2.0, -1.0],
        high: vec![2.0, 1.0],
    }
}

/// A torch actor with a non-trivial head and log-std, and its native copy (callers hold
/// `torch_lock`: this seeds libtorch's global RNG).
fn pair(space: &Space, seed: i64) -> (Actor, NativeActor) {
    tch::set_num_threads(1);
    tch::manual_seed(seed);
    let torch = Actor::new(3, space, &[6, 5], Device::Cpu);
    let theta: Vec<f64> = torch
        .params
        .flat()
        .iter()
        .enumerate()
        .map(|(i, t)| t + 0.3 * ((i % 7) as f64 - 3.0) / 3.0)
        .collect();
    torch.params.set_flat(&theta).expect("set");
    let native = NativeActor::from_torch(&torch);
    assert_eq!(native.params, theta);
    (torch, native)
}

/// Samples whose `old_logp` is off the current policy, so some PPO ratios are clipped.
fn problem(actor: &NativeActor, rows: usize, seed: u64) -> Samples {
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
    let logp = Policy::log_probs(actor, &actor.batch(&s));
    s.old_logp = logp.iter().map(|l| l + rng.gen_range(-0.4..0.4)).collect();
    s
}

fn compare_actor(space: &Space, seed: i64) {
    let (mut torch, mut native) = pair(space, seed);
    let s = problem(&native, 24, seed as u64);
    let (tb, nb) = (torch.batch(&s), native.batch(&s));
    let tol = 1e-10;
    assert!(
        rel(
            &Policy::log_probs(&native, &nb),
            &Policy::log_probs(&torch, &tb)
        ) < tol
    );
    assert!((native.mean_entropy(&nb) - torch.mean_entropy(&tb)).abs() < tol);
    assert!((native.surrogate(&nb) - torch.surrogate(&tb)).abs() < tol);
    for (kind, ent) in [
        (Objective::Surrogate, 0.0),
        (Objective::Surrogate, 0.05),
        (Objective::Clipped { clip: 0.2 }, 0.01),
    ] {
        let (gn, fn_) = native.objective_grad(&nb, kind, ent);
        let (gt, ft) = torch.objective_grad(&tb, kind, ent);
        assert!(rel(&gn, &gt) < tol, "{kind:?}: {}", rel(&gn, &gt));
        assert_eq!(fn_, ft);
    }
    let frac = native
        .objective_grad(&nb, Objective::Clipped { clip: 0.2 }, 0.0)
        .1;
    assert!(
        frac.is_some_and(|f| f > 0.0 && f < 1.0),
        "some ratios clipped"
    );
    for j in [Some(0), Some(7), None] {
        assert!(rel(&native.score(&nb, j), &torch.score(&tb, j)) < tol);
    }
    let v: Vec<f64> = uniform(&mut ChaCha8Rng::seed_from_u64(3), native.numel());
    let (mut fv_n, mut fv_t) = (vec![0.0; v.len()], vec![0.0; v.len()]);
    native.fisher(&nb, 0.1)(&v, &mut fv_n);
    torch.fisher(&tb, 0.1)(&v, &mut fv_t);
    assert!(rel(&fv_n, &fv_t) < tol, "FVP: {}", rel(&fv_n, &fv_t));
    // KL from a snapshot after a step.
    let (sn, st) = (
        Policy::snapshot(&native, &nb),
        Policy::snapshot(&torch, &tb),
    );
    let step: Vec<f64> = v.iter().map(|x| 0.05 * x).collect();
    native.add_flat(&step).expect("add");
    torch.add_flat(&step).expect("add");
    let (kn, kt) = (
        Policy::mean_kl(&native, &sn, &nb),
        Policy::mean_kl(&torch, &st, &tb),
    );
    assert!(
        kn > 0.0 && (kn - kt).abs() < tol * kt.max(1.0),
        "KL {kn} vs {kt}"
    );
    // The same RNG stream draws the same actions.
    let (mut r1, mut r2) = (ChaCha8Rng::seed_from_u64(5), ChaCha8Rng::seed_from_u64(5));
    let an = Policy::act(&native, &s.obs, 3, &mut r1, false);
    let at = Policy::act(&torch, &s.obs, 3, &mut r2, false);
    assert!(rel(&an.0, &at.0) < tol && rel(&an.1, &at.1) < tol);
}

#[test]
fn native_actor_matches_torch_categorical() {
    let _torch = crate::common::torch_lock();
    compare_actor(&Space::Discrete(3), 1);
}

#[test]
fn native_actor_matches_torch_gaussian() {
    let _torch = crate::common::torch_lock();
    compare_actor(&gaussian(), 2);
}

#[test]
fn native_exact_fisher_matches_torch() {
    let _torch = crate::common::torch_lock();
    let (torch, native) = pair(&Space::Discrete(3), 4);
    let s = problem(&native, 10, 4);
    let fnat = Policy::exact_fisher(&native, &native.batch(&s)).expect("native");
    let ftorch = Policy::exact_fisher(&torch, &torch.batch(&s)).expect("torch");
    let (a, b): (Vec<f64>, Vec<f64>) = (
        fnat.iter().cloned().collect(),
        ftorch.iter().cloned().collect(),
    );
    assert!(rel(&a, &b) < 1e-10);
    let (_, gauss) = pair(&gaussian(), 4);
    let sg = problem(&gauss, 4, 4);
    let err = Policy::exact_fisher(&gauss, &gauss.batch(&sg))
        .expect_err("no exact Fisher for a Gaussian policy");
    assert!(
        format!("{err}").contains("cos_to_exact needs a discrete action space"),
        "{err}"
    );
}

#[test]
fn native_critic_matches_torch() {
    let _torch = crate::common::torch_lock();
    tch::manual_seed(7);
    let torch = Critic::new(3, &[6, 5], Device::Cpu);
    let theta: Vec<f64> = torch.params.flat().iter().map(|t| t * 1.5 + 0.01).collect();
    torch.params.set_flat(&theta).expect("set");
    let native = NativeCritic::from_torch(&torch);
    let (torch_actor, actor) = pair(&Space::Discrete(2), 7);
    let s = problem(&actor, 16, 7);
    let (tb, nb) = (torch_actor.batch(&s), s.clone());
    let values = ValueFn::values(&torch, &s.obs, 3);
    assert!(rel(&ValueFn::values(&native, &s.obs, 3), &values) < 1e-12);
    assert!((ValueFn::loss(&native, &nb) - ValueFn::loss(&torch, &tb)).abs() < 1e-12);
    assert!(rel(&ValueFn::loss_grad(&native, &nb), &torch.loss_grad(&tb)) < 1e-10);
}

/// SMAC on the native backend (§1.4, §6.6): `d` equals the dense solve `(λI + uuᵀ)⁻¹ g` with
/// the native `g` and `u`, and the applied step is `α d`.
#[test]
fn native_smac_direction_matches_the_dense_solve() {
    let _torch = crate::common::torch_lock();
    use lab::npg::config::ScoreSample;
    use lab::npg::rank1::sherman_morrison_direction;
    use lab::npg::step::StepRule;
    use lab::npg::update::{actor_step, ActorUpdate, Preconditioner};
    use ndarray_linalg::Solve;
    let (_, mut native) = pair(&Space::Discrete(3), 9);
    let s = problem(&native, 32, 9);
    let lambda = 0.1;
    let g = native.objective_grad(&s, Objective::Surrogate, 0.0).0;
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let j = rng.gen_range(0..s.size);
    let u = native.score(&s, Some(j));
    let n = g.len();
    let f = Array2::from_shape_fn((n, n), |(a, b)| {
        u[a] * u[b] + if a == b { lambda } else { 0.0 }
    });
    let dense = f
        .solve(&ndarray::Array1::from(g.clone()))
        .expect("solve")
        .to_vec();
    let dir = sherman_morrison_direction(&g, &u, lambda);
    assert!(
        rel(&dir.d, &dense) < 1e-10,
        "SM vs dense: {}",
        rel(&dir.d, &dense)
    );
    let mut upd = ActorUpdate {
        pre: Preconditioner::Rank1 {
            damping: lambda,
            score: ScoreSample::Random,
        },
        rule: StepRule::Fixed {},
        actor_lr: 1e-3,
        max_update_norm: 1e9,
        ent_coef: 0.0,
        adam: None,
    };
    let before = native.params.clone();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    actor_step(&mut native, &s, &mut upd, &mut rng, None).expect("step");
    let step: Vec<f64> = zip_eq(&native.params, &before)
        .map(|(a, b)| a - b)
        .collect();
    let want: Vec<f64> = dense.iter().map(|d| 1e-3 * d).collect();
    assert!(rel(&step, &want) < 1e-9, "Δθ vs α d: {}", rel(&step, &want));
}

#[test]
fn fast_tanh_matches_std_tanh() {
    let mut worst: f64 = 0.0;
    for i in -40000..=40000 {
        let x = i as f64 * 5e-4 + 1e-7;
        let (a, b) = (lab::npg::policy::flat_mlp::tanh(x), x.tanh());
        worst = worst.max(((a - b) / b).abs());
    }
    for x in [
        0.00999999, 0.01, 0.0100001, 1e-300, 5e-324, 17.5, 18.8, 19.1, 30.0, 350.0,
    ] {
        for x in [x, -x] {
            worst = worst.max(((lab::npg::policy::flat_mlp::tanh(x) - x.tanh()) / x.tanh()).abs());
        }
    }
    assert!(worst < 1e-14, "worst relative error {worst}");
    assert_eq!(lab::npg::policy::flat_mlp::tanh(800.0), 1.0);
    assert_eq!(lab::npg::policy::flat_mlp::tanh(-800.0), -1.0);
    assert_eq!(lab::npg::policy::flat_mlp::tanh(0.0), 0.0);
}
