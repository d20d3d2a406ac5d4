//! Model configs: presets, YAML keys over a preset, refusals with clear messages.
use lab::nn::{self, Attention, Dtype, ModelConfig, ModelKind, PRESETS};

fn parse(yaml: &str) -> Result<ModelConfig, String> {
    serde_yaml_ng::from_str::<ModelConfig>(yaml).map_err(|e| e.to_string())
}

#[test]
fn presets_have_the_documented_sizes() {
    let n = ModelConfig::gpt_nano();
    assert_eq!(
        (n.d_model, n.n_layer, n.n_head, n.block_size, n.d_ff),
        (32, 1, 2, 32, 128)
    );
    let t = ModelConfig::gpt_tiny();
    assert_eq!(
        (t.d_model, t.n_layer, t.n_head, t.block_size),
        (64, 2, 4, 64)
    );
    let s = ModelConfig::gpt_small();
    assert_eq!(
        (s.d_model, s.n_layer, s.n_head, s.block_size),
        (128, 4, 4, 64)
    );
    let g = ModelConfig::gru();
    assert_eq!((g.kind, g.embedding, g.hidden), (ModelKind::Gru, 64, 128));
    assert_eq!(ModelConfig::lstm().kind, ModelKind::Lstm);
    for name in PRESETS {
        let c = ModelConfig::preset(name).unwrap();
        c.validate().unwrap();
        assert_eq!(parse(&format!("preset: {name}")).unwrap(), c, "{name}");
    }
}

#[test]
fn keys_override_the_preset_and_round_trip() {
    let c =
        parse("preset: gpt-nano\nn_layer: 3\nattention: explicit\ndtype: f64\ntied_head: false")
            .unwrap();
    assert_eq!(
        (c.n_layer, c.d_model, c.attention, c.dtype, c.tied_head),
        (3, 32, Attention::Explicit, Dtype::F64, false)
    );
    let l = parse("preset: gpt-tiny\nvariant: llama").unwrap();
    assert_eq!(l.variant, lab::nn::Variant::Llama);
    let d = parse("kind: gpt\nd_model: 48\nn_head: 3").unwrap();
    assert_eq!(
        (d.d_model, d.d_ff, d.n_layer),
        (48, 192, 2),
        "d_ff follows d_model; the rest is gpt-tiny"
    );
    for cfg in [c, d, l, ModelConfig::gru(), ModelConfig::bigram()] {
        let yaml = serde_yaml_ng::to_string(&cfg).unwrap();
        assert_eq!(parse(&yaml).unwrap(), cfg, "{yaml}");
    }
    let rnn = serde_yaml_ng::to_string(&ModelConfig::lstm()).unwrap();
    assert!(
        rnn.contains("hidden: 128") && !rnn.contains("n_head"),
        "{rnn}"
    );
}

#[test]
fn bad_configs_are_refused_with_clear_messages() {
    let cases = [
        ("preset: gpt-nano\nn_head: 3", "multiple of model.n_head"),
        ("preset: gpt-huge", "unknown model preset `gpt-huge`"),
        (
            "preset: gru\nn_head: 2",
            "`n_head` does not apply to kind Gru",
        ),
        ("preset: gru\nkind: gpt", "is kind Gru, but kind Gpt"),
        ("kind: lstm\nhidden: 0", "model.hidden must be >= 1"),
        (
            "preset: gpt-nano\nd_model: 30\nn_head: 2\nvariant: llama",
            "even head size",
        ),
        (
            "preset: gpt-tiny\ndropout: 1.5",
            "dropout must be in [0, 1)",
        ),
        ("preset: gpt-tiny\nlayers: 2", "unknown field `layers`"),
        ("d_model: 8", "needs a `preset`"),
    ];
    for (yaml, want) in cases {
        let err = parse(yaml).unwrap_err();
        assert!(err.contains(want), "{yaml:?}: {err}");
    }
    let mut c = ModelConfig::gpt_nano();
    c.vocab_size = Some(12);
    let err = nn::build(&c, 11, tch::Device::Cpu)
        .err()
        .expect("vocab mismatch");
    assert!(err.to_string().contains("tokenizer has 11"), "{err}");
}
