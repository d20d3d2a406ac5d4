//! Tiny f64 models built from `nn::layers::Linear` and what the K-FAC-family tests share:
//! batches, parameter groups, configs with a small schedule, trajectory and bitwise-resume
//! checks (`optim_kfac*`, `grng_newton*`, `grng_reng_ring`).
use crate::common::zip_eq;
use lab::nn::layers::Linear;
use lab::nn::{Captured, Tape};
use lab::optim::kfac::{kfac_groups, Kfac, KfacConfig};
use lab::optim::stepper::{Objective, Stepper};
use lab::optim::{ParamGroup, StateDict};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::nn::{Init, VarStore};
use tch::{Device, Kind, Tensor};

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
