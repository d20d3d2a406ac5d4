//! Helpers shared by the `nn_*` language-model tests.
use lab::nn::{self, Attention, Dtype, Input, LanguageModel, ModelConfig, Variant};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};

pub const V: i64 = 11;

/// A model from `cfg` with parameters drawn from a generator seeded with `seed` (the init
/// itself uses torch's global generator; the tests compare within one model, so a race with
/// another thread's seed changes nothing they check).
pub fn model(cfg: &ModelConfig, seed: i64) -> Box<dyn LanguageModel> {
    tch::manual_seed(seed);
    let m = nn::build(cfg, V, Device::Cpu).expect("build");
    // Give zero-initialised tables (the bigram) some structure to test against.
    tch::no_grad(|| {
        for (_, mut p) in nn::named_parameters(m.as_ref()) {
            if p.abs().max().double_value(&[]) == 0.0 {
                p.copy_(&(p.randn_like() * 0.5));
            }
        }
    });
    m
}

pub fn nano(attention: Attention, dtype: Dtype) -> ModelConfig {
    nano_variant(Variant::Gpt, attention, dtype)
}

pub fn nano_variant(variant: Variant, attention: Attention, dtype: Dtype) -> ModelConfig {
    let mut c = ModelConfig::gpt_nano();
    c.variant = variant;
    c.attention = attention;
    c.dtype = dtype;
    // Larger weights than the 0.02 init, so attention patterns are far from uniform and the
    // comparisons below see real differences.
    c.init_std = 0.3;
    c
}

/// Every kind of model, small, in f32 (GPT in both attention paths).
pub fn all_small() -> Vec<(String, ModelConfig)> {
    let mut gpt_long = nano(Attention::Fused, Dtype::F32);
    gpt_long.block_size = 128;
    let mut gpt_long_explicit = gpt_long.clone();
    gpt_long_explicit.attention = Attention::Explicit;
    let mut llama = gpt_long.clone();
    llama.variant = Variant::Llama;
    let mut llama_explicit = llama.clone();
    llama_explicit.attention = Attention::Explicit;
    let mut gru = ModelConfig::gru();
    gru.embedding = 8;
    gru.hidden = 16;
    let mut lstm = ModelConfig::lstm();
    lstm.embedding = 8;
    lstm.hidden = 16;
    vec![
        ("gpt-fused".into(), gpt_long),
        ("gpt-explicit".into(), gpt_long_explicit),
        ("llama-fused".into(), llama),
        ("llama-explicit".into(), llama_explicit),
        ("gru".into(), gru),
        ("lstm".into(), lstm),
        ("bigram".into(), ModelConfig::bigram()),
    ]
}

/// One entry of [`all_small`] by name.
pub fn small(name: &str) -> ModelConfig {
    let found = all_small().into_iter().find(|(n, _)| n == name);
    found.expect("a model of all_small").1
}

pub fn random_ids(rng: &mut ChaCha8Rng, b: i64, t: i64) -> Tensor {
    let ids: Vec<i64> = (0..b * t).map(|_| rng.gen_range(0..V)).collect();
    Tensor::from_slice(&ids).view([b, t])
}

pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

pub fn logits(m: &dyn LanguageModel, input: &Input) -> Tensor {
    tch::no_grad(|| m.forward(input, false)).expect("forward")
}

pub fn max_abs(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size(), "shapes differ");
    (a.to_kind(Kind::Double) - b.to_kind(Kind::Double))
        .abs()
        .max()
        .double_value(&[])
}

/// Mean next-token cross-entropy of `tokens` (B, T) under the model, in the model's dtype.
pub fn loss(m: &dyn LanguageModel, tokens: &Tensor) -> Tensor {
    let t = tokens.size()[1];
    let inputs = tokens.narrow(1, 0, t - 1);
    let targets = tokens.narrow(1, 1, t - 1);
    let logits = m.forward(&Input::new(&inputs), false).expect("forward");
    let lp = logits.log_softmax(-1, logits.kind());
    -lp.gather(-1, &targets.unsqueeze(-1), false)
        .mean(logits.kind())
}
