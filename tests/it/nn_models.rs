//! Language models (issue 10): causality, the two attention paths, padding, parameter counts,
//! captured layers.
use crate::nn_common::*;
use lab::nn::{self, Attention, Dtype, Input, LanguageModel, ModelConfig, Variant};
use tch::{Kind, Tensor};

#[test]
fn changing_a_later_token_leaves_earlier_logits_unchanged() {
    for (name, cfg) in all_small() {
        let m = model(&cfg, 1);
        let mut r = rng(2);
        let a = random_ids(&mut r, 2, 12);
        let b = a.copy();
        let t = 7;
        let _ = b
            .narrow(1, t + 1, 1)
            .fill_((a.int64_value(&[0, t + 1]) + 1) % V);
        let (la, lb) = (
            logits(m.as_ref(), &Input::new(&a)),
            logits(m.as_ref(), &Input::new(&b)),
        );
        let before = max_abs(&la.narrow(1, 0, t + 1), &lb.narrow(1, 0, t + 1));
        let after = max_abs(&la.narrow(1, t + 1, 1), &lb.narrow(1, t + 1, 1));
        assert!(before <= 1e-6, "{name}: logits <= t moved by {before}");
        assert!(
            after > 1e-4,
            "{name}: logits at t+1 did not react ({after})"
        );
    }
}

/// The same weights in a fused and an explicit model.
fn pair(variant: Variant, dtype: Dtype) -> (Box<dyn LanguageModel>, Box<dyn LanguageModel>) {
    let fused = model(&nano_variant(variant, Attention::Fused, dtype), 3);
    let mut explicit = model(&nano_variant(variant, Attention::Explicit, dtype), 4);
    explicit
        .var_store_mut()
        .copy(fused.var_store())
        .expect("same names");
    (fused, explicit)
}

#[test]
fn fused_and_explicit_attention_agree() {
    let cases = [(Dtype::F32, 1e-5), (Dtype::F64, 1e-10)];
    for ((dtype, tol), variant) in cases
        .iter()
        .flat_map(|c| [(*c, Variant::Gpt), (*c, Variant::Llama)])
    {
        let (f, e) = pair(variant, dtype);
        let ids = random_ids(&mut rng(5), 3, 20);
        let mut m = vec![true; 60];
        m[20..23].fill(false); // row 1: 3 pads on the left
        let mask = Tensor::from_slice(&m).view([3, 20]);
        assert_eq!(mask.sum(Kind::Int64).int64_value(&[]), 57);
        let plain = Input::new(&ids);
        let padded = Input::new(&ids).with_pad_mask(&mask);
        for input in [plain, padded] {
            let d = max_abs(&logits(f.as_ref(), &input), &logits(e.as_ref(), &input));
            assert!(
                d <= tol,
                "{variant:?} {dtype:?}: fused vs explicit differ by {d}"
            );
        }
        let diff = max_abs(&logits(f.as_ref(), &plain), &logits(f.as_ref(), &padded));
        assert!(diff > 1e-3, "the pad mask changed nothing ({diff})");
    }
}

/// Real-token logits of a left-padded row equal the unpadded row's, and pad ids do not matter.
#[test]
fn left_padding_and_pad_contents_do_not_change_real_logits() {
    for (name, cfg) in all_small() {
        let m = model(&cfg, 6);
        let mut r = rng(7);
        let prompt = random_ids(&mut r, 1, 9);
        let pads = 5;
        for fill in 0..3 {
            let junk = random_ids(&mut r, 1, pads) * (fill > 0) as i64;
            let ids = Tensor::cat(&[junk, prompt.shallow_clone()], 1);
            let mask = Tensor::cat(
                &[
                    Tensor::zeros([1, pads], (Kind::Bool, tch::Device::Cpu)),
                    Tensor::ones([1, 9], (Kind::Bool, tch::Device::Cpu)),
                ],
                1,
            );
            let padded = logits(m.as_ref(), &Input::new(&ids).with_pad_mask(&mask));
            let plain = logits(m.as_ref(), &Input::new(&prompt));
            let d = max_abs(&padded.narrow(1, pads, 9), &plain);
            assert!(
                d <= 1e-5,
                "{name}: padded vs unpadded differ by {d} (fill {fill})"
            );
        }
    }
}

fn gpt_count(c: &ModelConfig, v: i64) -> i64 {
    let (d, l) = (c.d_model, c.n_layer);
    let llama = c.variant == Variant::Llama;
    let ln = if c.ln_bias && !llama { 2 * d } else { d };
    let b = c.linear_bias as i64;
    let (f_in, f) = if llama {
        (2 * c.d_ff, c.d_ff)
    } else {
        (c.d_ff, c.d_ff)
    };
    let attn = (3 * d * d + 3 * d * b) + (d * d + d * b);
    let block = 2 * ln + attn + (d * f_in + f_in * b) + (f * d + d * b);
    let head = if c.tied_head { 0 } else { d * v };
    let wpe = if llama { 0 } else { c.block_size * d };
    v * d + wpe + l * block + ln + head
}

#[test]
fn preset_parameter_counts_match_the_formulas() {
    let v = 65;
    let count =
        |c: &ModelConfig| nn::num_parameters(nn::build(c, v, tch::Device::Cpu).unwrap().as_ref());
    for c in [
        ModelConfig::gpt_nano(),
        ModelConfig::gpt_tiny(),
        ModelConfig::gpt_small(),
    ] {
        assert_eq!(count(&c), gpt_count(&c, v), "{c:?}");
    }
    let mut untied = ModelConfig::gpt_tiny();
    (untied.tied_head, untied.ln_bias, untied.linear_bias) = (false, false, false);
    assert_eq!(count(&untied), gpt_count(&untied, v));
    let mut llama = ModelConfig::gpt_small();
    llama.variant = Variant::Llama;
    assert_eq!(count(&llama), gpt_count(&llama, v));
    let names: Vec<String> =
        nn::named_parameters(nn::build(&llama, v, tch::Device::Cpu).unwrap().as_ref())
            .into_iter()
            .map(|(n, _)| n)
            .collect();
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("wpe") || n.contains("ln_1.bias")),
        "{names:?}"
    );
    // Hand numbers: the table's ~16k / ~110k / ~0.8M for a 65-symbol vocabulary.
    assert_eq!(gpt_count(&ModelConfig::gpt_nano(), v), 15_872);
    assert_eq!(gpt_count(&ModelConfig::gpt_tiny(), v), 108_352);
    assert_eq!(gpt_count(&ModelConfig::gpt_small(), v), 809_856);
    let (e, h) = (64, 128);
    assert_eq!(
        count(&ModelConfig::gru()),
        v * e + 3 * h * (e + h + 2) + h * v + v
    );
    assert_eq!(
        count(&ModelConfig::lstm()),
        v * e + 4 * h * (e + h + 2) + h * v + v
    );
    assert_eq!(count(&ModelConfig::bigram()), v * v);
}

#[test]
fn parameter_names_are_readable() {
    let m = nn::build(&ModelConfig::gpt_nano(), V, tch::Device::Cpu).unwrap();
    let names: Vec<String> = nn::named_parameters(m.as_ref())
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    for want in [
        "wte.weight",
        "wpe.weight",
        "h.0.attn.qkv.weight",
        "h.0.mlp.fc.bias",
        "ln_f.weight",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing from {names:?}"
        );
    }
    assert!(
        !names.iter().any(|n| n.starts_with("head")),
        "a tied head has no own matrix"
    );
}

/// Captured pre-activations give the weight gradient as Σ e aᵀ (what K-FAC relies on).
#[test]
fn captured_layers_reproduce_weight_gradients() {
    let mut cfg = nano(Attention::Explicit, Dtype::F64);
    cfg.tied_head = false;
    let m = model(&cfg, 8);
    let ids = random_ids(&mut rng(9), 2, 10);
    let (logits, caps) = m.forward_captured(&Input::new(&ids), false).unwrap();
    let layers: Vec<&str> = caps.iter().map(|c| c.layer.as_str()).collect();
    assert_eq!(
        layers,
        [
            "h.0.attn.qkv",
            "h.0.attn.proj",
            "h.0.mlp.fc",
            "h.0.mlp.proj",
            "head"
        ]
    );
    let lp = logits.log_softmax(-1, Kind::Double);
    let loss = -lp
        .narrow(1, 0, 9)
        .gather(-1, &ids.narrow(1, 1, 9).unsqueeze(-1), false)
        .sum(Kind::Double);
    let outputs: Vec<&Tensor> = caps.iter().map(|c| &c.output).collect();
    let errors = Tensor::run_backward(&[&loss], &outputs, true, false);
    let params = nn::named_parameters(m.as_ref());
    let weights: Vec<Tensor> = caps
        .iter()
        .map(|c| {
            params
                .iter()
                .find(|(n, _)| *n == c.weight)
                .expect("weight name")
                .1
                .shallow_clone()
        })
        .collect();
    let grads = Tensor::run_backward(&[&loss], &weights, false, false);
    assert_eq!(errors.len(), caps.len());
    assert_eq!(grads.len(), caps.len());
    for ((c, e), g) in caps.iter().zip(&errors).zip(&grads) {
        let d_out = *c.output.size().last().unwrap();
        let d_in = *c.input.size().last().unwrap();
        let kfac = e
            .reshape([-1, d_out])
            .tr()
            .matmul(&c.input.reshape([-1, d_in]));
        let d = max_abs(&kfac, g);
        assert!(
            d <= 1e-10 * (1.0 + g.abs().max().double_value(&[])),
            "{}: {d}",
            c.layer
        );
        assert_eq!(c.bias.is_some(), c.layer != "head");
    }
}

#[test]
fn dropout_acts_only_in_training() {
    for attention in [Attention::Fused, Attention::Explicit] {
        let mut cfg = nano(attention, Dtype::F32);
        cfg.dropout = 0.2;
        let m = model(&cfg, 40);
        let ids = random_ids(&mut rng(41), 2, 16);
        let input = Input::new(&ids);
        let run = |train| tch::no_grad(|| m.forward(&input, train)).unwrap();
        assert!(
            run(false).equal(&run(false)),
            "{attention:?}: eval is not deterministic"
        );
        let d = max_abs(&run(true), &run(false));
        assert!(
            d > 1e-3,
            "{attention:?}: dropout 0.2 changed nothing in training ({d})"
        );
    }
}
