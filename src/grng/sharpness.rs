//! `sharpness_top_eig` of epochs.csv (spec §6.3, optional: `train.sharpness_top_eig`): the
//! largest eigenvalue of the Hessian of the mean cross-entropy on the probe set, by power
//! iteration on Hessian-vector products (double backward, §1.6). The start vector is a fixed
//! N(0, I) draw (ChaCha8, seed 0), so the value never depends on, or moves, the run's RNGs.
//! The result is the Rayleigh quotient vᵀHv of the last iterate: for a positive semi-definite
//! Hessian it approaches λ_max from below; where H has a larger negative eigenvalue in modulus,
//! power iteration finds that one (the value is then negative).
use super::diag;
use super::models::Classifier;
use crate::nn::Tape;
use crate::optim::stepper::mean_ce;
use anyhow::Result;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use tch::{Kind, Tensor};

/// Power iterations of the epochs.csv column (spec §6.3).
pub const ITERS: usize = 20;

/// Σ_i ⟨a_i, b_i⟩ over matching parameter tensors, f64.
fn dot(a: &[Tensor], b: &[Tensor]) -> Tensor {
    let parts: Vec<Tensor> = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x * y).sum(Kind::Double))
        .collect();
    Tensor::stack(&parts, 0).sum(Kind::Double)
}

/// The top Hessian eigenvalue estimate after `iters` power iterations on `(x, y)`; None when
/// the model has no parameters or a product is not finite.
pub fn top_eig(
    model: &dyn Classifier,
    x: &Tensor,
    y: &Tensor,
    iters: usize,
) -> Result<Option<f64>> {
    let params = diag::params(model);
    if params.is_empty() {
        return Ok(None);
    }
    let logits = model.forward(x, &mut Tape::off())?;
    let loss = mean_ce(&logits, y);
    let grads = Tensor::run_backward(&[loss], &params, true, true);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut v: Vec<Tensor> = params
        .iter()
        .map(|p| {
            let n = p.numel();
            let draw: Vec<f64> = (0..n).map(|_| StandardNormal.sample(&mut rng)).collect();
            Tensor::from_slice(&draw)
                .view(p.size().as_slice())
                .to_kind(p.kind())
                .to_device(p.device())
        })
        .collect();
    let mut lambda = None;
    for _ in 0..iters {
        let norm = dot(&v, &v).sqrt();
        v = v.iter().map(|t| t / &norm.to_kind(t.kind())).collect();
        // H v = ∇⟨∇L, v⟩ with v held constant (double backward).
        let gv = dot(&grads, &v);
        let hv = Tensor::run_backward(&[gv], &params, true, false);
        let rayleigh = dot(&v, &hv).double_value(&[]);
        if !rayleigh.is_finite() {
            return Ok(None);
        }
        lambda = Some(rayleigh);
        v = hv.iter().map(|t| t.detach()).collect();
        if dot(&v, &v).double_value(&[]) == 0.0 {
            break; // H v = 0: v lies in the null space; the Rayleigh quotient is exact (0)
        }
    }
    Ok(lambda)
}
