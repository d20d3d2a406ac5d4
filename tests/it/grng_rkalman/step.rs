//! The dense R-Kalman `Stepper` on tiny softmax models (f64): per-example score and Jacobian
//! rows against per-example autograd, training, resume equality and error messages.
use super::{copy_weights, max_abs, randn};
use anyhow::Result;
use lab::grng::rkalman::scores::{errors_of, layer_inputs, rows, Layout};
use lab::grng::rkalman::{GrMode, ObsMode, RKalman, RKalmanConfig};
use lab::nn::layers::Linear;
use lab::nn::{Captured, Tape};
use lab::optim::stepper::{mean_ce, Objective, Stepper};
use lab::optim::StateDict;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

/// Linear layers with tanh between them (f64), weights drawn from a seeded RNG; `extra` adds
/// a parameter `extra.scale` that no linear layer owns and `leak` adds 0.1·ΣW₀ to the first logit
/// (a use of a weight outside its captured layer).
pub struct Mlp {
    pub vs: VarStore,
    layers: Vec<Linear>,
    leak: bool,
}

impl Mlp {
    pub fn new(dims: &[i64], seed: u64, extra: bool, leak: bool) -> Mlp {
        let mut vs = VarStore::new(Device::Cpu);
        vs.set_kind(Kind::Double);
        let layers = dims
            .windows(2)
            .enumerate()
            .map(|(i, w)| Linear::new(&vs.root().sub(format!("l{i}")), w[0], w[1], true, 0.5))
            .collect();
        if extra {
            let _ = vs.root().sub("extra").ones("scale", &[2]);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        tch::no_grad(|| {
            for (_, t) in &mut vars {
                t.copy_(&(randn(&mut rng, &t.size()) * 0.5));
            }
        });
        Mlp { vs, layers, leak }
    }

    fn logits(&self, x: &Tensor, tape: &mut Tape) -> Tensor {
        let mut h = x.shallow_clone();
        for (i, l) in self.layers.iter().enumerate() {
            h = l.forward(&h, tape);
            if i + 1 < self.layers.len() {
                h = h.tanh();
            }
        }
        if self.leak {
            let first = Tensor::from_slice(&[1.0, 0.0, 0.0]); // softmax ignores a shift of all logits
            h += first * self.layers[0].weight.sum(Kind::Double) * 0.1;
        }
        h
    }

    pub fn weights(&self) -> Vec<(String, Tensor)> {
        let mut v: Vec<(String, Tensor)> = self
            .vs
            .variables()
            .into_iter()
            .map(|(n, t)| (n, t.detach().copy()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

pub struct Batch<'a> {
    pub model: &'a Mlp,
    pub x: Tensor,
    pub y: Tensor,
}

impl Objective for Batch<'_> {
    fn forward(&mut self, capture: bool) -> Result<(Tensor, Vec<Captured>)> {
        let mut tape = if capture { Tape::on() } else { Tape::off() };
        let logits = self.model.logits(&self.x, &mut tape);
        Ok((logits, tape.items))
    }
    fn targets(&self) -> &Tensor {
        &self.y
    }
}

/// One step of `opt` on `(x, y)` through `model` (the tensors are shared, not copied).
pub fn step_on(
    opt: &mut dyn Stepper,
    model: &Mlp,
    x: &Tensor,
    y: &Tensor,
) -> Result<lab::optim::stepper::StepReport> {
    opt.step(&mut Batch {
        model,
        x: x.shallow_clone(),
        y: y.shallow_clone(),
    })
}

/// Inputs `(n, d_in)` and labels of a 3-class teacher (seeded).
pub fn data(n: i64, d_in: i64, seed: u64) -> (Tensor, Tensor) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = randn(&mut rng, &[n, d_in]);
    let y =
        (x.matmul(&randn(&mut rng, &[d_in, 3])) * 2.0 + randn(&mut rng, &[n, 3])).argmax(1, false);
    (x, y)
}

/// Per-example gradients of f_j (a closure of the logits row) by an explicit loop, in layout order.
fn per_example(
    model: &Mlp,
    x: &Tensor,
    layout: &Layout,
    f: impl Fn(&Tensor, i64) -> Tensor,
) -> Tensor {
    let n = x.size()[0];
    let rows: Vec<Tensor> = (0..n)
        .map(|j| {
            let z = model.logits(&x.narrow(0, j, 1), &mut Tape::off());
            let grads = Tensor::run_backward(&[f(&z, j)], layout.params.as_slice(), false, false);
            layout.flatten(&grads)
        })
        .collect();
    Tensor::stack(&rows, 0)
}

#[test]
fn score_rows_equal_per_example_gradients() {
    let model = Mlp::new(&[4, 5, 3], 1, false, false);
    let (x, y) = data(6, 4, 2);
    let layout = Layout::new(model.vs.variables().into_iter().collect());
    let mut tape = Tape::on();
    let z = model.logits(&x, &mut tape);
    let loss_sum = mean_ce(&z, &y) * 6.0;
    let inputs = layer_inputs(&tape.items, 6).unwrap();
    let errors = errors_of(&loss_sum, &tape.items).unwrap();
    let s = rows(&layout, &tape.items, &inputs, &errors)
        .unwrap()
        .view([6, -1]);
    let want = per_example(&model, &x, &layout, |z, j| mean_ce(z, &y.narrow(0, j, 1)));
    assert!(
        max_abs(&s, &want) < 1e-12,
        "score rows off by {}",
        max_abs(&s, &want)
    );
}

fn config(obs: ObsMode, gr_mode: GrMode, rho: f64, beta: f64) -> RKalmanConfig {
    RKalmanConfig {
        obs,
        gr_mode,
        rho,
        beta,
        seed: 7,
        ..RKalmanConfig::default()
    }
}

/// `obs = jacobian` adds Σ_j J_jᵀ (diag p − ppᵀ) J_j / τ to the precision (up to ε = 1e-6).
#[test]
fn jacobian_mode_adds_the_exact_fisher() {
    let model = Mlp::new(&[3, 3], 3, false, false);
    let (x, y) = data(5, 3, 4);
    let mut opt = RKalman::new(
        &model.vs,
        &config(ObsMode::Jacobian, GrMode::Implicit, 0.0, 1.0),
    )
    .unwrap();
    let layout = Layout::new(model.vs.variables().into_iter().collect());
    let p = model
        .logits(&x, &mut Tape::off())
        .softmax(-1, Kind::Double)
        .detach();
    let mut fisher = Tensor::zeros([layout.d, layout.d], (Kind::Double, Device::Cpu));
    for c in 0..3 {
        let jc = per_example(&model, &x, &layout, |z, _| z.select(1, c).sum(Kind::Double));
        for k in 0..3 {
            let jk = per_example(&model, &x, &layout, |z, _| z.select(1, k).sum(Kind::Double));
            let w = p.select(1, c) * (f64::from(u8::from(c == k)) - p.select(1, k)); // M_j[c, k]
            fisher += jc.tr().matmul(&(jk * w.unsqueeze(1)));
        }
    }
    let eye = Tensor::eye(layout.d, (Kind::Double, Device::Cpu));
    let want = Tensor::linalg_inv(&(eye + fisher)); // σ0² = τ = 1
    opt.step(&mut Batch {
        model: &model,
        x,
        y,
    })
    .unwrap();
    let err = max_abs(opt.covariance(), &want);
    assert!(err < 1e-5, "covariance off by {err}");
}

#[test]
fn training_lowers_the_loss_in_every_mode() {
    let (x, y) = data(32, 4, 5);
    for (obs, gr) in [
        (ObsMode::SampledScore, GrMode::Implicit),
        (ObsMode::SampledScore, GrMode::Both),
        (ObsMode::Jacobian, GrMode::Explicit),
    ] {
        let model = Mlp::new(&[4, 6, 3], 6, false, false);
        let mut opt = RKalman::new(&model.vs, &config(obs, gr, 0.1, 0.99)).unwrap();
        let mut losses = Vec::new();
        for _ in 0..30 {
            let r = step_on(&mut opt, &model, &x, &y).unwrap();
            assert!(!r.nonfinite_skipped && r.loss.is_finite());
            assert_eq!(r.grad_norm_reg.is_some(), gr != GrMode::Implicit);
            losses.push(r.loss);
        }
        let (first, last) = (losses[0], losses[25..].iter().sum::<f64>() / 5.0);
        assert!(last < 0.6 * first, "{obs:?}/{gr:?}: loss {first} -> {last}");
        assert_eq!(opt.steps_done(), 30);
    }
}

fn run(model: &Mlp, opt: &mut RKalman, steps: usize) {
    let (x, y) = data(16, 4, 8);
    for _ in 0..steps {
        step_on(&mut *opt, model, &x, &y).unwrap();
    }
}

/// 10 steps, save (to disk), resume in a fresh model and optimizer, 10 more: bitwise equal to
/// 20 uninterrupted steps (weights and covariance).
#[test]
fn resume_is_bitwise_equal() {
    let cfg = config(ObsMode::SampledScore, GrMode::Both, 0.1, 0.95);
    let a = Mlp::new(&[4, 5, 3], 9, false, false);
    let mut opt_a = RKalman::new(&a.vs, &cfg).unwrap();
    run(&a, &mut opt_a, 10);
    let dir = tempfile::tempdir().unwrap();
    opt_a.state_dict().unwrap().save(dir.path(), "opt").unwrap();
    let weights = a.weights();
    run(&a, &mut opt_a, 10);

    let b = Mlp::new(&[4, 5, 3], 99, false, false);
    copy_weights(&b.vs, &weights);
    let mut opt_b = RKalman::new(&b.vs, &cfg).unwrap();
    opt_b
        .load_state_dict(&StateDict::load(dir.path(), "opt").unwrap())
        .unwrap();
    assert_eq!(opt_b.steps_done(), 10);
    run(&b, &mut opt_b, 10);
    assert_eq!(a.weights(), b.weights());
    assert!(opt_a.covariance().equal(opt_b.covariance()));
}

#[test]
fn models_it_cannot_handle_are_refused_by_name() {
    let cfg = RKalmanConfig::default();
    let (x, y) = data(8, 4, 10);
    let extra = Mlp::new(&[4, 3], 11, true, false);
    let mut opt = RKalman::new(&extra.vs, &cfg).unwrap();
    let err = step_on(&mut opt, &extra, &x, &y);
    assert!(format!("{:#}", err.unwrap_err()).contains("`extra.scale`"));
    let leak = Mlp::new(&[4, 3], 12, false, true);
    let mut opt = RKalman::new(&leak.vs, &cfg).unwrap();
    let err = format!(
        "{:#}",
        opt.step(&mut Batch { model: &leak, x, y }).unwrap_err()
    );
    assert!(
        err.contains("`l0.weight`") && err.contains("outside the captured"),
        "{err}"
    );
    let big = Mlp::new(&[100, 60], 13, false, false);
    let err = format!("{:#}", RKalman::new(&big.vs, &cfg).err().unwrap());
    assert!(
        err.contains("has 6060") && err.contains("cov: kron"),
        "{err}"
    );
}

#[test]
fn config_errors_name_the_key() {
    let err = serde_json::from_str::<RKalmanConfig>(r#"{"bta": 0.9}"#).unwrap_err();
    assert!(err.to_string().contains("bta"), "{err}");
    let bad = |cfg: RKalmanConfig| format!("{:#}", cfg.validate().unwrap_err());
    assert!(bad(RKalmanConfig {
        beta: 0.0,
        ..Default::default()
    })
    .contains("`beta`"));
    assert!(bad(RKalmanConfig {
        tau: -1.0,
        ..Default::default()
    })
    .contains("`tau`"));
    assert!(bad(RKalmanConfig {
        rho: f64::NAN,
        ..Default::default()
    })
    .contains("`rho`"));
    let kron: RKalmanConfig =
        serde_json::from_str(r#"{"cov": "kron", "obs": "jacobian"}"#).unwrap();
    assert!(bad(kron).contains("`obs: jacobian`"));
    let ok: RKalmanConfig =
        serde_json::from_str(r#"{"obs": "jacobian", "gr_mode": "both"}"#).unwrap();
    ok.validate().unwrap();
}

/// Explicit GR: the mean step is −η·m·P·g_G with g_G = g + ρ·H·g, H·g by central differences
/// of the gradient (ε = 1e-5).
#[test]
fn explicit_mode_steps_along_the_regularized_gradient() {
    let model = Mlp::new(&[3, 4, 3], 30, false, false);
    let (x, y) = data(6, 3, 31);
    let rho = 0.3;
    let cfg = RKalmanConfig {
        beta: 1.0,
        ..config(ObsMode::SampledScore, GrMode::Explicit, rho, 1.0)
    };
    let mut opt = RKalman::new(&model.vs, &cfg).unwrap();
    let layout = Layout::new(model.vs.variables().into_iter().collect());
    let theta = || layout.flatten(&layout.params);
    let grad_at = |target: &Tensor| {
        layout.subtract(&(theta() - target)); // θ ← target
        let loss = mean_ce(&model.logits(&x, &mut Tape::off()), &y);
        layout.flatten(&Tensor::run_backward(
            &[loss],
            layout.params.as_slice(),
            false,
            false,
        ))
    };
    let theta0 = theta();
    let g = grad_at(&theta0);
    let eps = 1e-5;
    let hg = (grad_at(&(&theta0 + &g * eps)) - grad_at(&(&theta0 - &g * eps))) / (2.0 * eps);
    let g_reg = &g + hg * rho;
    let _ = grad_at(&theta0); // back to θ0
    let before = theta();
    let r = step_on(&mut opt, &model, &x, &y).unwrap();
    let norm_reg = g_reg.norm().double_value(&[]);
    let got_norm = r.grad_norm_reg.unwrap();
    assert!(
        (got_norm - norm_reg).abs() < 1e-6 * norm_reg,
        "‖g_G‖ {got_norm}, want {norm_reg}"
    );
    let want = opt.covariance().mv(&g_reg) * -6.0; // η = 1, m = 6
    let got = theta() - before;
    let rel = max_abs(&got, &want) / want.abs().max().double_value(&[]);
    assert!(rel < 1e-6, "step off by {rel} (relative)");
}
