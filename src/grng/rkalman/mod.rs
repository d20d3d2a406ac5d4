//! R-Kalman, the Bayesian variant of GRNG (grng spec §2.4, a reconstruction [A]): a Kalman /
//! information filter over the parameters whose precision accumulates the sampled Fisher,
//! with gradient regularization as extra precision ρ‖g‖²·I, and no inversion of a d×d Fisher.
//!
//! Reading order:
//! 1. [`config`]: `RKalmanConfig` (η, ρ, β, σ0², τ, gr_mode, obs, cov, kl_clip, t_stat,
//!    stats_dtype, seed).
//! 2. [`dense`]: the filter math on tensors (predict, implicit GR, Woodbury update, mean step).
//! 3. [`scores`]: per-example score / Jacobian rows from the captured linear layers, and
//!    [`grads`]: ∇L and the double-backprop ∇L_G.
//! 4. [`step`]: the dense [`RKalman`] `Stepper` that puts them together.
//! 5. [`kron`]: the Kronecker form's factor recursion, [`damped`]: its implicit GR as an
//!    operator on the gradient, and [`kron_step`]: its `Stepper` [`RKalmanKron`].
//!    Parameters outside its layers take a [`fallback`] AdamW / SGD (§2.6).
//! 6. [`state`]: save/load of the covariances, the RNG and the step counter, and
//!    [`kron_state`]: the Kronecker form's (layers, fallback).
//!
//! [`build`] picks the form named by `cov`.
pub mod config;
pub mod damped;
pub mod dense;
pub mod fallback;
pub mod grads;
pub mod kron;
pub mod kron_state;
pub mod kron_step;
pub mod scores;
pub mod state;
pub mod step;

pub use config::{CovForm, Fallback, GrMode, ObsMode, RKalmanConfig, StatsDtype};
pub use kron_step::RKalmanKron;
pub use step::{RKalman, MAX_DENSE_PARAMS, NAME};

use crate::optim::Stepper;
use anyhow::Result;
use tch::nn::VarStore;

/// R-Kalman over the trainable variables of `vs`, in the form `cfg.cov` names.
pub fn build(vs: &VarStore, cfg: &RKalmanConfig) -> Result<Box<dyn Stepper>> {
    Ok(match cfg.cov {
        CovForm::Dense => Box::new(RKalman::new(vs, cfg)?),
        CovForm::Kron => Box::new(RKalmanKron::new(vs, cfg)?),
    })
}
