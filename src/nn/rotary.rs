//! Rotary position embeddings (the `llama` variant): each pair `(x_i, x_{i+hd/2})` of a query
//! or key head is rotated by the angle `pos · 10000^(−2i/hd)`, so attention scores depend on
//! relative positions. Position ids come from the same place as a GPT's learned positions
//! (counted over real tokens), so left padding and the KV cache work unchanged.
use tch::{Device, Kind, Tensor};

/// cos and sin of every position's angles, `(block, hd/2)` each.
#[derive(Debug)]
pub struct Rotary {
    cos: Tensor,
    sin: Tensor,
}

impl Rotary {
    pub fn new(block: i64, head_dim: i64, kind: Kind, device: Device) -> Self {
        let half = head_dim / 2;
        let i = Tensor::arange(half, (Kind::Double, device));
        let inv_freq = (i * (-2.0 * 10000f64.ln() / head_dim as f64)).exp(); // (hd/2)
        let pos = Tensor::arange(block, (Kind::Double, device));
        let angles = pos.outer(&inv_freq); // (block, hd/2)
        Rotary {
            cos: angles.cos().to_kind(kind),
            sin: angles.sin().to_kind(kind),
        }
    }

    /// cos and sin for position ids `(B or 1, T)`, shaped `(B or 1, 1, T, hd/2)` to broadcast
    /// over heads.
    pub fn at(&self, pos: &Tensor) -> (Tensor, Tensor) {
        let pick = |table: &Tensor| Tensor::embedding(table, pos, -1, false, false).unsqueeze(1);
        (pick(&self.cos), pick(&self.sin))
    }
}

/// Rotate `x` `(B, H, T, hd)` by the angles whose `cos`/`sin` are `(B or 1, 1, T, hd/2)`.
pub fn rotate(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Tensor {
    let half = x.size()[3] / 2;
    let (x1, x2) = (x.narrow(3, 0, half), x.narrow(3, half, half));
    Tensor::cat(&[&x1 * cos - &x2 * sin, &x2 * cos + &x1 * sin], 3)
}
