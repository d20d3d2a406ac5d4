//! The training loop (`nn::train`), resuming from checkpoints, seeded sampling and FLOPs.
use crate::common::zip_eq;
use crate::nn_common::{all_small, model, nano, V};
use lab::data::batch::random_batch;
use lab::nn::train::{evaluate, train_step, Batch, StepPlan};
use lab::nn::{self, checkpoint, flops, Attention, Decoding, Dtype, GenerateOptions, Input};
use lab::nn::{LanguageModel, ModelConfig};
use lab::optim::{AdamW, AdamWConfig, LrSchedule, Optimizer};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};

fn adamw(model: &dyn LanguageModel, lr: f64) -> AdamW {
    let cfg = AdamWConfig {
        lr,
        betas: [0.9, 0.99],
        weight_decay: 0.1,
        grad_clip: Some(1.0),
        ..AdamWConfig::default()
    };
    AdamW::new(model.var_store(), &cfg).expect("AdamW")
}

/// A token stream with structure (a noisy cycle), so a model has something to learn.
fn stream(n: usize, seed: u64) -> Vec<u32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            if rng.gen_bool(0.1) {
                rng.gen_range(0..V as u32)
            } else {
                (i % 7) as u32
            }
        })
        .collect()
}

#[test]
fn a_tiny_model_overfits_a_fixed_batch() {
    // (A bigram cannot memorise: its floor is the batch's conditional entropy.)
    const STEPS: usize = 300;
    let picked = ["gpt-fused", "llama-explicit", "gru", "lstm"];
    let models: Vec<_> = all_small()
        .into_iter()
        .filter(|(n, _)| picked.contains(&n.as_str()))
        .collect();
    assert_eq!(models.len(), picked.len());
    for (name, cfg) in models {
        let m = model(&cfg, 3);
        let mut opt = adamw(m.as_ref(), 1e-2);
        // From a seeded generator (libtorch's global one is shared with tests on other threads),
        // and memorisable: the rows start with different tokens, so no two positions share a
        // context (a shared context with two targets would floor the loss at their entropy).
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut x: Vec<i64> = (0..24).map(|_| rng.gen_range(0..V)).collect();
        x[12] = (x[0] + 1) % V;
        let y: Vec<i64> = (0..24).map(|_| rng.gen_range(0..V)).collect();
        let x = Tensor::from_slice(&x).view([2, 12]);
        let y = Tensor::from_slice(&y).view([2, 12]);
        let batch = [Batch::new(x.shallow_clone(), y.shallow_clone())];
        let schedule = LrSchedule::WarmupConstant { warmup: 10 };
        let plan = StepPlan {
            base_lr: 1e-2,
            schedule: &schedule,
            seed: 0,
        };
        let first = train_step(m.as_ref(), &mut opt, &plan, &batch)
            .unwrap()
            .loss;
        let mut last = first;
        for _ in 0..STEPS {
            last = train_step(m.as_ref(), &mut opt, &plan, &batch)
                .unwrap()
                .loss;
        }
        let eval = evaluate(m.as_ref(), [(x, y)]).unwrap();
        assert!(first > 1.5, "{name}: first loss {first}");
        assert!(
            last < 0.05,
            "{name}: loss after {STEPS} steps on one batch is {last}"
        );
        assert!(
            (eval.nats_per_token() - last).abs() < 0.05,
            "{name}: eval {} vs train {last}",
            eval.nats_per_token()
        );
        assert!((eval.bits_per_token() - eval.nats_per_token() / 2f64.ln()).abs() < 1e-12);
    }
}

#[test]
fn gradient_accumulation_equals_one_big_batch() {
    let cfg = nano(Attention::Explicit, Dtype::F64);
    let (a, b) = (model(&cfg, 5), model(&cfg, 6));
    tch::no_grad(|| {
        for ((_, mut pb), (_, pa)) in zip_eq(
            nn::named_parameters(b.as_ref()),
            nn::named_parameters(a.as_ref()),
        ) {
            pb.copy_(&pa);
        }
    });
    let x = Tensor::randint(V, [4, 12], (Kind::Int64, Device::Cpu));
    let y = Tensor::randint(V, [4, 12], (Kind::Int64, Device::Cpu));
    let schedule = LrSchedule::Constant {};
    let plan = StepPlan {
        base_lr: 1e-2,
        schedule: &schedule,
        seed: 0,
    };
    let (mut oa, mut ob) = (adamw(a.as_ref(), 1e-2), adamw(b.as_ref(), 1e-2));
    let whole = [Batch::new(x.shallow_clone(), y.shallow_clone())];
    let halves = [
        Batch::new(x.narrow(0, 0, 2), y.narrow(0, 0, 2)),
        Batch::new(x.narrow(0, 2, 2), y.narrow(0, 2, 2)),
    ];
    let ra = train_step(a.as_ref(), &mut oa, &plan, &whole).unwrap();
    let rb = train_step(b.as_ref(), &mut ob, &plan, &halves).unwrap();
    assert!((ra.loss - rb.loss).abs() < 1e-12, "{ra:?} vs {rb:?}");
    assert!((ra.grad_norm.unwrap() - rb.grad_norm.unwrap()).abs() < 1e-10);
    let (pa, pb) = (
        nn::named_parameters(a.as_ref()),
        nn::named_parameters(b.as_ref()),
    );
    assert_eq!(pa.len(), pb.len());
    for ((name, ta), (_, tb)) in pa.iter().zip(&pb) {
        let diff = (ta - tb).abs().max().double_value(&[]);
        assert!(diff < 1e-9, "{name} differs by {diff}");
    }
}

/// Train `steps` steps from the model/optimizer/rng given, returning the losses.
fn run(m: &dyn LanguageModel, opt: &mut AdamW, rng: &mut ChaCha8Rng, steps: usize) -> Vec<f64> {
    let data = stream(5000, 11);
    let schedule = LrSchedule::WarmupCosine {
        warmup: 2,
        total: 8,
        lr_min: 1e-4,
    };
    let plan = StepPlan {
        base_lr: 3e-3,
        schedule: &schedule,
        seed: 42,
    };
    (0..steps)
        .map(|_| {
            let (x, y) = random_batch(&data, 4, 16, rng, Device::Cpu).unwrap();
            train_step(m, opt, &plan, &[Batch::new(x, y)]).unwrap().loss
        })
        .collect()
}

#[test]
fn save_load_continue_equals_an_uninterrupted_run() {
    let cfg = nano(Attention::Fused, Dtype::F32);
    let a = model(&cfg, 1);
    let mut opt_a = adamw(a.as_ref(), 3e-3);
    let mut rng_a = ChaCha8Rng::seed_from_u64(9);
    let mut losses_a = run(a.as_ref(), &mut opt_a, &mut rng_a, 3);
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join(checkpoint::dir_name(3));
    let extra = checkpoint::Extra {
        step: 3,
        rng: &rng_a,
        tokenizer: "{\"kind\":\"test\"}",
        metadata: serde_json::json!({}),
    };
    checkpoint::save(&ck, a.var_store(), &opt_a, &extra).unwrap();
    losses_a.extend(run(a.as_ref(), &mut opt_a, &mut rng_a, 4));

    let b = model(&cfg, 2); // other initial weights: the checkpoint must replace them all
    let mut opt_b = adamw(b.as_ref(), 3e-3);
    let resumed = checkpoint::load(&ck, b.var_store(), &mut opt_b).unwrap();
    assert_eq!((resumed.step, opt_b.steps_done()), (3, 3));
    let mut rng_b = resumed.rng;
    let losses_b = run(b.as_ref(), &mut opt_b, &mut rng_b, 4);
    assert_eq!(&losses_a[3..], &losses_b[..], "losses after resuming");
    for ((name, pa), (_, pb)) in zip_eq(
        &nn::named_parameters(a.as_ref()),
        &nn::named_parameters(b.as_ref()),
    ) {
        assert!(pa.equal(pb), "{name} differs after resuming");
    }
    assert_eq!(rng_a.get_word_pos(), rng_b.get_word_pos());
}

#[test]
fn the_same_seed_gives_the_same_samples() {
    let cfg = nano(Attention::Fused, Dtype::F32);
    let m = model(&cfg, 4);
    let opts = GenerateOptions::new(
        20,
        Decoding {
            temperature: 1.0,
            top_k: None,
            top_p: None,
        },
    );
    let prompts = vec![vec![1, 2], vec![3]];
    let gen = |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        nn::generate(m.as_ref(), &prompts, &opts, &mut rng)
            .unwrap()
            .sequences()
            .unwrap()
    };
    assert_eq!(gen(7), gen(7));
    assert_ne!(gen(7), gen(8));
}

/// The analytic FLOPs equal the products a forward pass really multiplies.
#[test]
fn flops_formula_matches_the_counted_matmul_shapes() {
    let mut cases = all_small();
    let mut untied = nano(Attention::Explicit, Dtype::F32);
    untied.tied_head = false;
    untied.d_ff = 48;
    cases.push(("untied, d_ff 48".into(), untied));
    for (name, cfg) in cases {
        let m = model(&cfg, 0);
        for (b, t) in [(1, 1), (3, 10), (2, 17)] {
            let x = Tensor::randint(V, [b, t], (Kind::Int64, Device::Cpu));
            let counted = flops::counted(m.as_ref(), &Input::new(&x)).unwrap();
            let formula = flops::forward(&cfg, V, b, t);
            assert!(
                (counted - formula).abs() <= 1e-9 * formula.max(1.0),
                "{name} ({b}, {t}): counted {counted} vs formula {formula}"
            );
            assert_eq!(flops::training(&cfg, V, b, t), 3.0 * formula);
        }
    }
    // A GPT's dense part is ≈ 2 FLOPs per parameter per token (embeddings aside).
    let cfg = ModelConfig::gpt_small();
    let m = nn::build(&cfg, 65, Device::Cpu).unwrap();
    let n = nn::num_parameters(m.as_ref()) as f64;
    let dense = flops::forward_per_token(&cfg, 65, 1);
    let ratio = dense / (2.0 * n);
    assert!((0.85..1.0).contains(&ratio), "dense FLOPs / 2N = {ratio}");
}

#[test]
fn generation_flops_add_the_prompt_pass_and_each_step() {
    let cfg = ModelConfig::gpt_tiny();
    let one = flops::generation(&cfg, 65, 2, 5, 1);
    assert_eq!(one, flops::forward(&cfg, 65, 2, 5));
    let three = flops::generation(&cfg, 65, 2, 5, 3);
    let steps = flops::decode_step(&cfg, 65, 2, 6) + flops::decode_step(&cfg, 65, 2, 7);
    assert!((three - one - steps).abs() < 1e-6 * three);
    assert!(flops::decode_step(&cfg, 65, 2, 7) > flops::decode_step(&cfg, 65, 2, 6));
}
