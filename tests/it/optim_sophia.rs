//! Sophia-G (grng spec §3.4, §6.9 test 20): the per-coordinate step bound, sign-momentum while
//! h = 0, the Gauss–Newton–Bartlett estimate against the dense Gauss–Newton diagonal, h ≥ 0,
//! and a bitwise-equal resume (RNG included).
use super::optim_sgd::{batch, mlp, params, Batch, Params};
use crate::common::zip_eq;
use lab::nn::Captured;
use lab::optim::{Objective, Sophia, SophiaConfig, StateDict, Stepper};
use std::collections::BTreeMap;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

fn cfg(lr: f64, rho: f64, bs: f64, k: u64, wd: f64) -> SophiaConfig {
    SophiaConfig {
        lr,
        rho,
        bs: Some(bs),
        k,
        weight_decay: wd,
        seed: 5,
        ..SophiaConfig::default()
    }
}

fn state(opt: &Sophia) -> BTreeMap<String, Vec<f64>> {
    let sd = opt.state_dict().unwrap();
    let flat = |t: &Tensor| Vec::<f64>::try_from(t.flatten(0, -1)).unwrap();
    sd.tensors
        .iter()
        .map(|(k, t)| (k.clone(), flat(t)))
        .collect()
}

/// (name, group lr, group decay) of every parameter.
fn lr_and_decay(opt: &Sophia) -> BTreeMap<String, (f64, f64)> {
    let groups = opt.groups().iter().enumerate();
    groups
        .flat_map(|(i, g)| {
            let v = (opt.lr(i), g.weight_decay);
            g.params.iter().map(move |(n, _)| (n.clone(), v))
        })
        .collect()
}

#[test]
fn every_coordinate_moves_at_most_lr_beyond_the_decay_and_h_stays_nonnegative() {
    // (lr, rho, bs): the first clips nearly everything, the second leaves most coordinates free.
    for (lr, rho, bs) in [(0.01, 0.04, 16.0), (0.01, 2.0, 1000.0)] {
        let vs = mlp(0);
        let (x, y) = batch();
        let mut opt = Sophia::new(&vs, &cfg(lr, rho, bs, 2, 0.1)).unwrap();
        let groups = lr_and_decay(&opt);
        let mut obj = Batch { vs: &vs, x, y };
        let (mut at_bound, mut inside) = (0, 0);
        for _ in 0..30 {
            let before = params(&vs);
            opt.step(&mut obj).unwrap();
            for ((name, old), (_, new)) in zip_eq(&before, params(&vs)) {
                let (lr, wd) = groups[name];
                for (o, n) in zip_eq(old, &new) {
                    let moved = (n - o * (1.0 - lr * wd)).abs();
                    assert!(
                        moved <= lr * (1.0 + 1e-9),
                        "{name}: moved {moved} > lr {lr}"
                    );
                    if moved > lr * (1.0 - 1e-9) {
                        at_bound += 1
                    } else if moved < 0.9 * lr {
                        inside += 1
                    }
                }
            }
            for (k, h) in state(&opt)
                .iter()
                .filter(|(k, _)| k.starts_with("hessian/"))
            {
                assert!(h.iter().all(|&v| v >= 0.0), "{k} has a negative entry");
            }
        }
        assert!(
            at_bound > 0 && inside > 0,
            "both regimes occur: {at_bound} clipped, {inside} free"
        );
        let h = state(&opt);
        assert!(
            h["hessian/l1.weight"].iter().any(|&v| v > 0.0),
            "h was estimated"
        );
    }
}

#[test]
fn with_h_zero_the_step_is_exactly_minus_lr_sign_m() {
    let vs = mlp(0);
    let (x, y) = batch();
    let mut opt = Sophia::new(&vs, &cfg(0.003, 0.04, 16.0, 1000, 0.0)).unwrap();
    let mut obj = Batch { vs: &vs, x, y };
    // The gradient of step 1, computed here: m = (1 − β1)·g has its sign.
    let (logits, _) = obj.forward(false).unwrap();
    lab::optim::stepper::mean_ce(&logits, &obj.y).backward();
    let g: Vec<(String, Vec<f64>)> = {
        let mut v: Vec<_> = vs
            .variables()
            .into_iter()
            .map(|(n, t)| (n, Vec::<f64>::try_from(t.grad().flatten(0, -1)).unwrap()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    for step in 0..3 {
        let before = params(&vs);
        opt.step(&mut obj).unwrap();
        let s = state(&opt);
        for ((name, old), (_, new)) in zip_eq(&before, params(&vs)) {
            let m = &s[&format!("exp_avg/{name}")];
            assert!(s[&format!("hessian/{name}")].iter().all(|&h| h == 0.0));
            let want: Vec<f64> = zip_eq(old, m)
                .map(|(o, m)| o - 0.003 * m.signum())
                .collect();
            assert_eq!(new, want, "{name} at step {step}");
            if step == 0 {
                let gs = &g.iter().find(|(n, _)| n == name).unwrap().1;
                for (m, g) in zip_eq(m, gs) {
                    assert!(
                        (m - (1.0 - 0.965) * g).abs() <= 1e-15,
                        "{name}: m {m}, g {g}"
                    );
                }
            }
        }
    }
}

/// Softmax regression z = W x + b on one example (batch size 1).
struct OneExample<'a> {
    vs: &'a VarStore,
    x: Tensor,
    y: Tensor,
}

impl Objective for OneExample<'_> {
    fn forward(&mut self, _capture: bool) -> anyhow::Result<(Tensor, Vec<Captured>)> {
        let v = self.vs.variables();
        Ok((self.x.matmul(&v["w"].tr()) + &v["b"], Vec::new()))
    }

    fn targets(&self) -> &Tensor {
        &self.y
    }
}

#[test]
fn the_gnb_estimate_averages_to_the_gauss_newton_diagonal() {
    let mut vs = VarStore::new(Device::Cpu);
    vs.set_kind(Kind::Double);
    let w = Tensor::from_slice(&[
        0.3, -0.2, 0.5, 0.1, -0.4, 0.2, 0.0, 0.3, 0.1, 0.4, -0.3, -0.1,
    ]);
    let _ = vs.root().var_copy("w", &w.view([3, 4]));
    let _ = vs
        .root()
        .var_copy("b", &Tensor::from_slice(&[-1.2, 0.2, 0.5]));
    let x = Tensor::from_slice(&[1.0, -0.5, 2.0, 0.7]).view([1, 4]);
    // lr 0: the weights stay put; β2 = 0 and k = 1: h is ĝ⊙ĝ of one fresh draw every step.
    let c = SophiaConfig {
        betas: [0.965, 0.0],
        ..cfg(0.0, 0.04, 1.0, 1, 0.0)
    };
    let mut opt = Sophia::new(&vs, &c).unwrap();
    let mut obj = OneExample {
        vs: &vs,
        x: x.shallow_clone(),
        y: Tensor::from_slice(&[0i64]),
    };
    let draws = 10_000;
    let (mut hw, mut hb) = (vec![0.0; 12], vec![0.0; 3]);
    for _ in 0..draws {
        opt.step(&mut obj).unwrap();
        let s = state(&opt);
        zip_eq(&mut hw, &s["hessian/w"]).for_each(|(a, h)| *a += h / draws as f64);
        zip_eq(&mut hb, &s["hessian/b"]).for_each(|(a, h)| *a += h / draws as f64);
    }
    // Dense reference: J = ∂z/∂(vec W, b) is (3, 15); G = Jᵀ(diag p − ppᵀ)J.
    let p = obj
        .forward(false)
        .unwrap()
        .0
        .softmax(-1, Kind::Double)
        .view([3]);
    let eye = Tensor::eye(3, (Kind::Double, Device::Cpu));
    let jw = eye.unsqueeze(-1) * x.view([1, 1, 4]); // (3, 3, 4): ∂z_c/∂W_{c'd}
    let j = Tensor::cat(&[jw.view([3, 12]), eye.shallow_clone()], 1); // (3, 15)
    let m = p.diag(0) - p.unsqueeze(1).matmul(&p.unsqueeze(0));
    let g = j.tr().matmul(&m).matmul(&j).diagonal(0, 0, 1);
    let want = Vec::<f64>::try_from(g).unwrap();
    let got: Vec<f64> = hw.iter().chain(&hb).copied().collect();
    for (i, (g, w)) in zip_eq(&got, &want).enumerate() {
        assert!(
            (g - w).abs() <= 0.05 * w,
            "coordinate {i}: average {g}, Gauss–Newton {w}"
        );
    }
}

/// `total` Sophia steps, saving and reloading weights and state after `split` of them.
fn sophia_run(total: usize, split: usize, restore: bool) -> (Params, BTreeMap<String, Vec<f64>>) {
    let c = cfg(0.01, 0.5, 16.0, 3, 0.1);
    let (x, y) = batch();
    let vs = mlp(0);
    let mut opt = Sophia::new(&vs, &c).unwrap();
    let mut obj = Batch {
        vs: &vs,
        x: x.shallow_clone(),
        y: y.shallow_clone(),
    };
    for _ in 0..split {
        opt.step(&mut obj).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    vs.save(dir.path().join("w.safetensors")).unwrap();
    opt.state_dict().unwrap().save(dir.path(), "opt").unwrap();
    let mut vs2 = mlp(0);
    vs2.load(dir.path().join("w.safetensors")).unwrap();
    let mut c2 = c.clone();
    c2.seed = 99; // the restored RNG must win over the config's seed
    let mut opt2 = Sophia::new(&vs2, &c2).unwrap();
    if restore {
        opt2.load_state_dict(&StateDict::load(dir.path(), "opt").unwrap())
            .unwrap();
    }
    let mut obj2 = Batch { vs: &vs2, x, y };
    for _ in split..total {
        opt2.step(&mut obj2).unwrap();
    }
    (params(&vs2), state(&opt2))
}

#[test]
fn save_load_continue_is_bitwise_equal_to_an_uninterrupted_run() {
    let straight = sophia_run(20, 20, true);
    // 10 is not a refresh step (k = 3): the next refresh at 12 draws from the restored RNG.
    assert_eq!(sophia_run(20, 10, true), straight);
    assert_eq!(sophia_run(20, 0, true), straight);
    assert_ne!(
        sophia_run(20, 10, false).0,
        straight.0,
        "control: a fresh state differs"
    );
}

/// `bs: null` scales by the rows of each step's logits: the same run as `bs` set to them, and
/// not the same as another `bs`.
#[test]
fn bs_null_is_the_steps_rows() {
    let run = |bs: Option<f64>| {
        let (x, y) = batch();
        let rows = y.size()[0] as f64;
        let vs = mlp(0);
        let c = SophiaConfig {
            bs: bs.map(|b| if b < 0.0 { rows } else { b }),
            ..cfg(0.01, 0.5, 1.0, 3, 0.1)
        };
        let mut opt = Sophia::new(&vs, &c).unwrap();
        let mut obj = Batch { vs: &vs, x, y };
        for _ in 0..12 {
            opt.step(&mut obj).unwrap();
        }
        params(&vs)
    };
    let rows = run(Some(-1.0)); // -1: the batch's rows
    assert_eq!(run(None), rows);
    assert_ne!(run(Some(1000.0)), rows, "control: another bs differs");
}

#[test]
fn config_keys_and_values_are_checked_by_name() {
    let e = serde_yaml_ng::from_str::<SophiaConfig>("lr: 0.1\nrho_s: 0.04\n").unwrap_err();
    assert!(e.to_string().contains("rho_s"), "{e}");
    let bad = |yaml: &str| {
        let c: SophiaConfig = serde_yaml_ng::from_str(yaml).unwrap();
        format!("{:#}", c.validate().unwrap_err())
    };
    assert!(bad("k: 0").contains("`k`"));
    assert!(bad("bs: 0").contains("`bs`"));
    assert!(bad("rho: -1").contains("`rho`"));
    assert!(bad("betas: [0.9, 1.0]").contains("`betas`"));
    let d = SophiaConfig::default();
    assert_eq!(
        (d.betas, d.rho, d.weight_decay, d.k),
        ([0.965, 0.99], 0.04, 0.1, 10)
    );
}
