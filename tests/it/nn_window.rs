//! Generation past a GPT's block size (`nn::generate_long`) and Polyak weight averaging
//! (`optim::ema`): the cached part equals `generate`, the windowed part equals a naive loop that
//! re-runs the model on the last `block_size` tokens, and the model's per-step entropy and top-1
//! mass are those of its own logits.
use crate::nn_common::*;
use lab::nn::{self, loss::entropy_of_logits, Attention, Decoding, Dtype, GenerateOptions, Input};
use lab::optim::ema::Ema;
use tch::{Device, IndexOp, Kind, Tensor};

fn prompts() -> Vec<Vec<i64>> {
    vec![vec![3, 1, 4, 1], vec![5, 9, 2, 6], vec![7, 7, 0, 10]]
}

#[test]
fn within_the_block_it_is_generate() {
    for (name, cfg) in all_small() {
        let m = model(&cfg, 21);
        let long = nn::generate_long(
            m.as_ref(),
            &prompts(),
            12,
            &Decoding::default(),
            &mut rng(3),
        )
        .unwrap();
        let o = GenerateOptions::new(12, Decoding::default());
        let short = nn::generate(m.as_ref(), &prompts(), &o, &mut rng(3)).unwrap();
        assert_eq!(long.rows().unwrap(), short.generated().unwrap(), "{name}");
        let d = (&long.model_logprobs - &short.model_logprobs)
            .abs()
            .max()
            .double_value(&[]);
        assert!(d < 1e-12, "{name}: log-probs differ by {d}");
    }
}

/// Greedy decoding past the block: each token is the argmax of a forward pass over the last
/// `block_size` tokens, and the recorded entropy/top-1 are those of that pass's logits.
#[test]
fn past_the_block_it_slides_a_window() {
    let cfg = nano(Attention::Explicit, Dtype::F64); // block 32
    let m = model(&cfg, 22);
    let block = 32usize;
    let n = 50i64; // 4 + 50 - 1 > 32
    let out =
        nn::generate_long(m.as_ref(), &prompts(), n, &Decoding::greedy(), &mut rng(4)).unwrap();
    let rows = out.rows().unwrap();
    assert_eq!(out.tokens.size(), vec![3, n]);
    assert!(rows.iter().all(|r| r.len() == n as usize));
    for (r, p) in prompts().iter().enumerate() {
        let mut seq = p.clone();
        for (j, &got_token) in rows[r].iter().enumerate() {
            let start = seq.len().saturating_sub(block);
            let ctx = Tensor::from_slice(&seq[start..]).view([1, -1]);
            let logits = m.forward(&Input::new(&ctx), false).unwrap().i((0, -1)); // (V)
            let next = logits.argmax(0, false).int64_value(&[]);
            assert_eq!(got_token, next, "row {r} step {j}");
            let h = entropy_of_logits(&logits.to_kind(Kind::Double)).double_value(&[]);
            let got = out.model_entropies.double_value(&[r as i64, j as i64]);
            assert!(
                (h - got).abs() < 1e-9,
                "row {r} step {j}: entropy {got} vs {h}"
            );
            let top = logits.softmax(0, Kind::Double).max().double_value(&[]);
            let got = out.model_top1.double_value(&[r as i64, j as i64]);
            assert!(
                (top - got).abs() < 1e-9,
                "row {r} step {j}: top-1 {got} vs {top}"
            );
            seq.push(next);
        }
    }
}

#[test]
fn unequal_prompts_are_refused() {
    let m = model(&nano(Attention::Fused, Dtype::F32), 23);
    let bad = vec![vec![1, 2], vec![3]];
    assert!(nn::generate_long(m.as_ref(), &bad, 5, &Decoding::default(), &mut rng(1)).is_err());
}

/// The bias-corrected average of weights w_1..w_t with decay d is
/// Σ d^{t−i} (1−d) w_i / (1 − d^t); swapping twice restores the live weights.
#[test]
fn ema_is_the_bias_corrected_average_and_swaps_back() {
    let vs = tch::nn::VarStore::new(Device::Cpu);
    let mut w = vs.root().zeros("w", &[2]);
    let d = 0.9;
    let mut ema = Ema::new(&vs, d);
    let values = [1.0, 2.0, 4.0];
    for v in values {
        tch::no_grad(|| w.copy_(&Tensor::from_slice(&[v, -v]).to_kind(Kind::Float)));
        ema.update(&vs);
    }
    let t = values.len() as i32;
    let expect: f64 = values
        .iter()
        .enumerate()
        .map(|(i, v)| d.powi(t - 1 - i as i32) * (1.0 - d) * v)
        .sum::<f64>()
        / (1.0 - d.powi(t));
    ema.swap(&vs).unwrap();
    let got = w.double_value(&[0]);
    assert!((got - expect).abs() < 1e-5, "ema {got} vs {expect}");
    ema.swap(&vs).unwrap();
    assert_eq!(w.double_value(&[0]), 4.0);
    assert_eq!(w.double_value(&[1]), -4.0);
}
