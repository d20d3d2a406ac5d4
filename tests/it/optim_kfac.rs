//! K-FAC (optim::kfac) against the math of grng spec §6.6, §6.9 test 21 and §6.11: Kronecker
//! factors vs per-example Fisher/gradients, least squares in one step, the KL-clip identity, a
//! hand-computed 3→2 update, conv-as-unfold scaling, non-finite skips, bitwise resume.
//! Tiny f64 models built from `nn::layers::Linear`; shared with `grng_reng_ring`.
use crate::common::zip_eq;
use lab::nn::layers::Linear;
use lab::nn::{Captured, Tape};
use lab::optim::kfac::{kfac_groups, DampingScheme, InverseMethod, Inverses, Kfac, KfacConfig};
use lab::optim::stepper::{mean_ce, sample_labels, Objective, Stepper};
use lab::optim::{ParamGroup, StateDict};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::nn::{Init, VarStore};
use tch::{Device, Kind, Reduction, Tensor};

pub const F64: (Kind, Device) = (Kind::Double, Device::Cpu);

/// `logits = l2(tanh(l1(x)) ⊙ scale)`; `scale` (1-D) is not a K-FAC parameter (fallback).
/// With `hidden == 0` the model is one linear layer `l1` (softmax regression).
pub struct Mlp {
    pub vs: VarStore,
    pub l1: Linear,
    pub l2: Option<Linear>,
    pub scale: Option<Tensor>,
    /// Positions per example of a conv-as-unfold input (1: a plain linear model).
    pub positions: i64,
}

pub fn normals(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.gen::<f64>() * 2.0 - 1.0).collect()
}

impl Mlp {
    pub fn new(d_in: i64, hidden: i64, classes: i64, seed: u64) -> Mlp {
        let mut vs = VarStore::new(Device::Cpu);
        let root = vs.root();
        let out1 = if hidden > 0 { hidden } else { classes };
        let l1 = Linear::new(&(&root / "l1"), d_in, out1, true, 0.5);
        let l2 = (hidden > 0).then(|| Linear::new(&(&root / "l2"), hidden, classes, true, 0.5));
        let scale = (hidden > 0).then(|| root.var("scale", &[hidden], Init::Const(1.0)));
        vs.double();
        let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        for (i, (name, t)) in vars.iter_mut().enumerate() {
            let v = normals(t.numel(), seed * 100 + i as u64);
            let base = if name == "scale" { 1.0 } else { 0.0 };
            let src = Tensor::from_slice(&v).view(t.size().as_slice()) * 0.7 + base;
            tch::no_grad(|| t.copy_(&src));
        }
        Mlp {
            vs,
            l1,
            l2,
            scale,
            positions: 1,
        }
    }

    pub fn logits(&self, x: &Tensor, tape: &mut Tape) -> Tensor {
        let h = self.l1.forward(x, tape);
        let out = match (&self.l2, &self.scale) {
            (Some(l2), Some(s)) => l2.forward(&(h.tanh() * s), tape),
            _ => h,
        };
        if out.dim() == 3 {
            out.mean_dim(1, false, Kind::Double) // (N, L, C) → (N, C): average over positions
        } else {
            out
        }
    }

    /// Parameter values by sorted name.
    pub fn values(&self) -> Vec<(String, Vec<f64>)> {
        let mut vars: Vec<(String, Tensor)> = self.vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        vars.into_iter()
            .map(|(n, t)| (n, Vec::<f64>::try_from(t.flatten(0, -1)).unwrap()))
            .collect()
    }

    /// A copy with the same values.
    pub fn twin(&self, d_in: i64, hidden: i64, classes: i64) -> Mlp {
        let mut m = Mlp::new(d_in, hidden, classes, 0);
        m.vs.copy(&self.vs).unwrap();
        m.positions = self.positions;
        m
    }
}

/// One step's batch of an [`Mlp`].
pub struct Batch<'a> {
    pub model: &'a Mlp,
    pub x: Tensor,
    pub y: Tensor,
}

impl Objective for Batch<'_> {
    fn forward(&mut self, capture: bool) -> anyhow::Result<(Tensor, Vec<Captured>)> {
        let mut tape = if capture { Tape::on() } else { Tape::off() };
        let logits = self.model.logits(&self.x, &mut tape);
        Ok((logits, tape.items))
    }
    fn targets(&self) -> &Tensor {
        &self.y
    }
}

/// Batch `k`: n examples (inputs in [-1, 1]), labels in 0..classes.
pub fn batch(model: &Mlp, k: u64, n: i64, d_in: i64, classes: i64) -> Batch<'_> {
    let l = model.positions;
    let shape: Vec<i64> = if l > 1 {
        vec![n, l, d_in]
    } else {
        vec![n, d_in]
    };
    let x = Tensor::from_slice(&normals((n * l * d_in) as usize, 7000 + k)).view(shape.as_slice())
        * 1.5;
    let mut rng = ChaCha8Rng::seed_from_u64(9000 + k);
    let y: Vec<i64> = (0..n).map(|_| rng.gen_range(0..classes)).collect();
    Batch {
        model,
        x,
        y: Tensor::from_slice(&y),
    }
}

/// `kfac_groups` of the model (layers from one captured forward).
pub fn groups(model: &Mlp, d_in: i64, classes: i64, wd: f64) -> Vec<ParamGroup> {
    groups_of(model, &mut batch(model, 0, 2, d_in, classes), wd)
}

/// `kfac_groups` of the model, its layers captured in one forward of `batch`.
pub fn groups_of(model: &Mlp, batch: &mut dyn Objective, wd: f64) -> Vec<ParamGroup> {
    let (_, captured) = batch.forward(true).unwrap();
    let mut vars: Vec<(String, Tensor)> = model.vs.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    kfac_groups(vars, &captured, wd).unwrap()
}

/// A config whose update is −η·U exactly (no momentum, decay or clip), statistics and
/// inverses every step.
pub fn plain(mut cfg: KfacConfig) -> KfacConfig {
    cfg.momentum = 0.0;
    cfg.weight_decay = 0.0;
    cfg.kl_clip = None;
    cfg.t_stat = 1;
    cfg.t_inv = 1;
    cfg.lr = 1.0;
    cfg.seed = 5;
    cfg
}

pub fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

/// Statistics every 2 steps, inverses every 3, weight decay from step 2: a schedule whose
/// reuse between refreshes shows within a few steps.
pub fn small_schedule(cfg: KfacConfig) -> KfacConfig {
    KfacConfig {
        t_stat: 2,
        t_inv: 3,
        wd_after_steps: Some(2),
        lr: 0.1,
        ..cfg
    }
}

/// Each parameter's name and largest |difference| between two models of the same shape.
pub fn param_diffs(a: &Mlp, b: &Mlp) -> Vec<(String, f64)> {
    zip_eq(a.values(), b.values())
        .map(|((n, va), (_, vb))| {
            let diff = zip_eq(&va, &vb)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f64::max);
            (n, diff)
        })
        .collect()
}

/// Twin `(d, h, c)` models from `seed` stepped by `a` and `b` on the same batches: their
/// parameters agree to `tol` after every one of `steps` steps.
pub fn assert_same_trajectory(
    a: KfacConfig,
    b: KfacConfig,
    (d, h, c, seed): (i64, i64, i64, u64),
    steps: u64,
    tol: f64,
) {
    let m_a = Mlp::new(d, h, c, seed);
    let m_b = m_a.twin(d, h, c);
    let mut s_a = Kfac::new(groups(&m_a, d, c, a.weight_decay), a).unwrap();
    let mut s_b = Kfac::new(groups(&m_b, d, c, b.weight_decay), b).unwrap();
    for k in 0..steps {
        s_a.step(&mut batch(&m_a, k, 8, d, c)).unwrap();
        s_b.step(&mut batch(&m_b, k, 8, d, c)).unwrap();
        for (n, diff) in param_diffs(&m_a, &m_b) {
            assert!(diff <= tol, "step {k}, {n}: {diff}");
        }
    }
}

/// θ_after − θ_before of the named parameter.
pub fn delta(before: &[(String, Vec<f64>)], after: &[(String, Vec<f64>)], name: &str) -> Vec<f64> {
    let find = |v: &[(String, Vec<f64>)]| v.iter().find(|(n, _)| n == name).unwrap().1.clone();
    zip_eq(find(after), find(before))
        .map(|(a, b)| a - b)
        .collect()
}

/// Train `cfg` for `split` steps, save to disk, load into a fresh model and stepper, train to
/// `total`; the result must equal `total` uninterrupted steps bit for bit.
pub fn assert_resume_bitwise(cfg: &KfacConfig, split: u64, total: u64) {
    let (d, h, c) = (4, 5, 3);
    let run = |m: &Mlp, s: &mut Kfac, steps: std::ops::Range<u64>| {
        for k in steps {
            s.set_lr(cfg.lr / (1.0 + 0.01 * k as f64));
            s.step(&mut batch(m, k, 8, d, c)).unwrap();
        }
    };
    let full = Mlp::new(d, h, c, 3);
    let mut s_full = Kfac::new(groups(&full, d, c, cfg.weight_decay), cfg.clone()).unwrap();
    run(&full, &mut s_full, 0..total);
    let first = Mlp::new(d, h, c, 3);
    let mut s_first = Kfac::new(groups(&first, d, c, cfg.weight_decay), cfg.clone()).unwrap();
    run(&first, &mut s_first, 0..split);
    let dir = tempfile::tempdir().unwrap();
    s_first
        .state_dict()
        .unwrap()
        .save(dir.path(), "opt")
        .unwrap();
    let second = first.twin(d, h, c);
    drop((s_first, first));
    let mut s_second = Kfac::new(groups(&second, d, c, cfg.weight_decay), cfg.clone()).unwrap();
    s_second
        .load_state_dict(&StateDict::load(dir.path(), "opt").unwrap())
        .unwrap();
    assert_eq!(s_second.steps_done(), split);
    run(&second, &mut s_second, split..total);
    let bits = |m: &Mlp| -> Vec<Vec<u64>> {
        m.values()
            .into_iter()
            .map(|(_, v)| v.iter().map(|x| x.to_bits()).collect())
            .collect()
    };
    assert_eq!(
        bits(&second),
        bits(&full),
        "{} resumed at {split}",
        cfg.name()
    );
}

#[test]
fn kronecker_block_equals_per_example_fisher() {
    let m = Mlp::new(5, 0, 3, 1);
    let mut b = batch(&m, 1, 1, 5, 3);
    let cfg = KfacConfig {
        stat_decay: 0.0,
        lr: 0.0,
        ..plain(KfacConfig::kfac())
    };
    // The label the stepper will sample, and the per-example gradient of −log p(ŷ).
    let (logits, _) = b.forward(false).unwrap();
    let yhat = sample_labels(&logits, &mut ChaCha8Rng::seed_from_u64(cfg.seed)).unwrap();
    let nll = logits.cross_entropy_loss::<Tensor>(&yhat, None, Reduction::Sum, -100, 0.0);
    let bias = m.l1.bias.as_ref().unwrap();
    let g = Tensor::run_backward(&[&nll], &[&m.l1.weight, bias], false, false);
    let grad = Tensor::cat(&[g[0].shallow_clone(), g[1].view([3, 1])], 1).flatten(0, -1); // vec_r
    let dense = grad.unsqueeze(1).matmul(&grad.unsqueeze(0)); // (18, 18)
    let mut s = Kfac::new(groups(&m, 5, 3, 0.0), cfg).unwrap();
    s.step(&mut b).unwrap();
    let f = s.layer_factors();
    assert_eq!(f.len(), 1);
    let kron = f[0].2.kron(&f[0].1); // G ⊗ A in row-major order
    assert!(
        max_diff(&kron, &dense) < 1e-12,
        "{}",
        max_diff(&kron, &dense)
    );
}

#[test]
fn factors_equal_factors_of_explicit_per_example_gradients() {
    let (d, h, c, n) = (4, 5, 3, 6);
    let m = Mlp::new(d, h, c, 2);
    let mut b = batch(&m, 2, n, d, c);
    let cfg = KfacConfig {
        stat_decay: 0.0,
        lr: 0.0,
        ..plain(KfacConfig::kfac())
    };
    let (logits, _) = b.forward(false).unwrap();
    let yhat = sample_labels(&logits, &mut ChaCha8Rng::seed_from_u64(cfg.seed)).unwrap();
    let (mut a1, mut g1, mut a2, mut g2) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let ones = Tensor::ones([1, 1], F64);
    for j in 0..n {
        let mut tape = Tape::on();
        let xj = b.x.narrow(0, j, 1);
        let lj = m.logits(&xj, &mut tape);
        let nll =
            lj.cross_entropy_loss::<Tensor>(&yhat.narrow(0, j, 1), None, Reduction::Sum, -100, 0.0);
        let biases = [
            m.l1.bias.as_ref().unwrap(),
            m.l2.as_ref().unwrap().bias.as_ref().unwrap(),
        ];
        let e = Tensor::run_backward(&[&nll], &biases, false, false); // ∂ℓ_j/∂b = e_j
        a1.push(Tensor::cat(&[xj.shallow_clone(), ones.shallow_clone()], 1));
        a2.push(Tensor::cat(
            &[tape.items[1].input.detach(), ones.shallow_clone()],
            1,
        ));
        g1.push(e[0].view([1, h]));
        g2.push(e[1].view([1, c]));
    }
    let mean_outer = |rows: &[Tensor]| {
        let r = Tensor::cat(rows, 0);
        r.transpose(0, 1).matmul(&r) / n as f64
    };
    let mut s = Kfac::new(groups(&m, d, c, 0.0), cfg).unwrap();
    s.step(&mut b).unwrap();
    let f = s.layer_factors();
    assert_eq!((f[0].0.as_str(), f[1].0.as_str()), ("l1", "l2"));
    for (got, want) in [
        (&f[0].1, &a1),
        (&f[0].2, &g1),
        (&f[1].1, &a2),
        (&f[1].2, &g2),
    ] {
        assert!(max_diff(got, &mean_outer(want)) < 1e-12);
    }
}

#[test]
fn conv_as_unfold_scaling_and_one_position_equals_linear() {
    let (d, c, n) = (3, 4, 5);
    // L = 1 position written as (N, 1, d): the same update as the linear layer.
    let lin = Mlp::new(d, 0, c, 4);
    let mut conv = lin.twin(d, 0, c);
    conv.positions = 1;
    let cfg = plain(KfacConfig::kfac());
    let mut s_lin = Kfac::new(groups(&lin, d, c, 0.0), cfg.clone()).unwrap();
    s_lin.step(&mut batch(&lin, 3, n, d, c)).unwrap();
    let mut s_conv = Kfac::new(groups(&conv, d, c, 0.0), cfg.clone()).unwrap();
    let mut b = batch(&conv, 3, n, d, c);
    b.x = b.x.unsqueeze(1); // (N, 1, d)
    s_conv.step(&mut b).unwrap();
    assert_eq!(lin.values(), conv.values());
    // L = 3 positions: A = Σ (a/L)(a/L)ᵀ / N, G = (L/N) Σ e eᵀ over all N·L rows.
    let mut m = Mlp::new(d, 0, c, 5);
    m.positions = 3;
    let cfg = KfacConfig {
        stat_decay: 0.0,
        lr: 0.0,
        ..cfg
    };
    let mut b = batch(&m, 4, n, d, c);
    let mut tape = Tape::on();
    let logits = m.logits(&b.x, &mut tape);
    let yhat = sample_labels(&logits, &mut ChaCha8Rng::seed_from_u64(cfg.seed)).unwrap();
    let nll = logits.cross_entropy_loss::<Tensor>(&yhat, None, Reduction::Sum, -100, 0.0);
    let e =
        Tensor::run_backward(&[&nll], &[&tape.items[0].output], false, false)[0].reshape([-1, c]);
    let a = Tensor::cat(&[b.x.reshape([-1, d]), Tensor::ones([n * 3, 1], F64)], 1);
    let want_a = a.transpose(0, 1).matmul(&a) / (n as f64 * 9.0);
    let want_g = e.transpose(0, 1).matmul(&e) * (3.0 / n as f64);
    let mut s = Kfac::new(groups(&m, d, c, 0.0), cfg).unwrap();
    s.step(&mut b).unwrap();
    let f = s.layer_factors();
    assert!(max_diff(&f[0].1, &want_a) < 1e-12);
    assert!(max_diff(&f[0].2, &want_g) < 1e-12);
}

#[test]
fn one_step_with_exact_gaussian_fisher_lands_on_least_squares() {
    // y = W x + b + noise, loss = mean ½‖Wx + b − y‖²: G = I exactly, so U = ∇W·A⁻¹ (§6.6.6).
    let (n, d_in, d_out) = (20, 3, 2);
    let x = Tensor::from_slice(&normals(n * d_in, 1)).view([n as i64, d_in as i64]);
    let y = Tensor::from_slice(&normals(n * d_out, 2)).view([n as i64, d_out as i64]);
    let a = Tensor::cat(&[x, Tensor::ones([n as i64, 1], F64)], 1); // (n, d_in + 1)
    let w0 = Tensor::from_slice(&normals(d_out * 4, 3))
        .view([d_out as i64, 4])
        .set_requires_grad(true);
    let loss = (a.matmul(&w0.transpose(0, 1)) - &y)
        .square()
        .sum(Kind::Double)
        * (0.5 / n as f64);
    let grad = Tensor::run_backward(&[&loss], &[&w0], false, false).remove(0);
    let big_a = a.transpose(0, 1).matmul(&a) / n as f64;
    let inv = Inverses::compute(
        InverseMethod::Eigen,
        &big_a,
        &Tensor::eye(d_out as i64, F64),
    )
    .unwrap();
    // Least squares: W* = Yᵀ A (AᵀA)⁻¹.
    let want = y
        .transpose(0, 1)
        .matmul(&a)
        .matmul(&a.transpose(0, 1).matmul(&a).inverse());
    for scheme in [DampingScheme::Factored, DampingScheme::ExactEigen] {
        let w1 = w0.detach() - inv.precondition(&grad, 0.0, scheme);
        assert!(
            max_diff(&w1, &want) < 1e-8,
            "{scheme:?}: {}",
            max_diff(&w1, &want)
        );
    }
}

#[test]
fn fallback_adamw_moves_other_parameters_by_its_first_step() {
    let (d, h, c) = (4, 5, 3);
    let m = Mlp::new(d, h, c, 9);
    let g_model = m.twin(d, h, c);
    let mut b = batch(&g_model, 1, 8, d, c);
    let (logits, _) = b.forward(false).unwrap();
    mean_ce(&logits, &b.y).backward();
    let g = Vec::<f64>::try_from(g_model.vs.variables()["scale"].grad()).unwrap();
    let cfg = KfacConfig {
        lr: 0.2,
        ..plain(KfacConfig::kfac())
    };
    let before = m.values();
    let mut s = Kfac::new(groups(&m, d, c, 0.0), cfg).unwrap();
    s.step(&mut batch(&m, 1, 8, d, c)).unwrap();
    assert_eq!(s.layer_plans().len(), 2);
    // AdamW's first step: −lr·g/(|g| + ε) with lr = 0.2·0.1.
    for (dv, g) in zip_eq(&delta(&before, &m.values(), "scale"), &g) {
        assert!((dv + 0.02 * g / (g.abs() + 1e-8)).abs() < 1e-9);
    }
}

#[test]
fn nonfinite_batch_skips_the_step_and_raises_damping() {
    let (d, h, c) = (4, 5, 3);
    let m = Mlp::new(d, h, c, 10);
    let mut s = Kfac::new(groups(&m, d, c, 0.0), plain(KfacConfig::kfac())).unwrap();
    s.step(&mut batch(&m, 0, 8, d, c)).unwrap();
    let before = m.values();
    let mut bad = batch(&m, 1, 8, d, c);
    let _ = bad.x.fill_diagonal_(f64::NAN, false);
    let r = s.step(&mut bad).unwrap();
    assert!(r.nonfinite_skipped);
    assert_eq!(m.values(), before);
    let r = s.step(&mut batch(&m, 2, 8, d, c)).unwrap();
    assert!(!r.nonfinite_skipped);
    assert!(
        (r.damping_eff.unwrap() - 1e-2).abs() < 1e-15,
        "{:?}",
        r.damping_eff
    );
}

#[test]
fn kfac_resume_is_bitwise_also_off_refresh_steps() {
    let cfg = KfacConfig {
        t_stat: 3,
        t_inv: 7,
        wd_after_steps: Some(10),
        lr: 0.1,
        ..KfacConfig::kfac()
    };
    assert_resume_bitwise(&cfg, 30, 50); // 30: a statistics step, not an inverse refresh
    assert_resume_bitwise(
        &KfacConfig {
            fallback: lab::optim::kfac::Fallback::SgdMomentum,
            ..cfg.clone()
        },
        31,
        40,
    );
}

#[test]
fn state_of_another_variant_or_model_is_refused() {
    let (d, h, c) = (4, 5, 3);
    let m = Mlp::new(d, h, c, 12);
    let mut s = Kfac::new(groups(&m, d, c, 0.0), plain(KfacConfig::kfac())).unwrap();
    s.step(&mut batch(&m, 0, 8, d, c)).unwrap();
    let state = s.state_dict().unwrap();
    let mut ring = Kfac::new(groups(&m, d, c, 0.0), plain(KfacConfig::ring())).unwrap();
    let err = ring.load_state_dict(&state).unwrap_err().to_string();
    assert!(err.contains("kfac") && err.contains("ring"), "{err}");
    let mut missing = s.state_dict().unwrap();
    missing.tensors.retain(|(k, _)| k != "kfac.a/l2.weight");
    let err = s.load_state_dict(&missing).unwrap_err().to_string();
    assert!(err.contains("kfac.a/l2.weight"), "{err}");
}
