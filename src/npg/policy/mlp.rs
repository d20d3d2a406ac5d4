//! tanh MLP with orthogonal init (spec §1.7: hidden gain √2, head gain given, biases 0) and
//! the value critic built on it.
use super::params::Params;
use tch::nn::{f_init, Init};
use tch::{Device, Kind, Tensor};

/// Layer widths `[in, hidden..., out]`; parameters live in a [`Params`] list.
#[derive(Clone, Debug)]
pub struct Mlp {
    pub sizes: Vec<i64>,
}

impl Mlp {
    pub fn new(input: usize, hidden: &[usize], output: usize) -> Self {
        let mut sizes = vec![input as i64];
        sizes.extend(hidden.iter().map(|&h| h as i64));
        sizes.push(output as i64);
        Mlp { sizes }
    }

    /// Orthogonally initialised weights and zero biases, in parameter order.
    pub fn init(&self, head_gain: f64, device: Device) -> Vec<Tensor> {
        let layers = self.sizes.len() - 1;
        let mut out = Vec::with_capacity(2 * layers);
        for l in 0..layers {
            let gain = if l + 1 == layers {
                head_gain
            } else {
                2f64.sqrt()
            };
            let dims = [self.sizes[l + 1], self.sizes[l]];
            let w = f_init(Init::Orthogonal { gain }, &dims, device, Kind::Double)
                .expect("orthogonal init");
            out.push(w);
            out.push(Tensor::zeros([self.sizes[l + 1]], (Kind::Double, device)));
        }
        out
    }

    pub fn num_tensors(&self) -> usize {
        2 * (self.sizes.len() - 1)
    }

    /// Forward pass with the given `[w0, b0, w1, b1, ...]`.
    pub fn forward(&self, params: &[Tensor], x: &Tensor) -> Tensor {
        let layers = self.sizes.len() - 1;
        let mut h = x.shallow_clone();
        for l in 0..layers {
            h = h.linear(&params[2 * l], Some(&params[2 * l + 1]));
            if l + 1 < layers {
                h = h.tanh();
            }
        }
        h
    }
}

/// `V_φ(s)`: MLP with value head gain 1 (spec §1.7).
pub struct Critic {
    pub mlp: Mlp,
    pub params: Params,
}

impl Critic {
    pub fn new(obs_dim: usize, hidden: &[usize], device: Device) -> Self {
        let mlp = Mlp::new(obs_dim, hidden, 1);
        let params = Params::new(mlp.init(1.0, device));
        Critic { mlp, params }
    }

    /// Values of a `[B, obs_dim]` batch as a `[B]` tensor.
    pub fn values(&self, obs: &Tensor) -> Tensor {
        self.mlp.forward(&self.params.tensors, obs).squeeze_dim(-1)
    }
}
