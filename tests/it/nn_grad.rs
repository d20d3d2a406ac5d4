//! Gradients of the GPT in f64 with explicit attention: autograd against central finite
//! differences, and double backward (the gradient of ‖∇loss‖², which gradient-norm penalties
//! need) against finite differences of ‖∇loss‖² along a direction.
use crate::common::zip_eq;
use crate::nn_common::*;
use lab::nn::{self, Attention, Dtype, LanguageModel, Variant};
use tch::{Kind, Tensor};

fn params(m: &dyn LanguageModel) -> Vec<(String, Tensor)> {
    nn::named_parameters(m)
}

fn set(p: &Tensor, i: i64, value: f64) {
    tch::no_grad(|| {
        let _ = p.view([-1]).get(i).fill_(value);
    });
}

#[test]
fn gradients_match_central_differences() {
    for variant in [Variant::Gpt, Variant::Llama] {
        check_gradients(&nano_variant(variant, Attention::Explicit, Dtype::F64));
    }
    for name in ["gru", "lstm", "bigram"] {
        let mut cfg = small(name);
        cfg.dtype = Dtype::F64;
        check_gradients(&cfg);
    }
}

fn check_gradients(cfg: &lab::nn::ModelConfig) {
    let m = model(cfg, 31);
    let ids = random_ids(&mut rng(32), 2, 12);
    let ps = params(m.as_ref());
    let tensors: Vec<&Tensor> = ps.iter().map(|(_, t)| t).collect();
    let grads = Tensor::run_backward(&[loss(m.as_ref(), &ids)], &tensors, false, false);
    assert_eq!(grads.len(), ps.len());
    let mut checked = 0;
    for ((name, p), g) in ps.iter().zip(&grads) {
        let n = p.numel() as i64;
        for i in [0, n / 3, n - 1] {
            let x = p.view([-1]).double_value(&[i]);
            let h = 1e-5;
            set(p, i, x + h);
            let up = tch::no_grad(|| loss(m.as_ref(), &ids)).double_value(&[]);
            set(p, i, x - h);
            let down = tch::no_grad(|| loss(m.as_ref(), &ids)).double_value(&[]);
            set(p, i, x);
            let fd = (up - down) / (2.0 * h);
            let ad = g.view([-1]).double_value(&[i]);
            assert!(
                (fd - ad).abs() <= 1e-7 + 1e-5 * ad.abs(),
                "{:?} {:?} {name}[{i}]: autograd {ad} vs fd {fd}",
                cfg.kind,
                cfg.variant
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 3 * ps.len(), "every parameter tensor is checked");
}

/// ‖∇θ loss‖² with the graph of the gradient kept.
fn grad_norm_sq(m: &dyn LanguageModel, ids: &Tensor, tensors: &[&Tensor]) -> Tensor {
    let g = Tensor::run_backward(&[loss(m, ids)], tensors, true, true);
    g.iter()
        .map(|x| x.square().sum(Kind::Double))
        .fold(Tensor::from(0.0f64), |a, b| a + b)
}

#[test]
fn double_backward_through_explicit_attention_matches_differences() {
    for variant in [Variant::Gpt, Variant::Llama] {
        check_double_backward(&nano_variant(variant, Attention::Explicit, Dtype::F64));
    }
}

fn check_double_backward(cfg: &lab::nn::ModelConfig) {
    let m = model(cfg, 33);
    let ids = random_ids(&mut rng(34), 2, 10);
    let ps = params(m.as_ref());
    let tensors: Vec<&Tensor> = ps.iter().map(|(_, t)| t).collect();
    let penalty = grad_norm_sq(m.as_ref(), &ids, &tensors);
    let hvp = Tensor::run_backward(&[&penalty], &tensors, false, false);
    let dirs: Vec<Tensor> = tensors.iter().map(|t| t.randn_like()).collect();
    let analytic: f64 = zip_eq(&hvp, &dirs)
        .map(|(g, d)| (g * d).sum(Kind::Double).double_value(&[]))
        .sum();
    let originals: Vec<Tensor> = tensors.iter().map(|t| t.detach().copy()).collect();
    let shift = |eps: f64| {
        tch::no_grad(|| {
            for ((t, o), d) in zip_eq(zip_eq(&tensors, &originals), &dirs) {
                t.shallow_clone().copy_(&(o + d * eps));
            }
        })
    };
    let h = 1e-5;
    shift(h);
    let up = grad_norm_sq(m.as_ref(), &ids, &tensors).double_value(&[]);
    shift(-h);
    let down = grad_norm_sq(m.as_ref(), &ids, &tensors).double_value(&[]);
    shift(0.0);
    let fd = (up - down) / (2.0 * h);
    assert!(
        analytic.abs() > 1e-6,
        "a zero directional derivative tests nothing"
    );
    assert!(
        (fd - analytic).abs() <= 1e-6 * (1.0 + analytic.abs()),
        "{:?}: double backward {analytic} vs fd {fd}",
        cfg.variant
    );
}
