//! Causal multi-head self-attention with a fused QKV projection. Masks are additive biases
//! (0 where a query may look, −∞ where not), shared by both paths:
//! * fused: one `scaled_dot_product_attention` call (`is_causal` when nothing is padded);
//! * explicit: `softmax(q kᵀ/√d + bias) v`, built from ops that all have double backward.
use super::layers::{dropout, Linear};
use super::model::Tape;
use super::rotary::rotate;
use tch::nn::Path;
use tch::{Kind, Tensor};

/// Rotary cos and sin for the current positions, `(B or 1, 1, T, hd/2)` each.
pub type Rope = (Tensor, Tensor);

/// What a query may attend to in a full (non-incremental) pass.
pub enum Mask {
    /// Plain causal, nothing padded: the bias is `causal` `(T, T)`, only read by the
    /// explicit path (the fused one passes `is_causal`).
    Causal(Tensor),
    /// Causal and no pad keys: `(B, 1, T, T)`.
    Bias(Tensor),
}

/// `(T, T)` bias of a causal mask: 0 on and below the diagonal, −∞ above.
pub fn causal_bias(t: i64, kind: Kind, device: tch::Device) -> Tensor {
    Tensor::full([t, t], f64::NEG_INFINITY, (kind, device)).triu(1)
}

/// `(B, 1, T, T)`: causal, keys must be real; each query may always see itself, so a pad
/// query's row is never all −∞ (its output is junk but finite, and no real query reads it).
pub fn padded_bias(pad_mask: &Tensor, kind: Kind) -> Tensor {
    let t = pad_mask.size()[1];
    let device = pad_mask.device();
    let eye = Tensor::eye(t, (Kind::Bool, device));
    let causal = Tensor::ones([t, t], (Kind::Bool, device)).tril(0);
    let keys = pad_mask.unsqueeze(1).unsqueeze(1); // (B, 1, 1, T)
    let allowed = keys.logical_or(&eye).logical_and(&causal); // (B, 1, T, T)
    key_bias(&allowed, kind)
}

/// 0 where `allowed`, −∞ elsewhere.
pub fn key_bias(allowed: &Tensor, kind: Kind) -> Tensor {
    Tensor::zeros(allowed.size(), (kind, allowed.device()))
        .masked_fill(&allowed.logical_not(), f64::NEG_INFINITY)
}

#[derive(Debug)]
pub struct SelfAttention {
    pub qkv: Linear,
    pub proj: Linear,
    n_head: i64,
    explicit: bool,
    dropout: f64,
}

impl SelfAttention {
    pub fn new(p: &Path, d: i64, n_head: i64, cfg: &super::ModelConfig) -> Self {
        let std = cfg.init_std;
        let resid_std = std / (2.0 * cfg.n_layer as f64).sqrt();
        SelfAttention {
            qkv: Linear::new(&(p / "qkv"), d, 3 * d, cfg.linear_bias, std),
            proj: Linear::new(&(p / "proj"), d, d, cfg.linear_bias, resid_std),
            n_head,
            explicit: cfg.attention == super::Attention::Explicit,
            dropout: cfg.dropout,
        }
    }

    /// `(B, T, C)` → q, k, v each `(B, H, T, C/H)`; q and k rotated when `rope` (cos, sin)
    /// is given.
    fn qkv(&self, x: &Tensor, rope: Option<&Rope>, tape: &mut Tape) -> (Tensor, Tensor, Tensor) {
        let (b, t, c) = x.size3().expect("(B, T, C)");
        let qkv = self.qkv.forward(x, tape); // (B, T, 3C)
        let qkv = qkv
            .view([b, t, 3, self.n_head, c / self.n_head])
            .permute([2, 0, 3, 1, 4]); // (3, B, H, T, C/H)
        let parts = qkv.unbind(0);
        let [q, k, v]: [Tensor; 3] = parts.try_into().expect("three parts");
        match rope {
            Some((cos, sin)) => (rotate(&q, cos, sin), rotate(&k, cos, sin), v),
            None => (q, k, v),
        }
    }

    /// `(B, H, T, C/H)` → `(B, T, C)` → output projection.
    fn merge(&self, y: Tensor, train: bool, tape: &mut Tape) -> Tensor {
        let (b, _, t, _) = y.size4().expect("(B, H, T, hd)");
        let y = y.transpose(1, 2).reshape([b, t, -1]); // (B, T, C)
        dropout(self.proj.forward(&y, tape), self.dropout, train)
    }

    /// Full pass over `x` `(B, T, C)`; also returns k, v `(B, H, T, C/H)` for a KV cache.
    pub fn forward(
        &self,
        x: &Tensor,
        mask: &Mask,
        rope: Option<&Rope>,
        train: bool,
        tape: &mut Tape,
    ) -> (Tensor, Tensor, Tensor) {
        let (q, k, v) = self.qkv(x, rope, tape);
        tape.note_attention(&q, k.size()[2]);
        let p = if train { self.dropout } else { 0.0 };
        let y = match (mask, self.explicit) {
            (Mask::Causal(_), false) => Tensor::scaled_dot_product_attention(
                &q,
                &k,
                &v,
                None::<Tensor>,
                p,
                true,
                None,
                false,
            ),
            (Mask::Causal(bias), true) | (Mask::Bias(bias), true) => explicit(&q, &k, &v, bias, p),
            (Mask::Bias(bias), false) => {
                Tensor::scaled_dot_product_attention(&q, &k, &v, Some(bias), p, false, None, false)
            }
        };
        (self.merge(y, train, tape), k, v)
    }

    /// One new token per row: `x` `(B, 1, C)`; `keys`/`values` `(B, H, capacity, C/H)` get
    /// slot `len` written; `bias` `(B, 1, 1, len + 1)` covers the keys up to and including it.
    pub fn step(
        &self,
        x: &Tensor,
        keys: &mut Tensor,
        values: &mut Tensor,
        len: i64,
        bias: &Tensor,
        rope: Option<&Rope>,
    ) -> Tensor {
        let mut tape = Tape::off();
        let (q, k, v) = self.qkv(x, rope, &mut tape); // (B, H, 1, hd)
        keys.narrow(2, len, 1).copy_(&k);
        values.narrow(2, len, 1).copy_(&v);
        let k = keys.narrow(2, 0, len + 1);
        let v = values.narrow(2, 0, len + 1);
        let y = if self.explicit {
            explicit(&q, &k, &v, bias, 0.0)
        } else {
            Tensor::scaled_dot_product_attention(&q, &k, &v, Some(bias), 0.0, false, None, false)
        };
        self.merge(y, false, &mut tape)
    }
}

/// `softmax(q kᵀ / √d + bias) v` with attention dropout `p`.
fn explicit(q: &Tensor, k: &Tensor, v: &Tensor, bias: &Tensor, p: f64) -> Tensor {
    let hd = *q.size().last().expect("head dim");
    let att = q.matmul(&k.transpose(-2, -1)) * (1.0 / (hd as f64).sqrt()) + bias; // (B, H, Tq, Tk)
    let att = att.softmax(-1, q.kind());
    let att = if p > 0.0 { att.dropout(p, true) } else { att };
    att.matmul(v) // (B, H, Tq, hd)
}
