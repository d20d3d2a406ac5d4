//! Adam on a flat parameter vector (spec §1.12: bias-corrected, eps 1e-5 as in CleanRL),
//! plus global gradient-norm clipping.
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Adam {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub step: u64,
    pub m: Vec<f64>,
    pub v: Vec<f64>,
}

impl Adam {
    pub fn new(n: usize, lr: f64) -> Self {
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-5,
            step: 0,
            m: vec![0.0; n],
            v: vec![0.0; n],
        }
    }

    /// The parameter change for a loss gradient `grad` (descent).
    pub fn delta(&mut self, grad: &[f64]) -> Vec<f64> {
        self.step += 1;
        let bc1 = 1.0 - self.beta1.powi(self.step as i32);
        let bc2 = 1.0 - self.beta2.powi(self.step as i32);
        let mut out = vec![0.0; grad.len()];
        for i in 0..grad.len() {
            self.m[i] = self.beta1 * self.m[i] + (1.0 - self.beta1) * grad[i];
            self.v[i] = self.beta2 * self.v[i] + (1.0 - self.beta2) * grad[i] * grad[i];
            let m_hat = self.m[i] / bc1;
            let v_hat = self.v[i] / bc2;
            out[i] = -self.lr * m_hat / (v_hat.sqrt() + self.eps);
        }
        out
    }
}

/// Scale `grad` so its norm is at most `max_norm` (as `clip_grad_norm_`).
pub fn clip_grad_norm(grad: &mut [f64], max_norm: f64) {
    let norm = grad.iter().map(|g| g * g).sum::<f64>().sqrt();
    if norm > max_norm {
        let s = max_norm / (norm + 1e-6);
        grad.iter_mut().for_each(|g| *g *= s);
    }
}

/// RMSprop as in PyTorch (spec §1.12: decay 0.99, eps 1e-5 added outside the square root).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RmsProp {
    pub lr: f64,
    pub decay: f64,
    pub eps: f64,
    pub sq: Vec<f64>,
}

impl RmsProp {
    pub fn new(n: usize, lr: f64, decay: f64, eps: f64) -> Self {
        RmsProp {
            lr,
            decay,
            eps,
            sq: vec![0.0; n],
        }
    }

    /// The parameter change for a loss gradient `grad` (descent).
    pub fn delta(&mut self, grad: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; grad.len()];
        for i in 0..grad.len() {
            self.sq[i] = self.decay * self.sq[i] + (1.0 - self.decay) * grad[i] * grad[i];
            out[i] = -self.lr * grad[i] / (self.sq[i].sqrt() + self.eps);
        }
        out
    }
}
