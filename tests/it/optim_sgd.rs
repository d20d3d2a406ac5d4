//! SGD (and AdamW) against libtorch's own optimizers (`tch::nn::Sgd` / `tch::nn::AdamW`, which
//! wrap `torch::optim`) for 100 steps on a small MLP in f64; save → load → continue is bitwise
//! equal to an uninterrupted run; bad config keys are refused by name (grng spec §6.9 test 19).
use crate::common::zip_eq;
use lab::nn::Captured;
use lab::optim::{
    AdamW, AdamWConfig, FirstOrder, Objective, Optimizer, Sgd, SgdConfig, StateDict, Stepper,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::nn::{OptimizerConfig, VarStore};
use tch::{Device, Kind, Tensor};

const OPTS: (Kind, Device) = (Kind::Double, Device::Cpu);
/// Input, hidden and class sizes, batch rows.
const D: i64 = 4;
const H: i64 = 8;
const C: i64 = 3;
const N: i64 = 16;

fn uniform(rng: &mut ChaCha8Rng, n: i64, scale: f64) -> Vec<f64> {
    (0..n).map(|_| rng.gen_range(-scale..scale)).collect()
}

/// A 4→8→3 tanh MLP with fixed initial values; biases in tch group `bias_group`, weights in 0.
pub fn mlp(bias_group: usize) -> VarStore {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut vs = VarStore::new(Device::Cpu);
    vs.set_kind(Kind::Double);
    let root = vs.root();
    for (layer, (fan_in, fan_out)) in [("l1", (D, H)), ("l2", (H, C))] {
        let s = 1.0 / (fan_in as f64).sqrt();
        let w = Tensor::from_slice(&uniform(&mut rng, fan_in * fan_out, s)).view([fan_out, fan_in]);
        let b = Tensor::from_slice(&uniform(&mut rng, fan_out, s));
        let _ = root.sub(layer).var_copy("weight", &w);
        let _ = root.set_group(bias_group).sub(layer).var_copy("bias", &b);
    }
    vs
}

/// A fixed batch: inputs `(N, D)` and labels `(N,)`.
pub fn batch() -> (Tensor, Tensor) {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let x = Tensor::from_slice(&uniform(&mut rng, N * D, 2.0)).view([N, D]);
    let y: Vec<i64> = (0..N).map(|_| rng.gen_range(0..C)).collect();
    (x, Tensor::from_slice(&y))
}

/// Logits `(N, C)` of [`mlp`].
pub fn forward(vs: &VarStore, x: &Tensor) -> Tensor {
    let v = vs.variables();
    let h = (x.matmul(&v["l1.weight"].tr()) + &v["l1.bias"]).tanh();
    h.matmul(&v["l2.weight"].tr()) + &v["l2.bias"]
}

fn loss(vs: &VarStore, (x, y): &(Tensor, Tensor)) -> Tensor {
    forward(vs, x).cross_entropy_for_logits(y)
}

/// Every parameter flattened, sorted by name.
pub type Params = Vec<(String, Vec<f64>)>;

pub fn params(vs: &VarStore) -> Params {
    let mut v: Params = vs
        .variables()
        .into_iter()
        .map(|(n, t)| (n, Vec::<f64>::try_from(t.flatten(0, -1)).unwrap()))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn max_diff(a: &Params, b: &Params) -> f64 {
    let pairs = zip_eq(a, b).flat_map(|((na, va), (nb, vb))| {
        assert_eq!(na, nb);
        zip_eq(va, vb).map(|(x, y)| (x - y).abs())
    });
    pairs.fold(0.0, f64::max)
}

/// The batch as a Stepper objective.
pub struct Batch<'a> {
    pub vs: &'a VarStore,
    pub x: Tensor,
    pub y: Tensor,
}

impl Objective for Batch<'_> {
    fn forward(&mut self, _capture: bool) -> anyhow::Result<(Tensor, Vec<Captured>)> {
        Ok((forward(self.vs, &self.x), Vec::new()))
    }

    fn targets(&self) -> &Tensor {
        &self.y
    }
}

/// 100 steps of ours and libtorch's from the same start (lr ×0.1 after 50); returns the largest
/// parameter difference and the losses of our run at steps 0 and 99.
fn race(
    ours: &mut dyn Optimizer,
    vs: &VarStore,
    theirs: &mut tch::nn::Optimizer,
    tvs: &VarStore,
    lr: f64,
) -> (f64, f64, f64) {
    let data = batch();
    let (mut first, mut last) = (0.0, 0.0);
    for step in 0..100 {
        if step == 50 {
            ours.set_lr(lr * 0.1);
            theirs.set_lr(lr * 0.1);
        }
        let l = loss(vs, &data);
        l.backward();
        ours.step().unwrap();
        ours.zero_grad();
        theirs.zero_grad();
        loss(tvs, &data).backward();
        theirs.step();
        (first, last) = if step == 0 {
            (l.double_value(&[]), 0.0)
        } else {
            (first, l.double_value(&[]))
        };
    }
    (max_diff(&params(vs), &params(tvs)), first, last)
}

#[test]
fn sgd_matches_libtorch_sgd_for_100_steps() {
    // (momentum, dampening, nesterov, weight decay of the matrices; biases never decay)
    let cases = [
        (0.9, 0.0, false, 5e-4),
        (0.9, 0.0, true, 1e-2),
        (0.8, 0.3, false, 1e-2),
        (0.0, 0.0, false, 5e-2),
    ];
    for (momentum, dampening, nesterov, wd) in cases {
        let cfg = SgdConfig {
            lr: 0.1,
            momentum,
            dampening,
            nesterov,
            weight_decay: wd,
            ..SgdConfig::default()
        };
        let vs = mlp(1);
        let mut ours = Sgd::new(&vs, &cfg).unwrap();
        let names: Vec<&str> = ours.groups().iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["decay", "no_decay"]);
        let tvs = mlp(1);
        let sgd = tch::nn::Sgd {
            momentum,
            dampening,
            wd,
            nesterov,
        };
        let mut theirs = sgd.build(&tvs, cfg.lr).unwrap();
        theirs.set_weight_decay_group(1, 0.0);
        let (diff, first, last) = race(&mut ours, &vs, &mut theirs, &tvs, cfg.lr);
        let case = (momentum, dampening, nesterov, wd);
        assert!(diff < 1e-10, "{case:?}: parameters differ by {diff}");
        assert!(
            last < first - 0.1,
            "{case:?}: the network learns ({first} → {last})"
        );
        assert_eq!(ours.steps_done(), 100);
    }
}

#[test]
fn adamw_matches_libtorch_adamw_for_100_steps() {
    let cfg = AdamWConfig {
        lr: 0.01,
        weight_decay: 0.1,
        ..AdamWConfig::default()
    };
    let vs = mlp(1);
    let mut ours = AdamW::new(&vs, &cfg).unwrap();
    let tvs = mlp(1);
    let adamw = tch::nn::AdamW {
        beta1: 0.9,
        beta2: 0.999,
        wd: 0.1,
        eps: 1e-8,
        amsgrad: false,
    };
    let mut theirs = adamw.build(&tvs, cfg.lr).unwrap();
    theirs.set_weight_decay_group(1, 0.0);
    let (diff, first, last) = race(&mut ours, &vs, &mut theirs, &tvs, cfg.lr);
    assert!(diff < 1e-10, "parameters differ by {diff}");
    assert!(last < first - 0.1, "the network learns ({first} → {last})");
}

#[test]
fn decaying_the_biases_too_changes_the_run_so_the_group_split_is_seen() {
    // Same hyperparameters, libtorch with decay on the biases too: our result must differ, so
    // the comparisons above do see the group split.
    let cfg = SgdConfig {
        lr: 0.1,
        weight_decay: 0.1,
        ..SgdConfig::default()
    };
    let vs = mlp(0);
    let mut ours = Sgd::new(&vs, &cfg).unwrap();
    let tvs = mlp(0);
    let sgd = tch::nn::Sgd {
        momentum: 0.9,
        dampening: 0.0,
        wd: 0.1,
        nesterov: false,
    };
    let mut theirs = sgd.build(&tvs, cfg.lr).unwrap();
    let (diff, _, _) = race(&mut ours, &vs, &mut theirs, &tvs, cfg.lr);
    assert!(diff > 1e-4, "decaying the biases changes the run ({diff})");
}

fn resume_cfg() -> SgdConfig {
    SgdConfig {
        lr: 0.1,
        momentum: 0.9,
        dampening: 0.1,
        weight_decay: 0.01,
        ..SgdConfig::default()
    }
}

/// `total` steps of FirstOrder<Sgd>, saving and reloading everything after `split` steps
/// (`restore_state: false` builds the second optimizer fresh, as a control).
fn run_with_resume(total: usize, split: Option<usize>, restore_state: bool) -> Params {
    let (x, y) = batch();
    let vs = mlp(0);
    let mut opt = FirstOrder::new(Sgd::new(&vs, &resume_cfg()).unwrap());
    let mut obj = Batch {
        vs: &vs,
        x: x.shallow_clone(),
        y: y.shallow_clone(),
    };
    let Some(split) = split else {
        for _ in 0..total {
            opt.step(&mut obj).unwrap();
        }
        return params(&vs);
    };
    for _ in 0..split {
        opt.step(&mut obj).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    vs.save(dir.path().join("w.safetensors")).unwrap();
    opt.state_dict().unwrap().save(dir.path(), "opt").unwrap();
    let mut vs2 = mlp(0);
    vs2.load(dir.path().join("w.safetensors")).unwrap();
    let mut opt2 = FirstOrder::new(Sgd::new(&vs2, &resume_cfg()).unwrap());
    if restore_state {
        opt2.load_state_dict(&StateDict::load(dir.path(), "opt").unwrap())
            .unwrap();
        assert_eq!(opt2.steps_done(), split as u64);
    }
    let mut obj2 = Batch { vs: &vs2, x, y };
    for _ in split..total {
        opt2.step(&mut obj2).unwrap();
    }
    params(&vs2)
}

#[test]
fn save_load_continue_is_bitwise_equal_including_before_the_first_step() {
    let straight = run_with_resume(12, None, true);
    assert_eq!(run_with_resume(12, Some(5), true), straight);
    // Saved before any step: no momentum buffer in the file, the next step starts it as b = d.
    assert_eq!(run_with_resume(12, Some(0), true), straight);
    // Control: without the restored buffers the run differs.
    assert!(max_diff(&run_with_resume(12, Some(5), false), &straight) > 1e-6);
}

#[test]
fn a_state_with_missing_or_misshaped_buffers_or_another_optimizer_is_refused_by_name() {
    let vs = mlp(0);
    let data = batch();
    let mut opt = Sgd::new(&vs, &resume_cfg()).unwrap();
    assert!(
        opt.state_dict().unwrap().tensors.is_empty(),
        "no buffer before the first step"
    );
    loss(&vs, &data).backward();
    opt.step().unwrap();
    let full = opt.state_dict().unwrap();
    assert_eq!(full.tensors.len(), 4);
    let mut partial = opt.state_dict().unwrap();
    partial
        .tensors
        .retain(|(k, _)| k != "momentum_buffer/l1.bias");
    let e = format!("{:#}", opt.load_state_dict(&partial).unwrap_err());
    assert!(
        e.contains("momentum_buffer/l1.bias") && e.contains("missing"),
        "{e}"
    );
    let mut bad = opt.state_dict().unwrap();
    bad.tensors[0].1 = Tensor::zeros([2], OPTS);
    let e = format!("{:#}", opt.load_state_dict(&bad).unwrap_err());
    assert!(e.contains(&bad.tensors[0].0) && e.contains("shape"), "{e}");
    let adamw = AdamW::new(&mlp(0), &AdamWConfig::default()).unwrap();
    let e = format!(
        "{:#}",
        opt.load_state_dict(&adamw.state_dict().unwrap())
            .unwrap_err()
    );
    assert!(e.contains("adamw") && e.contains("sgd"), "{e}");
    opt.load_state_dict(&full).unwrap();
}

#[test]
fn config_defaults_unknown_keys_and_bad_values_are_named() {
    let c: SgdConfig = serde_yaml_ng::from_str("lr: 0.1\nnesterov: true\n").unwrap();
    assert_eq!(
        (c.lr, c.momentum, c.dampening, c.weight_decay),
        (0.1, 0.9, 0.0, 5e-4)
    );
    c.validate().unwrap();
    let e = serde_yaml_ng::from_str::<SgdConfig>("lr: 0.1\nmomentun: 0.9\n").unwrap_err();
    assert!(e.to_string().contains("momentun"), "{e}");
    let bad = |yaml: &str| {
        let c: SgdConfig = serde_yaml_ng::from_str(yaml).unwrap();
        format!("{:#}", c.validate().unwrap_err())
    };
    assert!(bad("momentum: 1.0").contains("`momentum`"));
    assert!(bad("dampening: -0.5").contains("`dampening`"));
    assert!(bad("lr: -1").contains("`lr`"));
    assert!(bad("weight_decay: .nan").contains("`weight_decay`"));
    assert!(bad("nesterov: true\ndampening: 0.1").contains("`nesterov: true`"));
    assert!(bad("groups: [{name: decay, patterns: [x]}]").contains("reserved"));
}
