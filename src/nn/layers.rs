//! Building blocks that own VarStore parameters: `Linear` (records its input and pre-activation
//! on a [`Tape`] when capture is on), `Norm` (LayerNorm or RMSNorm) and `Embedding`.
use super::model::{Captured, Tape};
use tch::nn::{Init, Path};
use tch::Tensor;

/// `y = x Wᵀ + b` with `W` `(d_out, d_in)`, named `<path>.weight` / `<path>.bias`.
#[derive(Debug)]
pub struct Linear {
    /// The VarStore path of the layer, e.g. `h.0.attn.qkv`.
    pub layer: String,
    pub weight_name: String,
    pub weight: Tensor,
    pub bias: Option<Tensor>,
}

impl Linear {
    pub fn new(p: &Path, d_in: i64, d_out: i64, bias: bool, std: f64) -> Self {
        let weight = p.var("weight", &[d_out, d_in], normal(std));
        let bias = bias.then(|| p.var("bias", &[d_out], Init::Const(0.0)));
        let weight_name = p.path("weight");
        Linear {
            layer: weight_name.trim_end_matches(".weight").to_string(),
            weight_name,
            weight,
            bias,
        }
    }

    /// A head `layer` that reuses another layer's matrix `weight_name` (a tied embedding),
    /// with no bias.
    pub fn tied(layer: &str, weight_name: &str, weight: &Tensor) -> Self {
        Linear {
            layer: layer.to_string(),
            weight_name: weight_name.to_string(),
            weight: weight.shallow_clone(),
            bias: None,
        }
    }

    pub fn forward(&self, x: &Tensor, tape: &mut Tape) -> Tensor {
        let y = x.linear(&self.weight, self.bias.as_ref());
        if tape.is_on() {
            tape.record(Captured {
                layer: self.layer.clone(),
                weight: self.weight_name.clone(),
                bias: self.bias.as_ref().map(|_| format!("{}.bias", self.layer)),
                input: x.shallow_clone(),
                output: y.shallow_clone(),
            });
        }
        y
    }
}

/// LayerNorm over the last axis (weight 1, optional bias 0), or RMSNorm (weight only):
/// `x / √(mean(x²) + eps) · w`; eps 1e-5.
#[derive(Debug)]
pub struct Norm {
    pub weight: Tensor,
    pub bias: Option<Tensor>,
    rms: bool,
    dim: i64,
}

impl Norm {
    pub fn layer(p: &Path, dim: i64, bias: bool) -> Self {
        Norm {
            weight: p.var("weight", &[dim], Init::Const(1.0)),
            bias: bias.then(|| p.var("bias", &[dim], Init::Const(0.0))),
            rms: false,
            dim,
        }
    }

    pub fn rms(p: &Path, dim: i64) -> Self {
        Norm {
            rms: true,
            ..Norm::layer(p, dim, false)
        }
    }

    pub fn forward(&self, x: &Tensor) -> Tensor {
        if self.rms {
            let ms = x.square().mean_dim(-1, true, x.kind()); // (..., 1)
            x * (ms + 1e-5).rsqrt() * &self.weight
        } else {
            x.layer_norm(
                [self.dim],
                Some(&self.weight),
                self.bias.as_ref(),
                1e-5,
                true,
            )
        }
    }
}

/// A lookup table `(n, d)` named `<path>.weight`.
#[derive(Debug)]
pub struct Embedding {
    pub weight: Tensor,
}

impl Embedding {
    pub fn new(p: &Path, n: i64, d: i64, std: f64) -> Self {
        Embedding {
            weight: p.var("weight", &[n, d], normal(std)),
        }
    }

    /// Rows of the table for ids of any shape: `(...)` → `(..., d)`.
    pub fn forward(&self, ids: &Tensor) -> Tensor {
        Tensor::embedding(&self.weight, ids, -1, false, false)
    }
}

pub fn normal(std: f64) -> Init {
    Init::Randn {
        mean: 0.0,
        stdev: std,
    }
}

/// Dropout that adds no op when it is off.
pub fn dropout(x: Tensor, p: f64, train: bool) -> Tensor {
    if train && p > 0.0 {
        x.dropout(p, true)
    } else {
        x
    }
}
