//! `npg-cg` / `trpo` pieces (spec §3.4–3.5, §6.7): the Fisher-vector product equals a
//! finite-difference Hessian-vector product of the mean KL; TRPO steps respect the KL bound;
//! the normalised NPG step has predicted KL δ.
use crate::common::zip_eq;
use lab::npg::policy::Actor;
use lab::npg::rank1::{dot, norm};
use lab::npg::trust_region::{trust_region_step, Fvp, TrustRegion};
use lab::npg::update::Minibatch;
use lab::rl::Space;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};

const CPU: Device = Device::Cpu;

fn batch(rng: &mut ChaCha8Rng, rows: usize) -> Tensor {
    let v: Vec<f64> = (0..rows * 3).map(|_| rng.gen_range(-1.5..1.5)).collect();
    Tensor::from_slice(&v).view([rows as i64, 3])
}

/// A tiny actor with a non-trivial head (the 0.01 head gain makes π nearly uniform); callers
/// hold `torch_lock`, since this seeds libtorch's global RNG.
fn actor(space: &Space, seed: i64) -> Actor {
    tch::set_num_threads(1); // tiny tensors: extra threads only add contention
    tch::manual_seed(seed);
    let a = Actor::new(3, space, &[4, 4], CPU);
    let theta: Vec<f64> = a
        .params
        .flat()
        .iter()
        .enumerate()
        .map(|(i, t)| t + 0.2 * ((i % 5) as f64 - 2.0))
        .collect();
    a.params.set_flat(&theta).expect("set");
    a
}

fn gaussian() -> Space {
    Space::Box {
        low: vec![-2.0],
        high: vec![2.0],
    }
}

fn check_fvp(actor: &Actor, obs: &Tensor) {
    let fvp = Fvp::new(actor, obs, 0.0);
    let snapshot = actor.snapshot(obs);
    let theta = actor.params.flat();
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let v: Vec<f64> = (0..theta.len()).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let mut hv = vec![0.0; v.len()];
    fvp.apply(&v, &mut hv);
    let h = 1e-5;
    let grad_at = |sign: f64| {
        let p: Vec<f64> = zip_eq(&theta, &v).map(|(t, x)| t + sign * h * x).collect();
        actor.params.set_flat(&p).expect("set");
        actor.params.grad(&actor.mean_kl(&snapshot, obs))
    };
    let (up, down) = (grad_at(1.0), grad_at(-1.0));
    actor.params.set_flat(&theta).expect("restore");
    let fd: Vec<f64> = zip_eq(&up, &down)
        .map(|(a, b)| (a - b) / (2.0 * h))
        .collect();
    assert_eq!((up.len(), hv.len()), (theta.len(), theta.len()));
    let diff: Vec<f64> = zip_eq(&hv, &fd).map(|(a, b)| a - b).collect();
    let rel = norm(&diff) / norm(&fd);
    assert!(
        rel <= 1e-5,
        "FVP vs finite differences: relative error {rel}"
    );
}

#[test]
fn fvp_matches_finite_difference_hessian_of_the_kl() {
    let _torch = crate::common::torch_lock();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let obs = batch(&mut rng, 16);
    check_fvp(&actor(&Space::Discrete(3), 0), &obs);
    check_fvp(&actor(&gaussian(), 1), &obs);
}

fn random_problem(actor: &Actor, seed: u64) -> (Tensor, Tensor, Tensor, Tensor) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let obs = batch(&mut rng, 64);
    let (acts, _) = actor.act(&obs, &mut rng, false);
    let actions = actor.action_tensor(&acts, CPU);
    let old_logp = tch::no_grad(|| actor.log_prob(&obs, &actions));
    let adv: Vec<f64> = (0..64).map(|_| rng.gen_range(-1.0..1.0)).collect();
    (obs, actions, old_logp, Tensor::from_slice(&adv))
}

fn minibatch(obs: &Tensor, actions: &Tensor, old_logp: &Tensor, adv: &Tensor) -> Minibatch {
    Minibatch {
        obs: obs.shallow_clone(),
        actions: actions.shallow_clone(),
        old_logp: old_logp.shallow_clone(),
        adv: adv.shallow_clone(),
        returns: adv.zeros_like(),
        size: adv.size()[0] as usize,
    }
}

fn region(line_search: Option<(f64, usize)>) -> TrustRegion {
    TrustRegion {
        max_kl: 0.01,
        cg_iters: 10,
        cg_damping: 0.1,
        cg_residual_tol: 1e-10,
        line_search,
    }
}

#[test]
fn trpo_steps_satisfy_the_kl_bound() {
    let _torch = crate::common::torch_lock();
    let (mut accepted, mut rejected) = (0, 0);
    // An undamped Fisher makes the full step's predicted KL exactly δ, which the true KL
    // overshoots now and then; with a single try both the accepting and the restoring branch run.
    let searches = [
        region(Some((0.8, 10))),
        TrustRegion {
            cg_damping: 0.0,
            ..region(Some((1.0, 1)))
        },
    ];
    for (k, space) in [Space::Discrete(3), gaussian()].iter().enumerate() {
        for (seed, search) in (0..4).flat_map(|s| searches.iter().map(move |r| (s, r))) {
            let mut a = actor(space, 10 + seed as i64);
            let (obs, actions, old_logp, adv) = random_problem(&a, seed);
            let snapshot = a.snapshot(&obs);
            let before = a.params.flat();
            let b = minibatch(&obs, &actions, &old_logp, &adv);
            let stats = trust_region_step(&mut a, search, &b).expect("step");
            let kl = tch::no_grad(|| a.mean_kl(&snapshot, &obs)).double_value(&[]);
            if stats.ls_accepted == Some(true) {
                accepted += 1;
                assert!(kl < 0.01, "space {k} seed {seed}: KL {kl}");
                let surr =
                    ((a.log_prob(&obs, &actions) - &old_logp).exp() * &adv).mean(Kind::Double);
                assert!(surr.double_value(&[]) > adv.mean(Kind::Double).double_value(&[]));
            } else {
                rejected += 1;
                assert_eq!(a.params.flat(), before, "rejected steps restore θ_old");
            }
        }
    }
    eprintln!("TRPO line search: {accepted} accepted, {rejected} rejected");
    assert!(
        accepted > 0 && rejected > 0,
        "{accepted} accepted, {rejected} rejected"
    );
}

#[test]
fn npg_step_has_predicted_kl_delta() {
    let _torch = crate::common::torch_lock();
    let mut a = actor(&Space::Discrete(3), 3);
    let (obs, actions, old_logp, adv) = random_problem(&a, 5);
    let before = a.params.flat();
    let b = minibatch(&obs, &actions, &old_logp, &adv);
    let stats = trust_region_step(&mut a, &region(None), &b).expect("step");
    let delta: Vec<f64> = zip_eq(&a.params.flat(), &before)
        .map(|(x, y)| x - y)
        .collect();
    // The damped Fisher at θ_old (an FVP's graph does not survive in-place updates).
    a.params.set_flat(&before).expect("restore");
    let fvp = Fvp::new(&a, &obs, 0.1);
    let mut f_delta = vec![0.0; delta.len()];
    fvp.apply(&delta, &mut f_delta);
    let predicted = 0.5 * dot(&delta, &f_delta);
    assert!((predicted - 0.01).abs() <= 1e-9, "½ΔθᵀFΔθ = {predicted}");
    assert!(stats.cg_iters >= 1 && stats.ls_steps.is_none());
}

/// SMAC with `step_rule: linesearch` (§1.5): every accepted step keeps the minibatch KL
/// below δ; a rejected one leaves θ unchanged.
#[test]
fn smac_linesearch_respects_the_kl_bound() {
    use lab::npg::config::ScoreSample;
    use lab::npg::step::StepRule;
    use lab::npg::update::{actor_step, ActorUpdate, Preconditioner};
    let mut upd = ActorUpdate {
        pre: Preconditioner::Rank1 {
            damping: 0.01,
            score: ScoreSample::Random,
        },
        rule: StepRule::Linesearch {
            max_kl: 0.005,
            actor_lr_max: 10.0,
            ls_shrink: 0.8,
            ls_max_iter: 10,
        },
        actor_lr: 0.0,
        max_update_norm: 100.0,
        ent_coef: 0.0,
        adam: None,
    };
    let _torch = crate::common::torch_lock();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let (mut accepted, mut rejected) = (0, 0);
    // Ten tries, then a single one, which the rank-1 step overshoots now and then.
    for (seed, tries) in (0..4).flat_map(|s| [(s, 10), (s, 1)]) {
        if let StepRule::Linesearch { ls_max_iter, .. } = &mut upd.rule {
            *ls_max_iter = tries;
        }
        let mut a = actor(&Space::Discrete(3), 20 + seed as i64);
        let (obs, actions, old_logp, adv) = random_problem(&a, seed);
        let mb = Minibatch {
            returns: adv.zeros_like(),
            size: 64,
            obs,
            actions,
            old_logp,
            adv,
        };
        let snapshot = a.snapshot(&mb.obs);
        let before = a.params.flat();
        let stats = actor_step(&mut a, &mb, &mut upd, &mut rng, None).expect("step");
        let kl = tch::no_grad(|| a.mean_kl(&snapshot, &mb.obs)).double_value(&[]);
        if stats.step_size > 0.0 {
            accepted += 1;
            assert!(kl < 0.005, "seed {seed}: KL {kl}");
        } else {
            rejected += 1;
            assert_eq!(a.params.flat(), before, "rejected steps leave θ unchanged");
        }
    }
    eprintln!("SMAC line search: {accepted} accepted, {rejected} rejected");
    assert!(
        accepted > 0 && rejected > 0,
        "{accepted} accepted, {rejected} rejected"
    );
}

/// Zero advantages: g = 0, so the step is 0 and every try of the line search is θ_old, which
/// never beats itself. All `ls_max_iter` tries ran (one forward pass each): a huge
/// `ls_max_iter` hung the run. The search now ends after the first zero step.
#[test]
fn trpo_line_search_ends_once_its_step_is_zero() {
    let _torch = crate::common::torch_lock();
    let mut a = actor(&Space::Discrete(3), 5);
    let (obs, actions, old_logp, adv) = random_problem(&a, 5);
    let before = a.params.flat();
    let b = minibatch(&obs, &actions, &old_logp, &adv.zeros_like());
    let stats = trust_region_step(&mut a, &region(Some((0.8, usize::MAX))), &b).expect("step");
    assert_eq!(stats.g_norm, 0.0, "{stats:?}");
    assert_eq!((stats.ls_steps, stats.ls_accepted), (Some(1), Some(false)));
    assert_eq!(a.params.flat(), before, "θ_old restored");
}
