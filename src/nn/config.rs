//! `ModelConfig`: which language model to build and its sizes. In YAML a model is a `preset:`
//! (gpt-nano, gpt-tiny, gpt-small, gru, lstm, bigram) and/or a `kind:` plus keys that override
//! the preset's; with a kind and no preset, the kind's default preset fills the rest. Keys that do
//! not apply to the kind are refused, so a typo or a stray key never passes silently. The
//! vocabulary comes from the tokenizer at build time ([`crate::nn::build`]).
use crate::error::usage;
use anyhow::Result;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    Gpt,
    Gru,
    Lstm,
    Bigram,
}

/// How a GPT computes attention: one fused `scaled_dot_product_attention` call (fast), or
/// explicit `softmax(q kᵀ/√d + mask) v` (twice differentiable: gradient penalties need it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Attention {
    Fused,
    Explicit,
}

/// The Transformer block: `gpt` (LayerNorm, GELU MLP, learned positions) or `llama` (RMSNorm,
/// SwiGLU MLP of width `d_ff`, rotary positions; no position table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    Gpt,
    Llama,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dtype {
    F32,
    F64,
}

impl Dtype {
    pub fn kind(self) -> tch::Kind {
        match self {
            Dtype::F32 => tch::Kind::Float,
            Dtype::F64 => tch::Kind::Double,
        }
    }
}

/// A fully resolved model description. Fields that do not apply to `kind` keep their preset
/// values and are neither read nor written (YAML shows only the kind's keys).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ModelSpec", into = "ModelSpec")]
pub struct ModelConfig {
    pub kind: ModelKind,
    /// Set from the tokenizer by `build`; a config that names one must agree with it.
    pub vocab_size: Option<i64>,
    pub dtype: Dtype,
    // GPT
    pub d_model: i64,
    pub n_layer: i64,
    pub n_head: i64,
    /// MLP width (4·d_model in the presets).
    pub d_ff: i64,
    /// Context length: the number of learned positions.
    pub block_size: i64,
    pub dropout: f64,
    pub ln_bias: bool,
    pub linear_bias: bool,
    /// Output head shares the token embedding matrix.
    pub tied_head: bool,
    pub attention: Attention,
    pub variant: Variant,
    /// Standard deviation of the normal initialisation of weights and embeddings.
    pub init_std: f64,
    // GRU / LSTM
    pub embedding: i64,
    pub hidden: i64,
}

pub const PRESETS: [&str; 6] = ["gpt-nano", "gpt-tiny", "gpt-small", "gru", "lstm", "bigram"];

impl ModelConfig {
    fn gpt(d_model: i64, n_layer: i64, n_head: i64, block_size: i64) -> Self {
        ModelConfig {
            kind: ModelKind::Gpt,
            vocab_size: None,
            dtype: Dtype::F32,
            d_model,
            n_layer,
            n_head,
            d_ff: 4 * d_model,
            block_size,
            dropout: 0.0,
            ln_bias: true,
            linear_bias: true,
            tied_head: true,
            attention: Attention::Fused,
            variant: Variant::Gpt,
            init_std: 0.02,
            embedding: 64,
            hidden: 128,
        }
    }

    fn rnn(kind: ModelKind) -> Self {
        ModelConfig {
            kind,
            ..Self::gpt(64, 2, 4, 64)
        }
    }

    /// CI size: d 32, 1 layer, 2 heads, block 32 (~16k parameters).
    pub fn gpt_nano() -> Self {
        Self::gpt(32, 1, 2, 32)
    }
    /// d 64, 2 layers, 4 heads, block 64 (~110k parameters).
    pub fn gpt_tiny() -> Self {
        Self::gpt(64, 2, 4, 64)
    }
    /// The nanoGPT CPU config: d 128, 4 layers, 4 heads, block 64 (~0.8M parameters).
    pub fn gpt_small() -> Self {
        Self::gpt(128, 4, 4, 64)
    }
    /// Embedding 64, one GRU layer of 128, linear head.
    pub fn gru() -> Self {
        Self::rnn(ModelKind::Gru)
    }
    /// Embedding 64, one LSTM layer of 128, linear head.
    pub fn lstm() -> Self {
        Self::rnn(ModelKind::Lstm)
    }
    /// A vocab × vocab table of next-token logits.
    pub fn bigram() -> Self {
        Self::rnn(ModelKind::Bigram)
    }

    pub fn preset(name: &str) -> Result<Self> {
        Ok(match name {
            "gpt-nano" => Self::gpt_nano(),
            "gpt-tiny" => Self::gpt_tiny(),
            "gpt-small" => Self::gpt_small(),
            "gru" => Self::gru(),
            "lstm" => Self::lstm(),
            "bigram" => Self::bigram(),
            other => {
                return Err(usage(format!(
                    "unknown model preset `{other}`; expected one of {}",
                    PRESETS.join(", ")
                )))
            }
        })
    }

    fn default_for(kind: ModelKind) -> Self {
        match kind {
            ModelKind::Gpt => Self::gpt_tiny(),
            ModelKind::Gru => Self::gru(),
            ModelKind::Lstm => Self::lstm(),
            ModelKind::Bigram => Self::bigram(),
        }
    }

    /// Positive sizes, heads that divide d_model, dropout in [0, 1), and so on.
    pub fn validate(&self) -> Result<()> {
        let positive = |name: &str, v: i64| -> Result<()> {
            if v < 1 {
                return Err(usage(format!("model.{name} must be >= 1, got {v}")));
            }
            Ok(())
        };
        if let Some(v) = self.vocab_size {
            positive("vocab_size", v)?;
        }
        match self.kind {
            ModelKind::Gpt => {
                positive("d_model", self.d_model)?;
                positive("n_layer", self.n_layer)?;
                positive("n_head", self.n_head)?;
                positive("d_ff", self.d_ff)?;
                positive("block_size", self.block_size)?;
                if self.d_model % self.n_head != 0 {
                    return Err(usage(format!(
                        "model.d_model ({}) must be a multiple of model.n_head ({})",
                        self.d_model, self.n_head
                    )));
                }
                if self.variant == Variant::Llama && (self.d_model / self.n_head) % 2 != 0 {
                    return Err(usage(format!(
                        "model.variant llama needs an even head size, got d_model / n_head = {}",
                        self.d_model / self.n_head
                    )));
                }
                if !(0.0..1.0).contains(&self.dropout) {
                    return Err(usage(format!(
                        "model.dropout must be in [0, 1), got {}",
                        self.dropout
                    )));
                }
                if !(self.init_std > 0.0 && self.init_std.is_finite()) {
                    return Err(usage(format!(
                        "model.init_std must be > 0, got {}",
                        self.init_std
                    )));
                }
            }
            ModelKind::Gru | ModelKind::Lstm => {
                positive("embedding", self.embedding)?;
                positive("hidden", self.hidden)?;
            }
            ModelKind::Bigram => {}
        }
        let params = self.approx_params();
        if params > MAX_PARAMS {
            let sizes = match self.kind {
                ModelKind::Gpt => format!(
                    "d_model {}, n_layer {}, d_ff {}, block_size {}",
                    self.d_model, self.n_layer, self.d_ff, self.block_size
                ),
                _ => format!("embedding {}, hidden {}", self.embedding, self.hidden),
            };
            return Err(usage(format!(
                "model: about {params:.2e} parameters without the vocabulary's rows ({sizes}), \
                 over the {MAX_PARAMS:.1e} this small-model core takes (their fp32 weights, \
                 gradients and AdamW moments alone would need {:.0} GiB); make the model smaller",
                params * 16.0 / (1u64 << 30) as f64
            )));
        }
        Ok(())
    }

    /// Parameters of the model without its vocabulary-sized embedding and head rows (in f64,
    /// so absurd sizes cannot overflow): what [`validate`](Self::validate) bounds.
    fn approx_params(&self) -> f64 {
        let f = |v: i64| v as f64;
        match self.kind {
            ModelKind::Gpt => {
                let (d, ff) = (f(self.d_model), f(self.d_ff));
                f(self.n_layer) * (4.0 * d * d + 2.0 * d * ff) + f(self.block_size) * d
            }
            ModelKind::Gru | ModelKind::Lstm => {
                let (e, h) = (f(self.embedding), f(self.hidden));
                4.0 * (e * h + h * h + 2.0 * h)
            }
            ModelKind::Bigram => 0.0,
        }
    }

    /// The context length a GPT can see; `None` for models without one.
    pub fn block_size(&self) -> Option<i64> {
        (self.kind == ModelKind::Gpt).then_some(self.block_size)
    }
}

/// The most parameters (vocabulary rows aside) a model of this core may have: 2^30, 16 GiB of
/// fp32 weights, gradients and AdamW moments. Larger sizes are typing mistakes here (the presets
/// have 16k to 0.8M); without this bound they end in a failed allocation or an OOM kill.
const MAX_PARAMS: f64 = (1u64 << 30) as f64;

/// The YAML form: every key optional, `preset` first, then overrides.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    preset: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<ModelKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vocab_size: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dtype: Option<Dtype>,
    #[serde(skip_serializing_if = "Option::is_none")]
    d_model: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    n_layer: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    n_head: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    d_ff: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    block_size: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dropout: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ln_bias: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    linear_bias: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tied_head: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attention: Option<Attention>,
    #[serde(skip_serializing_if = "Option::is_none")]
    variant: Option<Variant>,
    #[serde(skip_serializing_if = "Option::is_none")]
    init_std: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    embedding: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hidden: Option<i64>,
}

/// Copy each key the spec sets over the base; refuse keys the kind does not use.
macro_rules! overlay {
    ($spec:ident, $cfg:ident, $kind:expr, { $($field:ident: $($k:ident)|+),* $(,)? }) => {
        $(if let Some(v) = $spec.$field {
            if !matches!($kind, $(ModelKind::$k)|+) {
                return Err(format!(
                    "model key `{}` does not apply to kind {:?}",
                    stringify!($field),
                    $kind
                ));
            }
            $cfg.$field = v;
        })*
    };
}

impl TryFrom<ModelSpec> for ModelConfig {
    type Error = String;

    fn try_from(spec: ModelSpec) -> Result<Self, String> {
        let mut cfg = match (&spec.preset, spec.kind) {
            (Some(name), kind) => {
                let cfg = ModelConfig::preset(name).map_err(|e| e.to_string())?;
                if let Some(k) = kind.filter(|k| *k != cfg.kind) {
                    return Err(format!(
                        "model preset `{name}` is kind {:?}, but kind {k:?} was given",
                        cfg.kind
                    ));
                }
                cfg
            }
            (None, Some(kind)) => ModelConfig::default_for(kind),
            (None, None) => {
                return Err(format!(
                    "a model needs a `preset` ({}) or a `kind` (gpt, gru, lstm, bigram)",
                    PRESETS.join(", ")
                ))
            }
        };
        cfg.vocab_size = spec.vocab_size;
        if let Some(d) = spec.dtype {
            cfg.dtype = d;
        }
        let kind = cfg.kind;
        overlay!(spec, cfg, kind, {
            d_model: Gpt, n_layer: Gpt, n_head: Gpt, d_ff: Gpt, block_size: Gpt, dropout: Gpt,
            ln_bias: Gpt, linear_bias: Gpt, tied_head: Gpt, attention: Gpt, variant: Gpt, init_std: Gpt,
            embedding: Gru | Lstm, hidden: Gru | Lstm,
        });
        if spec.d_model.is_some() && spec.d_ff.is_none() {
            cfg.d_ff = 4 * cfg.d_model;
        }
        cfg.validate().map_err(|e| e.to_string())?;
        Ok(cfg)
    }
}

impl From<ModelConfig> for ModelSpec {
    fn from(c: ModelConfig) -> Self {
        let gpt = c.kind == ModelKind::Gpt;
        let rnn = matches!(c.kind, ModelKind::Gru | ModelKind::Lstm);
        ModelSpec {
            preset: None,
            kind: Some(c.kind),
            vocab_size: c.vocab_size,
            dtype: Some(c.dtype),
            d_model: gpt.then_some(c.d_model),
            n_layer: gpt.then_some(c.n_layer),
            n_head: gpt.then_some(c.n_head),
            d_ff: gpt.then_some(c.d_ff),
            block_size: gpt.then_some(c.block_size),
            dropout: gpt.then_some(c.dropout),
            ln_bias: gpt.then_some(c.ln_bias),
            linear_bias: gpt.then_some(c.linear_bias),
            tied_head: gpt.then_some(c.tied_head),
            attention: gpt.then_some(c.attention),
            variant: gpt.then_some(c.variant),
            init_std: gpt.then_some(c.init_std),
            embedding: rnn.then_some(c.embedding),
            hidden: rnn.then_some(c.hidden),
        }
    }
}
