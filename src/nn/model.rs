//! The `LanguageModel` trait that training, sampling and the papers use, and what goes in and
//! out of it: [`Input`] (tokens, optional padding mask and position ids), [`Tape`] (captured
//! layer inputs and pre-activations for K-FAC) and [`Cache`] (incremental decoding state).
use super::config::ModelConfig;
pub use crate::optim::capture::Captured;
use anyhow::{bail, Result};
use tch::nn::VarStore;
use tch::{Kind, Tensor};

/// A batch of token ids `(B, T)` i64. `pad_mask` `(B, T)` bool is true on real tokens; pad
/// positions are never attended to (GPT) or skipped (RNNs), and their logits are meaningless.
/// `positions` `(B, T)` i64 default to 0,1,2,... counted over real tokens only, so a
/// left-padded row sees the same positions as the unpadded one.
#[derive(Clone, Copy)]
pub struct Input<'a> {
    pub tokens: &'a Tensor,
    pub pad_mask: Option<&'a Tensor>,
    pub positions: Option<&'a Tensor>,
}

impl<'a> Input<'a> {
    pub fn new(tokens: &'a Tensor) -> Self {
        Input {
            tokens,
            pad_mask: None,
            positions: None,
        }
    }
    pub fn with_pad_mask(self, pad_mask: &'a Tensor) -> Self {
        Input {
            pad_mask: Some(pad_mask),
            ..self
        }
    }
    pub fn with_positions(self, positions: &'a Tensor) -> Self {
        Input {
            positions: Some(positions),
            ..self
        }
    }

    /// `(B, T)` after checking the ids are a 2-D i64 tensor and the mask/positions match.
    pub fn shape(&self) -> Result<(i64, i64)> {
        let size = self.tokens.size();
        if size.len() != 2 || self.tokens.kind() != Kind::Int64 {
            bail!(
                "tokens must be a (B, T) int64 tensor, got {:?} {:?}",
                size,
                self.tokens.kind()
            );
        }
        if let Some(m) = self.pad_mask {
            if m.size() != size || m.kind() != Kind::Bool {
                bail!(
                    "pad_mask must be a {size:?} bool tensor, got {:?} {:?}",
                    m.size(),
                    m.kind()
                );
            }
        }
        if let Some(p) = self.positions {
            if p.size() != size || p.kind() != Kind::Int64 {
                bail!(
                    "positions must be a {size:?} int64 tensor, got {:?} {:?}",
                    p.size(),
                    p.kind()
                );
            }
        }
        Ok((size[0], size[1]))
    }

    /// The position ids: given ones, or counted over real tokens (0 on the first), or 0..T.
    pub fn position_ids(&self) -> Tensor {
        match (self.positions, self.pad_mask) {
            (Some(p), _) => p.shallow_clone(),
            (None, Some(m)) => positions_from_mask(m),
            (None, None) => {
                let t = self.tokens.size()[1];
                Tensor::arange(t, (Kind::Int64, self.tokens.device())).unsqueeze(0)
            }
        }
    }
}

/// Position of each token among its row's real tokens: `cumsum(mask) - 1`, 0 on leading pads.
pub fn positions_from_mask(mask: &Tensor) -> Tensor {
    (mask.cumsum(1, Kind::Int64) - 1).clamp_min(0)
}

/// Where a forward pass records [`Captured`] layers when switched on (off: records nothing).
#[derive(Debug, Default)]
pub struct Tape {
    on: bool,
    pub items: Vec<Captured>,
    /// FLOPs of the attention products (`q kᵀ`, `att v`) run while on, from their shapes.
    pub attention_flops: f64,
}

impl Tape {
    pub fn off() -> Self {
        Tape::default()
    }
    pub fn on() -> Self {
        Tape {
            on: true,
            ..Tape::default()
        }
    }
    pub fn is_on(&self) -> bool {
        self.on
    }
    /// Note the attention products of queries `q` `(B, H, Tq, hd)` against `tk` keys.
    pub fn note_attention(&mut self, q: &Tensor, tk: i64) {
        if self.on {
            let (b, h, tq, hd) = q.size4().expect("(B, H, T, hd)");
            self.attention_flops += 4.0 * (b * h * tq * hd) as f64 * tk as f64;
        }
    }
    pub fn record(&mut self, c: Captured) {
        if self.on {
            self.items.push(c);
        }
    }
}

/// Incremental decoding state, made by [`LanguageModel::prefill`] and advanced by
/// [`LanguageModel::step`]: a KV cache for a GPT, the recurrent state for an RNN.
pub struct Cache {
    pub(crate) inner: CacheState,
    /// Positions written so far (prompt width plus steps).
    pub len: i64,
    /// Room for this many tokens in total.
    pub capacity: i64,
}

pub(crate) enum CacheState {
    Gpt(super::gpt::KvCache),
    Gru(Tensor),
    Lstm(Tensor, Tensor),
    Stateless,
}

/// A next-token model over a fixed vocabulary. All parameters live in one VarStore.
pub trait LanguageModel: Send {
    fn config(&self) -> &ModelConfig;
    fn vocab_size(&self) -> i64;
    /// The longest context the model can see (a GPT's positions); `None` for RNNs and bigrams.
    fn block_size(&self) -> Option<i64>;
    fn var_store(&self) -> &VarStore;
    fn var_store_mut(&mut self) -> &mut VarStore;

    /// Logits `(B, T, V)` for every position, recording captured layers on `tape`. `train`
    /// switches dropout on.
    fn forward_tape(&self, input: &Input, train: bool, tape: &mut Tape) -> Result<Tensor>;

    /// Run the prompt `(B, T)` (left-padded: `pad_mask` true on real tokens, every row's last
    /// column real) and keep room for `max_new` more tokens. Returns the logits `(B, V)` after
    /// the last prompt token and the cache. No autograd graph is kept.
    fn prefill(
        &self,
        tokens: &Tensor,
        pad_mask: Option<&Tensor>,
        max_new: i64,
    ) -> Result<(Tensor, Cache)>;

    /// Feed one token per row `(B)` and return the next logits `(B, V)`.
    fn step(&self, cache: &mut Cache, tokens: &Tensor) -> Result<Tensor>;

    /// Logits `(B, T, V)`.
    fn forward(&self, input: &Input, train: bool) -> Result<Tensor> {
        self.forward_tape(input, train, &mut Tape::off())
    }

    /// Logits and the captured linear layers, in forward order.
    fn forward_captured(&self, input: &Input, train: bool) -> Result<(Tensor, Vec<Captured>)> {
        let mut tape = Tape::on();
        let logits = self.forward_tape(input, train, &mut tape)?;
        Ok((logits, tape.items))
    }
}

/// Checks shared by every `prefill`: a 2-D id tensor, a matching mask whose last column is real.
pub(crate) fn check_prompt(tokens: &Tensor, pad_mask: Option<&Tensor>, max_new: i64) -> Result<()> {
    let input = Input {
        tokens,
        pad_mask,
        positions: None,
    };
    let (_, t) = input.shape()?;
    if t < 1 {
        bail!("prefill needs at least one prompt token per row");
    }
    if max_new < 0 {
        bail!("max_new must be >= 0, got {max_new}");
    }
    if let Some(m) = pad_mask {
        let last_real = m.select(1, t - 1).all().int64_value(&[]) != 0;
        if !last_real {
            bail!("prompts must be left-padded: every row's last token must be real");
        }
    }
    Ok(())
}
