//! AdamW against hand-computed steps and a recorded `torch.optim.AdamW` trajectory (f64).
use crate::common::zip_eq;
use lab::optim::{AdamW, AdamWConfig, GroupOverride, LrSchedule, Optimizer};
use serde_json::Value;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

/// A double-precision VarStore holding `vars` (name with dots, shape, values).
pub fn store(vars: &[(&str, &[i64], Vec<f64>)]) -> VarStore {
    let mut vs = VarStore::new(Device::Cpu);
    vs.set_kind(Kind::Double);
    for (name, shape, values) in vars {
        let mut parts: Vec<&str> = name.split('.').collect();
        let last = parts.pop().unwrap();
        let path = parts.iter().fold(vs.root(), |p, s| p.sub(*s));
        let _ = path.var_copy(last, &Tensor::from_slice(values).view(*shape));
    }
    vs
}

/// Put gradient `grads[name]` on each variable: backward of Σ p·G.
pub fn set_grads(vs: &VarStore, grads: &[(&str, Vec<f64>)]) {
    let vars = vs.variables();
    let mut loss = Tensor::zeros([], (Kind::Double, Device::Cpu));
    for (name, g) in grads {
        let p = &vars[*name];
        loss += (p * Tensor::from_slice(g).view(p.size().as_slice())).sum(Kind::Double);
    }
    loss.backward();
}

pub fn values(vs: &VarStore, name: &str) -> Vec<f64> {
    let t = vs.variables()[name].flatten(0, -1);
    Vec::<f64>::try_from(&t).unwrap()
}

fn cfg(lr: f64, wd: f64) -> AdamWConfig {
    AdamWConfig {
        lr,
        weight_decay: wd,
        ..AdamWConfig::default()
    }
}

#[test]
fn two_steps_match_hand_computed_values_in_two_groups() {
    // lr 0.1, betas (0.9, 0.999), eps 1e-8; w decays (0.1), b does not; g = +0.5 then -0.5.
    let vs = store(&[("w", &[2, 2], vec![1.0; 4]), ("b", &[2], vec![-2.0; 2])]);
    let mut opt = AdamW::new(&vs, &cfg(0.1, 0.1)).unwrap();
    let names: Vec<&str> = opt.groups().iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["decay", "no_decay"]);
    // step 1: m̂ = 0.5, v̂ = 0.25, update = 0.1·0.5/(0.5 + 1e-8).
    let u1 = 0.1 * 0.5 / (0.5 + 1e-8);
    set_grads(&vs, &[("w", vec![0.5; 4]), ("b", vec![0.5; 2])]);
    opt.step().unwrap();
    opt.zero_grad();
    let w1: f64 = 0.99 - u1;
    assert!((w1 - 0.890000002).abs() < 1e-15);
    assert_close(&values(&vs, "w"), &[w1; 4], 1e-15);
    assert_close(&values(&vs, "b"), &[-2.0 - u1; 2], 1e-15);
    // step 2: m = 0.045 − 0.05 = −0.005, v = 0.999·0.00025 + 0.001·0.25 = 0.00049975,
    // m̂ = −0.005/0.19, v̂ = 0.00049975/0.001999 = 0.25 → update = 0.1·(−0.005/0.19)/(0.5+1e-8).
    set_grads(&vs, &[("w", vec![-0.5; 4]), ("b", vec![-0.5; 2])]);
    opt.step().unwrap();
    let u2 = 0.1 * (-0.005 / 0.19) / (0.5 + 1e-8);
    assert_close(&values(&vs, "w"), &[w1 * 0.99 - u2; 4], 1e-14);
    assert_close(&values(&vs, "b"), &[-2.0 - u1 - u2; 2], 1e-14);
    assert_eq!(opt.steps_done(), 2);
}

pub fn assert_close(got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "lengths differ");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol,
            "element {i}: got {g}, want {w} (tol {tol})"
        );
    }
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn matches_torch_adamw_trajectory_with_groups_schedule_and_clipping() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/optim/adamw_torch.json"
    );
    let r: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let shapes = r["shapes"].as_object().unwrap();
    let vars: Vec<(&str, Vec<i64>, Vec<f64>)> = shapes
        .iter()
        .map(|(n, s)| {
            let shape = s
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_i64().unwrap())
                .collect();
            (n.as_str(), shape, f64s(&r["init"][n]))
        })
        .collect();
    let vars: Vec<(&str, &[i64], Vec<f64>)> = vars
        .iter()
        .map(|(n, s, v)| (*n, s.as_slice(), v.clone()))
        .collect();
    let vs = store(&vars);
    let c = AdamWConfig {
        lr: r["base_lr"].as_f64().unwrap(),
        betas: [0.9, 0.95],
        eps: 1e-8,
        weight_decay: 0.1,
        grad_clip: Some(r["clip"].as_f64().unwrap()),
        groups: vec![GroupOverride {
            name: "head".into(),
            patterns: vec!["lm_head".into()],
            lr_mult: 0.5,
            weight_decay: Some(0.05),
            flags: Default::default(),
        }],
        ..AdamWConfig::default()
    };
    let mut opt = AdamW::new(&vs, &c).unwrap();
    for (ours, theirs) in zip_eq(opt.groups(), r["groups"].as_array().unwrap()) {
        let names: Vec<&str> = ours.params.iter().map(|(n, _)| n.as_str()).collect();
        let want: Vec<&str> = theirs["params"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap())
            .collect();
        assert_eq!(
            (ours.name.as_str(), names),
            (theirs["name"].as_str().unwrap(), want)
        );
    }
    assert_eq!(opt.groups().len(), 3);
    let sched = LrSchedule::WarmupCosine {
        warmup: r["warmup"].as_u64().unwrap(),
        total: r["total"].as_u64().unwrap(),
        lr_min: r["lr_min"].as_f64().unwrap(),
    };
    let lrs = f64s(&r["lr"]);
    let norms = f64s(&r["grad_norm"]);
    let (mut clipped, mut unclipped) = (0, 0);
    for step in 0..lrs.len() {
        let lr = sched.lr_at(c.lr, step as u64);
        assert!(
            (lr - lrs[step]).abs() < 1e-15,
            "lr at {step}: {lr} vs {}",
            lrs[step]
        );
        opt.set_lr(lr);
        let grads: Vec<(&str, Vec<f64>)> = shapes
            .keys()
            .map(|n| (n.as_str(), f64s(&r["grads"][step][n])))
            .collect();
        set_grads(&vs, &grads);
        let norm = opt.step().unwrap().grad_norm.unwrap();
        opt.zero_grad();
        assert!(
            (norm - norms[step]).abs() < 1e-12 * norms[step],
            "norm at step {step}"
        );
        if norm > 1.0 {
            clipped += 1
        } else {
            unclipped += 1
        }
        for n in shapes.keys() {
            assert_close(&values(&vs, n), &f64s(&r["after"][step][n]), 1e-12);
        }
    }
    assert!(
        clipped > 0 && unclipped > 0,
        "the fixture exercises both sides of the clip"
    );
}

#[test]
fn clipping_reports_the_norm_before_and_leaves_the_clip_after() {
    let vs = store(&[("w", &[2, 2], vec![0.0; 4]), ("b", &[2], vec![0.0; 2])]);
    let mut opt = AdamW::new(&vs, &cfg(0.1, 0.0)).unwrap();
    // ‖g‖ = √(4·9 + 2·4) = √44.
    set_grads(&vs, &[("w", vec![3.0; 4]), ("b", vec![-2.0; 2])]);
    let before = opt.clip_grad_norm(1.0).unwrap();
    assert!((before - 44f64.sqrt()).abs() < 1e-14);
    let after = opt.grad_norm().unwrap();
    assert!(
        (after - 44f64.sqrt() / (44f64.sqrt() + 1e-6)).abs() < 1e-14,
        "after {after}"
    );
    let g = Vec::<f64>::try_from(vs.variables()["w"].grad().flatten(0, -1)).unwrap();
    assert_close(&g, &[3.0 / (44f64.sqrt() + 1e-6); 4], 1e-15);
    // Below the clip nothing changes.
    opt.zero_grad();
    set_grads(&vs, &[("w", vec![0.1; 4]), ("b", vec![0.1; 2])]);
    let small = opt.clip_grad_norm(1.0).unwrap();
    assert!((small - 0.06f64.sqrt()).abs() < 1e-15);
    assert_eq!(opt.grad_norm().unwrap(), small);
}

#[test]
fn gradients_accumulate_in_place_across_backward_calls_and_reallocated_params_are_picked_up() {
    let vs = store(&[("w", &[2, 2], vec![1.0; 4])]);
    let mut opt = AdamW::new(&vs, &cfg(0.1, 0.0)).unwrap();
    set_grads(&vs, &[("w", vec![1.0; 4])]);
    opt.step().unwrap();
    opt.zero_grad();
    let ptr = vs.variables()["w"].grad().data_ptr();
    // Two micro-batches: gradients add up in the aliased buffer.
    set_grads(&vs, &[("w", vec![0.25; 4])]);
    set_grads(&vs, &[("w", vec![0.5; 4])]);
    assert_eq!(
        vs.variables()["w"].grad().data_ptr(),
        ptr,
        "backward kept the alias"
    );
    assert!((opt.grad_norm().unwrap() - 1.5).abs() < 1e-15);
    // A parameter whose storage is replaced (as VarStore::load does) is re-pointed, values kept.
    let mut w = vs.variables()["w"].shallow_clone();
    w.set_data(&Tensor::full([2, 2], 7.0, (Kind::Double, Device::Cpu)));
    opt.zero_grad();
    set_grads(&vs, &[("w", vec![0.0; 4])]);
    opt.set_lr(0.0);
    opt.step().unwrap();
    assert_close(&values(&vs, "w"), &[7.0; 4], 0.0);
    let flat_ptr = vs.variables()["w"].data_ptr();
    opt.step().unwrap();
    assert_eq!(vs.variables()["w"].data_ptr(), flat_ptr);
}

#[test]
fn group_overrides_set_lr_multipliers_and_flags_and_mixed_dtypes_are_refused() {
    let vs = store(&[
        ("blk.w", &[2, 2], vec![1.0; 4]),
        ("lm_head.w", &[2, 2], vec![1.0; 4]),
        ("tok_emb.w", &[3, 2], vec![1.0; 6]),
    ]);
    let c: AdamWConfig = serde_yaml_ng::from_str(
        "lr: 0.01\ngroups: [{name: head, patterns: [lm_head], lr_mult: 0.5, flags: {kfac: true}}]",
    )
    .unwrap();
    let mut opt = AdamW::new(&vs, &c).unwrap();
    let g: Vec<(&str, usize, f64, bool)> = opt
        .groups()
        .iter()
        .map(|g| {
            (
                g.name.as_str(),
                g.params.len(),
                g.weight_decay,
                g.flags.kfac,
            )
        })
        .collect();
    assert_eq!(
        g,
        [
            ("decay", 1, 0.01, false),
            ("no_decay", 1, 0.0, false),
            ("head", 1, 0.01, true)
        ]
    );
    assert_eq!((opt.lr(0), opt.lr(2)), (0.01, 0.005));
    opt.set_lr(0.1);
    assert_eq!((opt.lr(1), opt.lr(2)), (0.1, 0.05));
    opt.set_group_lr(2, 0.3).unwrap();
    assert_eq!(opt.lr(2), 0.3);
    assert!(opt.set_group_lr(3, 0.3).is_err());

    let mixed = store(&[("a.w", &[2, 2], vec![1.0; 4])]);
    let mut b = mixed
        .root()
        .sub("b")
        .var_copy("w", &Tensor::ones([2, 2], (Kind::Double, Device::Cpu)));
    b.set_data(&b.to_kind(Kind::Float));
    let e = format!("{:#}", AdamW::new(&mixed, &cfg(0.1, 0.1)).unwrap_err());
    assert!(e.contains("b.w") && e.contains("group `decay`"), "{e}");
}

/// Plain per-tensor AdamW (PyTorch's op order), the reference for a real network below.
fn reference_step(params: &[(String, Tensor)], state: &mut [(Tensor, Tensor)], t: i32, lr: f64) {
    let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8);
    tch::no_grad(|| {
        for ((name, p), (m, v)) in zip_eq(params, state.iter_mut()) {
            let mut p = p.shallow_clone();
            let g = p.grad();
            if p.dim() >= 2 && !name.contains("emb") {
                let _ = p.g_mul_scalar_(1.0 - lr * 0.1);
            }
            *m = &*m * b1 + &g * (1.0 - b1);
            *v = &*v * b2 + &g * &g * (1.0 - b2);
            let denom = v.sqrt() / (1.0 - b2.powi(t)).sqrt() + eps;
            p += &*m / denom * (-lr / (1.0 - b1.powi(t)));
        }
    });
}

#[test]
fn a_tch_nn_network_trains_like_the_per_tensor_reference() {
    use tch::nn::{self, Module};
    let build = || {
        tch::manual_seed(11);
        let mut vs = VarStore::new(Device::Cpu);
        vs.set_kind(Kind::Double);
        let root = vs.root();
        let emb = nn::embedding(&root / "emb", 5, 4, Default::default());
        let net = nn::seq()
            .add(nn::linear(&root / "l1", 4, 8, Default::default()))
            .add_fn(|x| x.tanh())
            .add(nn::linear(&root / "l2", 8, 5, Default::default()));
        (vs, move |x: &Tensor| net.forward(&emb.forward(x)))
    };
    let tokens = Tensor::from_slice(&[0i64, 3, 1, 4, 2, 2]);
    let targets = Tensor::from_slice(&[1i64, 2, 0, 0, 4, 3]);
    let (vs, f) = build();
    let mut opt = AdamW::new(&vs, &cfg(0.05, 0.1)).unwrap();
    let (mut vs_ref, f_ref) = build();
    // The same initial weights whatever other test threads do to torch's global seed between
    // the two builds.
    vs_ref.copy(&vs).unwrap();
    let mut named: Vec<(String, Tensor)> = vs_ref.variables().into_iter().collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    let mut state: Vec<(Tensor, Tensor)> = named
        .iter()
        .map(|(_, p)| (p.zeros_like(), p.zeros_like()))
        .collect();
    let mut losses = Vec::new();
    for t in 1..=5 {
        let loss = f(&tokens).cross_entropy_loss::<Tensor>(
            &targets,
            None,
            tch::Reduction::Mean,
            -100,
            0.0,
        );
        losses.push(loss.double_value(&[]));
        loss.backward();
        opt.step().unwrap();
        opt.zero_grad();
        let loss_ref = f_ref(&tokens).cross_entropy_loss::<Tensor>(
            &targets,
            None,
            tch::Reduction::Mean,
            -100,
            0.0,
        );
        loss_ref.backward();
        reference_step(&named, &mut state, t, 0.05);
        for (_, p) in &named {
            p.shallow_clone().zero_grad();
        }
    }
    assert!(
        losses[4] < losses[0] - 0.1,
        "the network learns: {losses:?}"
    );
    for (name, p) in &named {
        let ours = Vec::<f64>::try_from(vs.variables()[name].flatten(0, -1)).unwrap();
        let theirs = Vec::<f64>::try_from(p.flatten(0, -1)).unwrap();
        assert_close(&ours, &theirs, 1e-13);
    }
}
