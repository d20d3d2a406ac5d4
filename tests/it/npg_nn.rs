//! Actor/critic networks (spec §1.7, §6.6 test 10): orthogonal init, flat parameter
//! round trips, analytic scores against central finite differences, batched gradients.
use lab::npg::policy::{Actor, Critic, Params};
use lab::rl::Space;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};

const CPU: Device = Device::Cpu;

fn obs_batch(rows: &[[f64; 3]]) -> Tensor {
    let flat: Vec<f64> = rows.iter().flatten().copied().collect();
    Tensor::from_slice(&flat).view([rows.len() as i64, 3])
}

fn scalar(t: &Tensor) -> f64 {
    t.double_value(&[])
}

/// Central differences of `log π(a|s)` over every parameter.
fn fd_score(actor: &Actor, obs: &Tensor, act: &Tensor) -> Vec<f64> {
    let theta = actor.params.flat();
    let h = 1e-6;
    (0..theta.len())
        .map(|i| {
            let mut p = theta.clone();
            p[i] += h;
            actor.params.set_flat(&p).expect("set");
            let up = scalar(&tch::no_grad(|| actor.log_prob(obs, act)).sum(Kind::Double));
            p[i] -= 2.0 * h;
            actor.params.set_flat(&p).expect("set");
            let down = scalar(&tch::no_grad(|| actor.log_prob(obs, act)).sum(Kind::Double));
            actor.params.set_flat(&theta).expect("restore");
            (up - down) / (2.0 * h)
        })
        .collect()
}

fn check_scores(actor: &Actor, actions: &[f64]) {
    let rows = [[0.3, -1.2, 0.5], [1.0, 0.2, -0.7]];
    let adv = [0.7, -1.3];
    let mut mean_adv_u = vec![0.0; actor.params.numel()];
    for (k, row) in rows.iter().enumerate() {
        let obs = obs_batch(&[*row]);
        let dim = actor.dist.action_dim();
        let act = actor.action_tensor(&actions[k * dim..(k + 1) * dim], CPU);
        let u = actor
            .params
            .grad(&actor.log_prob(&obs, &act).sum(Kind::Double));
        let fd = fd_score(actor, &obs, &act);
        assert_eq!(u.len(), fd.len());
        assert_eq!(u.len(), mean_adv_u.len());
        for (i, (a, f)) in u.iter().zip(&fd).enumerate() {
            assert!(
                (a - f).abs() <= 1e-6 * f.abs().max(1e-3),
                "param {i}: {a} vs {f}"
            );
        }
        mean_adv_u
            .iter_mut()
            .zip(&u)
            .for_each(|(m, ui)| *m += adv[k] * ui / 2.0);
    }
    // The batched g = ∇ mean(Â log π) equals the mean of per-sample Â u.
    let obs = obs_batch(&rows);
    let act = actor.action_tensor(actions, CPU);
    let adv_t = Tensor::from_slice(&adv);
    let g = actor
        .params
        .grad(&(actor.log_prob(&obs, &act) * adv_t).mean(Kind::Double));
    assert_eq!(g.len(), mean_adv_u.len());
    for (a, b) in g.iter().zip(&mean_adv_u) {
        assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0));
    }
}

#[test]
fn categorical_scores_match_finite_differences() {
    let _torch = crate::common::torch_lock();
    tch::manual_seed(0);
    let actor = Actor::new(3, &Space::Discrete(2), &[4, 4], CPU);
    // Perturb the near-zero head so the check is not trivially small.
    let theta: Vec<f64> = actor
        .params
        .flat()
        .iter()
        .enumerate()
        .map(|(i, t)| t + 0.1 * ((i % 7) as f64 - 3.0))
        .collect();
    actor.params.set_flat(&theta).expect("set");
    check_scores(&actor, &[1.0, 0.0]);
}

#[test]
fn gaussian_scores_match_finite_differences() {
    let _torch = crate::common::torch_lock();
    tch::manual_seed(1);
    let space = Space::Box {
        low: vec![-2.0],
        high: vec![2.0],
    };
    let actor = Actor::new(3, &space, &[4, 4], CPU);
    let theta: Vec<f64> = actor
        .params
        .flat()
        .iter()
        .enumerate()
        .map(|(i, t)| t + 0.05 * ((i % 5) as f64 - 2.0))
        .collect();
    actor.params.set_flat(&theta).expect("set");
    check_scores(&actor, &[0.4, -1.1]);
    assert_eq!(actor.log_std_len(), 1);
}

#[test]
fn orthogonal_init_gains_and_zero_biases() {
    let _torch = crate::common::torch_lock();
    tch::manual_seed(2);
    let critic = Critic::new(8, &[8, 8], CPU);
    let w1 = &critic.params.tensors[2]; // 8×8 hidden layer, gain √2
    let gram = w1.matmul(&w1.tr());
    let eye = Tensor::eye(8, (Kind::Double, CPU)) * 2.0;
    assert!(scalar(&(gram - eye).abs().max()) < 1e-10);
    let bias = Vec::<f64>::try_from(&critic.params.tensors[1]).expect("bias");
    assert!(bias.iter().all(|&b| b == 0.0));
    let actor = Actor::new(8, &Space::Discrete(3), &[8, 8], CPU);
    let head = &actor.params.tensors[4]; // 3×8, gain 0.01: orthonormal rows scaled
    let rows = head.matmul(&head.tr()) - Tensor::eye(3, (Kind::Double, CPU)) * 1e-4;
    assert!(scalar(&rows.abs().max()) < 1e-12);
}

#[test]
fn flat_parameters_round_trip_in_a_fixed_order() {
    let _torch = crate::common::torch_lock();
    tch::manual_seed(3);
    let params = Params::new(vec![
        Tensor::zeros([2, 3], (Kind::Double, CPU)),
        Tensor::zeros([2], (Kind::Double, CPU)),
    ]);
    let values: Vec<f64> = (0..8).map(|i| i as f64).collect();
    params.set_flat(&values).expect("set");
    params.add_flat(&[1.0; 8]).expect("add");
    assert_eq!(params.flat(), (1..9).map(|i| i as f64).collect::<Vec<_>>());
    // Row-major weight first, then the bias.
    assert_eq!(params.tensors[0].double_value(&[1, 0]), 4.0);
    let err = params.set_flat(&[0.0; 3]).expect_err("wrong length");
    assert!(
        format!("{err}").contains("3 values for 8 parameters"),
        "{err}"
    );
}

#[test]
fn deterministic_actions_are_the_mode() {
    let _torch = crate::common::torch_lock();
    tch::manual_seed(4);
    let actor = Actor::new(3, &Space::Discrete(2), &[4], CPU);
    let obs = obs_batch(&[[0.1, 0.2, 0.3]]);
    let logits = Vec::<f64>::try_from(&actor.head(&obs).squeeze_dim(0)).expect("logits");
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let (acts, _) = actor.act(&obs, &mut rng, true);
    let argmax = if logits[1] > logits[0] { 1.0 } else { 0.0 };
    assert_eq!(acts, vec![argmax]);
}
