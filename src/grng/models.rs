//! The models of spec §6.2. Each maps a batch to logits `(N, C)` and records its linear maps on
//! a [`Tape`] (`nn::layers::Linear`), so K-FAC sees every weight matrix:
//! - `logreg` 64→10 and the MLPs (64→128→64→10, 256→32→4) with tanh or ReLU;
//! - the CNNs, whose 3×3 convolutions (padding 1) are im2col patches times a capturing
//!   `Linear` (§1.2 KFC): a conv layer's captured input is `(N, L, C_in·9)`, `L` = H·W
//!   positions, i.e. N·L rows;
//! - `charlm`: the project GPT (1 block, d 64, 4 heads, explicit attention for double backprop)
//!   whose logits `(B, T, V)` are flattened to `(B·T, V)`.
use super::config::Activation;
use crate::nn::{self, layers::Linear, Input, LanguageModel, ModelConfig, Tape};
use anyhow::Result;
use tch::nn::VarStore;
use tch::{Device, Tensor};

/// A classifier over a batch: images `(N, D)` f32 or token windows `(B, T)` i64.
pub trait Classifier {
    /// Logits `(N, C)` (LM: `(B·T, V)`), recording the linear maps on `tape` when it is on.
    fn forward(&self, x: &Tensor, tape: &mut Tape) -> Result<Tensor>;
    fn var_store(&self) -> &VarStore;
}

fn linear(vs: &VarStore, name: &str, d_in: i64, d_out: i64) -> Linear {
    Linear::new(
        &(vs.root() / name),
        d_in,
        d_out,
        true,
        (1.0 / d_in as f64).sqrt(),
    )
}

/// Fully connected layers `dims[0] → dims[1] → … → classes`; `act` between them.
pub struct Mlp {
    vs: VarStore,
    layers: Vec<Linear>,
    act: Activation,
}

impl Mlp {
    /// `dims` = [input, hidden…, classes]; layers named `fc1`, `fc2`, …
    pub fn new(dims: &[i64], act: Activation, device: Device) -> Mlp {
        let vs = VarStore::new(device);
        let layers = dims
            .windows(2)
            .enumerate()
            .map(|(i, w)| linear(&vs, &format!("fc{}", i + 1), w[0], w[1]))
            .collect();
        Mlp { vs, layers, act }
    }
}

fn activate(x: Tensor, act: Activation) -> Tensor {
    match act {
        Activation::Tanh => x.tanh(),
        Activation::Relu => x.relu(),
    }
}

impl Classifier for Mlp {
    fn forward(&self, x: &Tensor, tape: &mut Tape) -> Result<Tensor> {
        let mut h = x.shallow_clone(); // (N, D)
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(&h, tape);
            if i + 1 < self.layers.len() {
                h = activate(h, self.act);
            }
        }
        Ok(h)
    }
    fn var_store(&self) -> &VarStore {
        &self.vs
    }
}

/// A 3×3 convolution with padding 1 and stride 1 as patches × a capturing [`Linear`].
struct Conv3 {
    lin: Linear,
}

impl Conv3 {
    fn new(vs: &VarStore, name: &str, c_in: i64, c_out: i64) -> Conv3 {
        Conv3 {
            lin: linear(vs, name, c_in * 9, c_out),
        }
    }

    /// `(N, C_in, H, W)` → `(N, C_out, H, W)`.
    fn forward(&self, x: &Tensor, tape: &mut Tape) -> Result<Tensor> {
        let (n, _, h, w) = x.size4()?;
        let patches = x.im2col([3, 3], [1, 1], [1, 1], [1, 1]).transpose(1, 2); // (N, L, C_in·9)
        let y = self.lin.forward(&patches, tape); // (N, L, C_out)
        Ok(y.transpose(1, 2).reshape([n, -1, h, w]))
    }
}

/// How a [`Cnn`] reduces space: `GlobalAvg` after the last conv (cnn-digits), or 2×2 max
/// pooling after each conv then flatten (cnn-shapes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pooling {
    GlobalAvg,
    MaxEach,
}

/// conv3×3 → ReLU (→ pool) per conv, then the fully connected head (ReLU between).
pub struct Cnn {
    vs: VarStore,
    side: i64,
    /// Input channels (1 for digits and shapes, 3 for CIFAR-10).
    in_channels: i64,
    convs: Vec<Conv3>,
    head: Vec<Linear>,
    pooling: Pooling,
}

impl Cnn {
    /// `channels` = [input channels, c1, c2, …]; `head` = [features, …, classes]; inputs are
    /// rows of `channels[0]·side²` values, channel-major.
    pub fn new(side: i64, channels: &[i64], head: &[i64], pooling: Pooling, device: Device) -> Cnn {
        let vs = VarStore::new(device);
        let convs = channels
            .windows(2)
            .enumerate()
            .map(|(i, w)| Conv3::new(&vs, &format!("conv{}", i + 1), w[0], w[1]))
            .collect();
        let head = head
            .windows(2)
            .enumerate()
            .map(|(i, w)| linear(&vs, &format!("fc{}", i + 1), w[0], w[1]))
            .collect();
        Cnn {
            vs,
            side,
            in_channels: channels[0],
            convs,
            head,
            pooling,
        }
    }
}

impl Classifier for Cnn {
    fn forward(&self, x: &Tensor, tape: &mut Tape) -> Result<Tensor> {
        let mut h = x.view([-1, self.in_channels, self.side, self.side]); // (N, C, S, S)
        for conv in &self.convs {
            h = conv.forward(&h, tape)?.relu();
            if self.pooling == Pooling::MaxEach {
                h = h.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false);
            }
        }
        let mut h = match self.pooling {
            Pooling::GlobalAvg => h.mean_dim(&[2i64, 3][..], false, h.kind()), // (N, C)
            Pooling::MaxEach => h.flatten(1, -1),                              // (N, C·S'·S')
        };
        for (i, layer) in self.head.iter().enumerate() {
            h = layer.forward(&h, tape);
            if i + 1 < self.head.len() {
                h = h.relu();
            }
        }
        Ok(h)
    }
    fn var_store(&self) -> &VarStore {
        &self.vs
    }
}

/// The character GPT of `charlm-*` tasks.
pub struct CharLm {
    lm: Box<dyn LanguageModel>,
}

impl CharLm {
    /// 1 block, d 64, 4 heads, context `block`, explicit attention, tied head.
    pub fn new(vocab: i64, block: i64, device: Device) -> Result<CharLm> {
        let mut cfg = ModelConfig::gpt_tiny();
        cfg.n_layer = 1;
        cfg.block_size = block;
        cfg.attention = nn::Attention::Explicit;
        Ok(CharLm {
            lm: nn::build(&cfg, vocab, device)?,
        })
    }
}

impl Classifier for CharLm {
    fn forward(&self, x: &Tensor, tape: &mut Tape) -> Result<Tensor> {
        let logits = self.lm.forward_tape(&Input::new(x), true, tape)?; // (B, T, V)
        let v = logits.size()[2];
        Ok(logits.reshape([-1, v])) // (B·T, V)
    }
    fn var_store(&self) -> &VarStore {
        self.lm.var_store()
    }
}
