//! `cov: kron` on the char GPT (grng spec §2.6): the captured linear layers that own their
//! weight are preconditioned, everything else (LayerNorms, embeddings, the tied head's
//! weight) takes the fallback AdamW / SGD; a resumed run continues bit for bit.
use super::copy_weights;
use crate::common::zip_eq;
use lab::grng::models::{CharLm, Classifier};
use lab::grng::rkalman::{CovForm, Fallback, RKalmanConfig, RKalmanKron};
use lab::grng::train::Batch;
use lab::optim::stepper::Stepper;
use tch::{Device, Kind, Tensor};

const VOCAB: i64 = 20;
const BLOCK: i64 = 8;

fn config(fallback: Fallback) -> RKalmanConfig {
    RKalmanConfig {
        cov: CovForm::Kron,
        fallback,
        seed: 5,
        ..Default::default()
    }
}

/// A fixed batch of 4 sequences: inputs `(4, 8)`, next-character targets `(32,)`.
fn batch() -> (Tensor, Tensor) {
    let ids = (Tensor::arange(4 * (BLOCK + 1), (Kind::Int64, Device::Cpu)) * 7).remainder(VOCAB);
    let ids = ids.view([4, BLOCK + 1]);
    let x = ids.narrow(1, 0, BLOCK).contiguous();
    let y = ids.narrow(1, 1, BLOCK).contiguous().view([-1]);
    (x, y)
}

fn snapshot(model: &dyn Classifier) -> Vec<(String, Tensor)> {
    let mut v: Vec<_> = model
        .var_store()
        .variables()
        .into_iter()
        .map(|(n, t)| (n, t.detach().copy()))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn run(model: &CharLm, opt: &mut dyn Stepper, steps: usize) -> Vec<f64> {
    let (x, y) = batch();
    (0..steps)
        .map(|_| {
            let r = opt.step(&mut Batch {
                model,
                x: x.shallow_clone(),
                y: y.shallow_clone(),
            });
            let r = r.unwrap();
            assert!(!r.nonfinite_skipped && r.loss.is_finite(), "{r:?}");
            r.loss
        })
        .collect()
}

/// Both fallbacks: the step runs on a model with LayerNorms, embeddings and a tied head, the
/// loss stays finite, every fallback parameter moves, and the layers are exactly the
/// captured ones that own their weight.
#[test]
fn char_gpt_norms_and_embeddings_move_by_the_fallback() {
    for fallback in [Fallback::Adamw, Fallback::SgdMomentum] {
        tch::manual_seed(0);
        let lm = CharLm::new(VOCAB, BLOCK, Device::Cpu).unwrap();
        let before = snapshot(&lm);
        let mut opt = RKalmanKron::new(lm.var_store(), &config(fallback)).unwrap();
        assert!(
            opt.layers().is_empty(),
            "layers come from the first forward"
        );
        let losses = run(&lm, &mut opt, 3);
        assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
        let fb = opt.fallback_params();
        let layers: Vec<&str> = opt.layers().iter().map(|l| l.weight.as_str()).collect();
        assert!(fb.iter().any(|n| n.contains("ln_1.bias")), "{fb:?}");
        assert!(fb.iter().any(|n| n.contains("wte")), "{fb:?}");
        assert!(
            !layers
                .iter()
                .any(|n| n.contains("wte") || n.contains("head")),
            "{layers:?}"
        );
        assert!(layers.len() >= 4, "attention and MLP linears: {layers:?}");
        assert_eq!(
            fb.len() + layers.len() + opt.layers().iter().filter(|l| l.bias.is_some()).count(),
            before.len(),
            "every parameter is a layer's or the fallback's"
        );
        let after = snapshot(&lm);
        for ((name, a), (_, b)) in zip_eq(&before, &after) {
            let moved = (a - b).abs().max().double_value(&[]) > 0.0;
            assert!(moved, "{fallback:?}: `{name}` did not move");
        }
    }
}

/// Save after 2 steps, resume into a fresh model: 2 more steps equal the uninterrupted run
/// bit for bit (covariances, RNG and the AdamW fallback's moments restored); a state with the
/// other fallback is refused by name.
#[test]
fn char_gpt_resume_with_fallback_is_bitwise_equal() {
    tch::manual_seed(1);
    let a = CharLm::new(VOCAB, BLOCK, Device::Cpu).unwrap();
    let mut opt_a = RKalmanKron::new(a.var_store(), &config(Fallback::Adamw)).unwrap();
    run(&a, &mut opt_a, 2);
    let state = opt_a.state_dict().unwrap();
    assert!(state
        .tensors
        .iter()
        .any(|(k, _)| k.starts_with("fallback.")));
    let weights = snapshot(&a);
    run(&a, &mut opt_a, 2);
    tch::manual_seed(2);
    let b = CharLm::new(VOCAB, BLOCK, Device::Cpu).unwrap();
    copy_weights(b.var_store(), &weights);
    let mut opt_b = RKalmanKron::new(b.var_store(), &config(Fallback::Adamw)).unwrap();
    opt_b.load_state_dict(&state).unwrap();
    assert_eq!(opt_b.steps_done(), 2);
    run(&b, &mut opt_b, 2);
    for ((n, wa), (_, wb)) in zip_eq(&snapshot(&a), &snapshot(&b)) {
        assert!(wa.equal(wb), "`{n}` differs after resume");
    }
    let mut opt_sgd = RKalmanKron::new(b.var_store(), &config(Fallback::SgdMomentum)).unwrap();
    let err = format!("{:#}", opt_sgd.load_state_dict(&state).unwrap_err());
    assert!(err.contains("fallback"), "{err}");
}
