//! prefixrl policy layer, training steps (spec §2.4): SFT learns a tiny set and ignores
//! context targets (micro-batches give the same step), a PG step moves toward a positive
//! advantage and the surrogate hooks give the REINFORCE loss. Model and rows: `prefixrl_policy`.
use super::prefixrl_policy::{as_rows, content, max_abs, phg_rows, rng, tiny, BOS, EOS, PAD, V};
use crate::common::zip_eq;
use lab::nn::{self, LanguageModel};
use lab::optim::Optimizer;
use lab::prefixrl::policy::*;
use tch::{Device, Tensor};

/// A fixed (context, completion) set: contexts of 4 tokens, completions of 4 + eos.
fn sft_rows() -> Vec<(Vec<i64>, Vec<i64>)> {
    let mut r = rng(19);
    (0..4)
        .map(|_| {
            let mut ctx = vec![BOS];
            ctx.extend(content(&mut r, 3));
            let mut g = content(&mut r, 4);
            g.push(EOS);
            (ctx, g)
        })
        .collect()
}

/// SFT on a repeated tiny set: the completion loss falls from ≈ ln V to well below it.
#[test]
fn sft_learns_a_tiny_set() {
    let m = tiny(0.02, true, 20);
    let rows = sft_rows();
    let mut cfg = SftConfig::pretrain(100, PAD, 21);
    cfg.adamw.lr = 1e-2;
    cfg.schedule = lab::optim::LrSchedule::WarmupCosine {
        warmup: 10,
        total: 100,
        lr_min: 1e-3,
    };
    let mut t = SftTrainer::new(m.as_ref(), cfg).unwrap();
    let first = t.step(m.as_ref(), &rows, 0).unwrap();
    assert!((first.loss - (V as f64).ln()).abs() < 0.2, "{}", first.loss);
    assert_eq!((first.tokens, first.positions), (20, 32));
    let mut last = first;
    for s in 1..100 {
        last = t.step(m.as_ref(), &rows, s).unwrap();
    }
    assert!(
        last.loss < 0.3 * (V as f64).ln(),
        "loss {} after 100 steps",
        last.loss
    );
    assert!(last.grad_norm.is_finite() && last.lr < 1.1e-3 && first.lr == 1e-3);
}

/// With `prompt_loss_weight` 0 a context target never enters the loss (with 0.5 it does),
/// the loss is the mean completion NLL, and micro-batches give the same step.
#[test]
fn sft_masks_the_context() {
    let m = tiny(0.3, true, 22);
    let rows = sft_rows();
    let b = train_batch(&rows, PAD, Device::Cpu).unwrap();
    let loss = |b: &TrainBatch, w: f64| {
        tch::no_grad(|| sft_loss(m.as_ref(), b, w, false))
            .unwrap()
            .double_value(&[])
    };
    let stats = tch::no_grad(|| token_logprobs(m.as_ref(), &b, false)).unwrap();
    let nll: f64 = b
        .completion_values(&stats.logp)
        .unwrap()
        .iter()
        .flatten()
        .map(|l| -l)
        .sum();
    assert!((loss(&b, 0.0) - nll / 20.0).abs() < 1e-5);
    let changed = train_batch(&rows, PAD, Device::Cpu).unwrap();
    let col = b.completion_start(1) - 1; // predicts the last context token of row 1
    let _ = changed.targets.get(1).get(col).fill_(EOS);
    assert_eq!(loss(&changed, 0.0).to_bits(), loss(&b, 0.0).to_bits());
    assert_ne!(loss(&changed, 0.5), loss(&b, 0.5));

    let params = |m: &dyn LanguageModel| -> Vec<Tensor> {
        nn::named_parameters(m)
            .into_iter()
            .map(|(_, p)| p.copy())
            .collect()
    };
    let other = tiny(0.3, true, 22);
    let mut cfg = SftConfig::pretrain(10, PAD, 23);
    cfg.prompt_loss_weight = 0.3;
    // With eps 1 and lr 1 Adam's first step is ≈ g/(|g| + 1), not lr·sign(g) (which would
    // amplify rounding differences of near-zero gradients): the parameters compare gradients.
    cfg.adamw.eps = 1.0;
    cfg.adamw.lr = 1.0;
    let mut whole = SftTrainer::new(m.as_ref(), cfg.clone()).unwrap();
    cfg.micro_rows = 3;
    let mut split = SftTrainer::new(other.as_ref(), cfg).unwrap();
    let a = whole.step(m.as_ref(), &rows, 0).unwrap();
    let c = split.step(other.as_ref(), &rows, 0).unwrap();
    assert!((a.loss - c.loss).abs() < 1e-6 && (a.grad_norm - c.grad_norm).abs() < 1e-5);
    for (x, y) in zip_eq(&params(m.as_ref()), params(other.as_ref())) {
        assert!(max_abs(x, &y) < 1e-5);
    }
}

/// One PG step with A > 0 on one row (0 elsewhere) raises that completion's log-prob; the `Scaled` hook with
/// c = 1 and an equivalent closure give the REINFORCE loss; bad normalisers are refused.
#[test]
fn pg_step_moves_toward_positive_advantage() {
    let m = tiny(0.3, true, 24);
    let rows = as_rows(&phg_rows(&mut rng(25)));
    let b = train_batch(&rows, PAD, Device::Cpu).unwrap();
    let adv = [1.0, 0.0, 0.0, 0.0];
    let lp = |m: &dyn LanguageModel| model_logprobs_of_completions(m, &rows, PAD, 8).unwrap();
    let before = lp(m.as_ref());
    let stats = token_logprobs(m.as_ref(), &b, false).unwrap();
    let reinforce = pg_loss(&stats, &b, &adv, Surrogate::Reinforce, Some(7.0)).unwrap();
    let ones = stats.logp.ones_like();
    let scaled = pg_loss(&stats, &b, &adv, Surrogate::Scaled(&ones), Some(7.0)).unwrap();
    let f = |s: &TokenStats, a: &Tensor| Ok(-(a * &s.logp));
    let custom = pg_loss(&stats, &b, &adv, Surrogate::Custom(&f), Some(7.0)).unwrap();
    let v = reinforce.double_value(&[]);
    assert_eq!(v.to_bits(), scaled.double_value(&[]).to_bits());
    assert_eq!(v.to_bits(), custom.double_value(&[]).to_bits());
    assert!(pg_loss(&stats, &b, &adv, Surrogate::Reinforce, Some(0.0)).is_err());
    drop(stats);

    let mut opt = policy_optimizer(m.as_ref(), 1e-3, Some(1.0)).unwrap();
    let rep = pg_step(
        m.as_ref(),
        &mut opt,
        &b,
        &adv,
        Surrogate::Reinforce,
        None,
        1e-3,
    )
    .unwrap();
    assert!(rep.grad_norm > 0.0 && rep.loss.is_finite());
    let after = lp(m.as_ref());
    let total = |v: &Vec<f64>| v.iter().sum::<f64>();
    assert!(
        total(&after[0]) > total(&before[0]),
        "A > 0: log-prob must rise"
    );
    assert_eq!(opt.steps_done(), 1);
}
