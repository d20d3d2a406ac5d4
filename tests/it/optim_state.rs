//! Optimizer state: save → load → continue is bit-identical; mismatches are named.
use super::optim_adamw::{store, values};
use lab::optim::{AdamW, AdamWConfig, Optimizer, StateDict};
use tch::nn::VarStore;

fn model() -> VarStore {
    store(&[
        ("h.w", &[3, 2], vec![0.5, -1.0, 2.0, 0.25, -0.75, 1.5]),
        ("h.b", &[2], vec![0.1, -0.2]),
        ("wte.weight", &[2, 2], vec![1.0, 2.0, 3.0, 4.0]),
    ])
}

fn config() -> AdamWConfig {
    AdamWConfig {
        lr: 0.05,
        betas: [0.9, 0.95],
        weight_decay: 0.1,
        grad_clip: Some(0.5),
        ..AdamWConfig::default()
    }
}

/// One step whose gradient depends on the parameters: g = p + c(step).
fn train_step(vs: &VarStore, opt: &mut AdamW, step: usize) {
    let vars = vs.variables();
    let mut loss = tch::Tensor::zeros([], (tch::Kind::Double, tch::Device::Cpu));
    for (i, name) in ["h.w", "h.b", "wte.weight"].iter().enumerate() {
        let p = &vars[*name];
        let c = ((step * 3 + i) as f64).sin();
        loss = loss + (p * p).sum(tch::Kind::Double) * 0.5 + p.sum(tch::Kind::Double) * c;
    }
    loss.backward();
    opt.set_lr(0.05 * (1.0 + step as f64).recip());
    opt.step().unwrap();
    opt.zero_grad();
}

fn snapshot(vs: &VarStore) -> Vec<Vec<f64>> {
    ["h.w", "h.b", "wte.weight"]
        .iter()
        .map(|n| values(vs, n))
        .collect()
}

#[test]
fn save_load_continue_is_bit_identical_to_an_uninterrupted_run() {
    let vs = model();
    let mut opt = AdamW::new(&vs, &config()).unwrap();
    for s in 0..6 {
        train_step(&vs, &mut opt, s);
    }
    let straight = snapshot(&vs);

    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("w.safetensors");
    let vs1 = model();
    let mut opt1 = AdamW::new(&vs1, &config()).unwrap();
    for s in 0..3 {
        train_step(&vs1, &mut opt1, s);
    }
    opt1.state_dict().unwrap().save(dir.path(), "opt").unwrap();
    vs1.save(&weights).unwrap();
    drop((opt1, vs1));

    let vs2 = model();
    let mut opt2 = AdamW::new(&vs2, &config()).unwrap();
    lab::nn::checkpoint::load_weights(&weights, &vs2).unwrap();
    opt2.load_state_dict(&StateDict::load(dir.path(), "opt").unwrap())
        .unwrap();
    assert_eq!(opt2.steps_done(), 3);
    for s in 3..6 {
        train_step(&vs2, &mut opt2, s);
    }
    assert_eq!(snapshot(&vs2), straight, "bit-identical after resume");
    // A run without the optimizer state diverges: the test can fail.
    let vs3 = model();
    let mut opt3 = AdamW::new(&vs3, &config()).unwrap();
    lab::nn::checkpoint::load_weights(&weights, &vs3).unwrap();
    for s in 3..6 {
        train_step(&vs3, &mut opt3, s);
    }
    assert_ne!(snapshot(&vs3), straight);
}

#[test]
fn header_records_version_step_and_groups() {
    let vs = model();
    let mut opt = AdamW::new(&vs, &config()).unwrap();
    train_step(&vs, &mut opt, 0);
    let s = opt.state_dict().unwrap();
    assert_eq!(s.header.format, lab::optim::FORMAT_VERSION);
    assert_eq!(s.header.optimizer, "adamw");
    assert_eq!(s.header.step, 1);
    let g: Vec<(&str, f64)> = s
        .header
        .groups
        .iter()
        .map(|g| (g.name.as_str(), g.weight_decay))
        .collect();
    assert_eq!(g, [("decay", 0.1), ("no_decay", 0.0)]);
    assert_eq!(s.header.groups[1].params, ["h.b", "wte.weight"]);
    assert_eq!(s.header.hyper["betas"][1], 0.95);
    assert_eq!(s.tensors.len(), 6);
    assert!(s.tensor("exp_avg_sq/wte.weight").is_some());
}

/// The error of loading `state` into a fresh optimizer, which must stay untouched.
fn error_of(state: &StateDict) -> String {
    let vs = model();
    let mut opt = AdamW::new(&vs, &config()).unwrap();
    let e = format!("{:#}", opt.load_state_dict(state).unwrap_err());
    let after = opt.state_dict().unwrap();
    assert_eq!(
        (after.header.step, after.header.hyper["betas"][1].as_f64()),
        (0, Some(0.95))
    );
    for (k, t) in &after.tensors {
        assert_eq!(
            t.abs().sum(tch::Kind::Double).double_value(&[]),
            0.0,
            "{k} was changed"
        );
    }
    e
}

#[test]
fn renamed_or_reshaped_parameters_and_foreign_headers_are_refused_by_name() {
    let vs = model();
    let mut opt = AdamW::new(&vs, &config()).unwrap();
    train_step(&vs, &mut opt, 0);
    let mut renamed = opt.state_dict().unwrap();
    for (k, _) in renamed.tensors.iter_mut() {
        if k == "exp_avg/h.b" {
            *k = "exp_avg/h.bias".into();
        }
    }
    let e = error_of(&renamed);
    assert!(
        e.contains("exp_avg/h.b\"") && e.contains("exp_avg/h.bias"),
        "{e}"
    );

    let mut reshaped = opt.state_dict().unwrap();
    for (k, t) in reshaped.tensors.iter_mut() {
        if k == "exp_avg_sq/h.w" {
            *t = t.view([2, 3]);
        }
    }
    let e = error_of(&reshaped);
    assert!(e.contains("exp_avg_sq/h.w") && e.contains("[2, 3]"), "{e}");

    let mut newer = opt.state_dict().unwrap();
    newer.header.format = lab::optim::FORMAT_VERSION + 1;
    assert!(error_of(&newer).contains("format"));
    // No build wrote format 0: it was read as the current format.
    let mut older = opt.state_dict().unwrap();
    older.header.format = 0;
    let e = error_of(&older);
    assert!(
        e.contains("optimizer state has format 0, this build reads format 1"),
        "{e}"
    );
    let mut other = opt.state_dict().unwrap();
    other.header.optimizer = "sgd".into();
    assert!(error_of(&other).contains("sgd"));
    let good = opt.state_dict().unwrap();
    let vs2 = model();
    let mut opt2 = AdamW::new(&vs2, &config()).unwrap();
    opt2.load_state_dict(&good).unwrap();
}
