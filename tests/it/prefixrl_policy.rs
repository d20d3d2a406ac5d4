//! prefixrl policy layer (spec §2.4, §7.10 items 4, 5, 9, 10): contexts are never resampled
//! and padding is invisible, only completion tokens get gradient (closed form
//! `∂L/∂z = −A/Z (e_y − p)`), the KV-cache sampler's log-probs equal a full recompute,
//! sampling is deterministic for a seed. SFT and PG steps: `prefixrl_policy_train`.
use crate::common::{torch_lock, zip_eq};
use lab::nn::{self, LanguageModel, ModelConfig};
use lab::prefixrl::policy::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};

pub const V: i64 = 22;
pub const BOS: i64 = 0;
pub const EOS: i64 = 20;
pub const PAD: i64 = 21;

/// A nano GPT (block 64) over `V` ids; `init_std` 0.3 makes attention far from uniform.
pub fn tiny(init_std: f64, tied_head: bool, seed: i64) -> Box<dyn LanguageModel> {
    let mut c = ModelConfig::gpt_nano();
    c.block_size = 64;
    c.init_std = init_std;
    c.tied_head = tied_head;
    let _g = torch_lock();
    tch::manual_seed(seed);
    nn::build(&c, V, Device::Cpu).expect("build")
}

pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// Ids of content tokens (never BOS, EOS or PAD).
pub fn content(rng: &mut ChaCha8Rng, len: usize) -> Vec<i64> {
    (0..len).map(|_| rng.gen_range(1..EOS)).collect()
}

/// `k` contexts: `<bos>` + up to `max_prompt` ids, then a prefix of up to `max_prefix` ids.
fn random_contexts(
    r: &mut ChaCha8Rng,
    k: usize,
    max_prompt: usize,
    max_prefix: usize,
) -> Vec<Context> {
    (0..k)
        .map(|_| {
            let (lp, lh) = (r.gen_range(0..=max_prompt), r.gen_range(0..=max_prefix));
            let mut prompt = vec![BOS];
            prompt.extend(content(r, lp));
            Context::new(prompt, content(r, lh))
        })
        .collect()
}

pub fn max_abs(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size());
    (a.to_kind(Kind::Double) - b.to_kind(Kind::Double))
        .abs()
        .max()
        .double_value(&[])
}

fn opts(n: usize, max_new: i64) -> SampleOptions {
    SampleOptions::new(n, max_new, EOS, PAD)
}

/// §7.10 item 4: rows keep their context, a completion starts right after it and ends on its
/// first `eos` or at `max_new`; its first token is drawn from the model's distribution after
/// the (unpadded) context.
#[test]
fn contexts_are_kept_and_generation_starts_right_after_them() {
    let m = tiny(0.3, true, 1);
    let contexts = random_contexts(&mut rng(2), 9, 6, 8);
    let mut o = opts(3, 10);
    o.max_rows = 4; // several generate calls, groups split across them
    let r = sample(m.as_ref(), &contexts, &o, &mut rng(3)).unwrap();
    assert_eq!(r.rows(), 27);
    for i in 0..r.rows() {
        let ctx = &contexts[i / 3];
        assert_eq!(r.context_of(i), ctx);
        let seq = r.sequence(i);
        assert_eq!(&seq[..ctx.len()], &ctx.ids()[..], "row {i}");
        let g = &r.completions[i];
        let eos_at = g.iter().position(|&t| t == EOS);
        match r.ended[i] {
            true => assert_eq!(eos_at, Some(g.len() - 1), "row {i}: {g:?}"),
            false => assert!(eos_at.is_none() && g.len() == 10, "row {i}: {g:?}"),
        }
        assert_eq!(r.sample_logprobs[i].len(), g.len());
        assert_eq!(r.entropies[i].len(), g.len());
        // The first completion token's log-prob under the model run on the context alone.
        let ids = Tensor::from_slice(&ctx.ids()).view([1, -1]);
        let logits = tch::no_grad(|| m.forward(&nn::Input::new(&ids), false)).unwrap();
        let lp = logits
            .select(1, ctx.len() as i64 - 1)
            .log_softmax(-1, Kind::Double); // (1, V)
        let want = lp.double_value(&[0, g[0]]);
        assert!((r.model_logprobs[i][0] - want).abs() < 1e-5, "row {i}");
    }
}

/// §7.10 item 4: the pad id and the pad token's embedding change nothing a real token sees,
/// in sampling and in a training forward pass.
#[test]
fn padding_is_never_attended_to() {
    let m = tiny(0.3, false, 4); // untied head: the pad embedding reaches no output logit
    let contexts = random_contexts(&mut rng(5), 12, 8, 6);
    let base = sample(m.as_ref(), &contexts, &opts(2, 12), &mut rng(6)).unwrap();
    let mut other_pad = opts(2, 12);
    other_pad.pad = BOS;
    let again = sample(m.as_ref(), &contexts, &other_pad, &mut rng(6)).unwrap();
    assert_eq!(base.completions, again.completions);
    assert_eq!(base.sample_logprobs, again.sample_logprobs);

    let mut noisy = tiny(0.3, false, 4);
    tch::no_grad(|| {
        noisy.var_store_mut().copy(m.var_store()).unwrap();
        let wte = &noisy.var_store().variables()["wte.weight"];
        wte.get(PAD).copy_(&(wte.get(PAD).randn_like() * 3.0));
    });
    let perturbed = sample(noisy.as_ref(), &contexts, &opts(2, 12), &mut rng(6)).unwrap();
    // A row that sampled PAD as a token legitimately diverges after it.
    let clean: Vec<usize> = (0..base.rows())
        .filter(|&i| !base.completions[i].contains(&PAD))
        .collect();
    assert!(clean.len() >= 4, "only {} rows without PAD", clean.len());
    for &i in &clean {
        assert_eq!(base.completions[i], perturbed.completions[i], "row {i}");
        assert_eq!(
            base.sample_logprobs[i], perturbed.sample_logprobs[i],
            "row {i}"
        );
    }
    let rows: Vec<_> = clean
        .iter()
        .map(|&i| base.training_rows()[i].clone())
        .collect();
    let b = train_batch(&rows, PAD, Device::Cpu).unwrap();
    let real = b.pad_mask.unsqueeze(-1);
    let (a, p) = tch::no_grad(|| {
        let a = token_logprobs(m.as_ref(), &b, false).unwrap().logits;
        let p = token_logprobs(noisy.as_ref(), &b, false).unwrap().logits;
        (a, p)
    });
    assert!(
        b.pad_mask.logical_not().any().int64_value(&[]) != 0,
        "some padding"
    );
    assert_eq!(max_abs(&(a * &real), &(p * &real)), 0.0);
}

/// Rows (P, H, G) with P ≥ 1 (bos), used by the gradient tests.
pub fn phg_rows(r: &mut ChaCha8Rng) -> Vec<(Vec<i64>, Vec<i64>, Vec<i64>)> {
    [(3, 4, 5), (2, 0, 7), (5, 2, 1), (1, 6, 3)]
        .iter()
        .map(|&(p, h, g)| {
            let mut prompt = vec![BOS];
            prompt.extend(content(r, p - 1));
            (prompt, content(r, h), content(r, g))
        })
        .collect()
}

pub fn as_rows(phg: &[(Vec<i64>, Vec<i64>, Vec<i64>)]) -> Vec<(Vec<i64>, Vec<i64>)> {
    let ctx = |p: &Vec<i64>, h: &Vec<i64>| Context::new(p.clone(), h.clone()).ids();
    phg.iter().map(|(p, h, g)| (ctx(p, h), g.clone())).collect()
}

/// §7.10 item 5: the gradient of the PG loss w.r.t. the logits `(R, T, V)` is exactly zero on
/// rows predicting prompt or prefix tokens, non-zero on rows predicting completion tokens,
/// and equals the closed form `−A/Z (e_y − softmax)` there.
#[test]
fn only_completion_tokens_get_gradient() {
    let m = tiny(0.3, true, 7);
    let phg = phg_rows(&mut rng(8));
    let adv = [1.5, -0.7, 2.0, 0.4];
    let b = train_batch(&as_rows(&phg), PAD, Device::Cpu).unwrap();
    let (_, t) = b.shape();
    let logits = tch::no_grad(|| token_logprobs(m.as_ref(), &b, false))
        .unwrap()
        .logits
        .set_requires_grad(true);
    let stats = stats_from_logits(logits.shallow_clone(), &b).unwrap();
    let loss = pg_loss(&stats, &b, &adv, Surrogate::Reinforce, None).unwrap();
    loss.backward();
    let grad = logits.grad(); // (R, T, V)
    for (r, (p, h, g)) in phg.iter().enumerate() {
        let (ctx, len) = (
            (p.len() + h.len()) as i64,
            (p.len() + h.len() + g.len()) as i64,
        );
        let offset = t - (len - 1); // padded column of unpadded position 0
        let row = grad.get(r as i64);
        let before = row.narrow(0, 0, offset + ctx - 1); // pads, then t ∈ [0, P+H−2]
        assert_eq!(before.abs().max().double_value(&[]), 0.0, "row {r}");
        for j in (offset + ctx - 1)..t {
            let n = row.get(j).abs().sum(Kind::Double).double_value(&[]);
            assert!(
                n > 0.0,
                "row {r} column {j}: no gradient on a completion target"
            );
        }
    }
    let z = b.completion_tokens() as f64;
    let onehot = b.targets.one_hot(V).to_kind(Kind::Float);
    let a = b
        .broadcast_rows(&adv)
        .unwrap()
        .to_kind(Kind::Float)
        .unsqueeze(-1);
    let probs = logits.detach().softmax(-1, Kind::Float);
    let want = -(a / z) * (onehot - probs) * b.completion_mask.unsqueeze(-1);
    assert!(max_abs(&grad, &want) < 1e-6);
}

/// §7.10 item 5: a prefix TARGET changed (inputs kept) leaves the loss bit-identical, and the
/// loss equals the standard REINFORCE loss computed row by row, unpadded, with prompt ⊕ prefix
/// as the prompt.
#[test]
fn prefix_targets_do_not_enter_the_loss() {
    let m = tiny(0.3, true, 9);
    let phg = phg_rows(&mut rng(10));
    let adv = [0.9, -1.3, 0.2, 1.1];
    let rows = as_rows(&phg);
    let loss_of = |b: &TrainBatch| {
        let s = tch::no_grad(|| token_logprobs(m.as_ref(), b, false)).unwrap();
        let l = pg_loss(&s, b, &adv, Surrogate::Reinforce, None).unwrap();
        l.double_value(&[])
    };
    let b = train_batch(&rows, PAD, Device::Cpu).unwrap();
    let base = loss_of(&b);
    let changed = train_batch(&rows, PAD, Device::Cpu).unwrap();
    let (p, h) = (phg[0].0.len() as i64, phg[0].1.len() as i64);
    let col = b.completion_start(0) - 1; // predicts the last prefix token (t = P+H−2)
    assert!(col >= b.completion_start(0) - (p + h - 1));
    let _ = changed.targets.get(0).get(col).fill_(EOS);
    assert_ne!(
        changed.targets.get(0).get(col).int64_value(&[]),
        b.targets.get(0).get(col).int64_value(&[])
    );
    assert_eq!(loss_of(&changed).to_bits(), base.to_bits());

    // The standard loss with prompt ⊕ prefix as the prompt, one unpadded row at a time.
    let (mut sum, mut tokens) = (0.0, 0.0);
    for ((ctx, g), a) in zip_eq(&rows, adv) {
        let seq: Vec<i64> = ctx.iter().chain(g).copied().collect();
        let ids = Tensor::from_slice(&seq[..seq.len() - 1]).view([1, -1]);
        let logits = tch::no_grad(|| m.forward(&nn::Input::new(&ids), false)).unwrap();
        let lp = logits.get(0).log_softmax(-1, Kind::Double); // (L−1, V)
        for (k, &y) in g.iter().enumerate() {
            sum -= a * lp.double_value(&[(ctx.len() - 1 + k) as i64, y]);
        }
        tokens += g.len() as f64;
    }
    assert!(
        (base - sum / tokens).abs() < 1e-5,
        "{base} vs {}",
        sum / tokens
    );
    // And the prefixed contexts make the same batch as unprefixed ones holding P ⊕ H.
    let flat: Vec<_> = phg
        .iter()
        .map(|(p, h, g)| {
            let joined: Vec<i64> = p.iter().chain(h).copied().collect();
            (Context::unprefixed(joined).ids(), g.clone())
        })
        .collect();
    assert_eq!(
        loss_of(&train_batch(&flat, PAD, Device::Cpu).unwrap()).to_bits(),
        base.to_bits()
    );
}

/// §7.10 item 9: per-token log-probs and entropies from incremental decoding (τ = 1) equal a
/// full recompute over the left-padded (context, completion) batch, for 20 random rows.
#[test]
fn kv_cache_logprobs_equal_a_full_recompute() {
    let m = tiny(0.3, true, 11);
    let contexts = random_contexts(&mut rng(12), 20, 10, 8);
    let r = sample(m.as_ref(), &contexts, &opts(1, 14), &mut rng(13)).unwrap();
    assert_eq!(
        r.sample_logprobs, r.model_logprobs,
        "tau = 1 samples the model itself"
    );
    let rows = r.training_rows();
    let b = train_batch(&rows, PAD, Device::Cpu).unwrap();
    assert!(
        b.context_lens.iter().any(|&c| c != b.context_lens[0]),
        "left padding"
    );
    let stats = tch::no_grad(|| token_logprobs(m.as_ref(), &b, false)).unwrap();
    let full = b.completion_values(&stats.logp).unwrap();
    let entropies = b.completion_values(&stats.entropy).unwrap();
    let chunked = model_logprobs_of_completions(m.as_ref(), &rows, PAD, 3).unwrap();
    let mut worst: f64 = 0.0;
    for i in 0..rows.len() {
        assert_eq!(full[i].len(), r.completions[i].len());
        for k in 0..full[i].len() {
            worst = worst.max((full[i][k] - r.sample_logprobs[i][k]).abs());
            worst = worst.max((chunked[i][k] - r.sample_logprobs[i][k]).abs());
            worst = worst.max((entropies[i][k] - r.entropies[i][k]).abs());
        }
    }
    assert!(worst < 1e-5, "incremental vs full differ by {worst}");
    // Tempered sampling: model log-probs stay the untempered ones, sample log-probs differ.
    let mut cold = opts(1, 14);
    cold.temperature = 0.5;
    let c = sample(m.as_ref(), &contexts, &cold, &mut rng(13)).unwrap();
    let lp = model_logprobs_of_completions(m.as_ref(), &c.training_rows(), PAD, 64).unwrap();
    for (full, sampled) in zip_eq(&lp, &c.model_logprobs) {
        assert_eq!(full.len(), sampled.len());
        for (x, y) in full.iter().zip(sampled) {
            assert!((x - y).abs() < 1e-5);
        }
    }
    assert_ne!(c.sample_logprobs, c.model_logprobs);
}

/// Same seed, same rollouts; greedy rows of one context agree; another seed differs.
#[test]
fn sampling_is_deterministic_for_a_seed() {
    let m = tiny(0.3, true, 14);
    let contexts = random_contexts(&mut rng(15), 6, 5, 5);
    let a = sample(m.as_ref(), &contexts, &opts(4, 10), &mut rng(16)).unwrap();
    let b = sample(m.as_ref(), &contexts, &opts(4, 10), &mut rng(16)).unwrap();
    assert_eq!(a, b);
    let c = sample(m.as_ref(), &contexts, &opts(4, 10), &mut rng(17)).unwrap();
    assert_ne!(a.completions, c.completions);
    let mut greedy = opts(4, 10);
    greedy.temperature = 0.0;
    let g = sample(m.as_ref(), &contexts, &greedy, &mut rng(18)).unwrap();
    for i in 0..g.rows() {
        assert_eq!(g.completions[i], g.completions[i - i % 4], "row {i}");
    }
    assert!(sample(
        m.as_ref(),
        &[Context::unprefixed(vec![])],
        &opts(1, 3),
        &mut rng(1)
    )
    .is_err());
    assert!(train_batch(&[(vec![], vec![1])], PAD, Device::Cpu).is_err());
}
