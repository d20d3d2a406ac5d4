//! Optimizers for the tch language models (issue 10): one [`Optimizer`] trait, parameter groups
//! built from a `VarStore`, a hand-written [`AdamW`], gradient clipping and learning-rate
//! schedules. Shared by every subcommand that trains a network; imports no paper module.
//!
//! Reading order:
//! 1. [`Optimizer`] (this file): the contract a training loop uses.
//! 2. [`groups`]: which parameter gets which weight decay / lr multiplier / flags.
//! 3. [`config`]: the serde config of AdamW (`deny_unknown_fields`).
//! 4. [`flat`]: the contiguous per-group buffers that parameters and gradients alias, so one
//!    step costs a handful of tensor ops per group instead of a handful per parameter.
//! 5. [`adamw`]: the update rule (decoupled decay, bias correction), clipping inside `step`.
//! 6. [`state`]: the versioned state format (named tensors + JSON header) and its checks.
//! 7. [`schedule`]: learning rate as a pure function of the step.
//! 8. [`ema`]: Polyak (EMA) weight averaging for evaluation.
//! 9. [`capture`] then [`stepper`]: the [`Stepper`] contract of optimizers that run their own
//!    forward/backward passes (curvature, double backprop, sampled labels), and [`FirstOrder`]
//!    for the others; [`Captured`] is what a model's forward hands them per linear layer.
//! 10. [`sgd`]: SGD with momentum (PyTorch semantics), an [`Optimizer`] like AdamW.
//! 11. [`sophia`]: Sophia-G, a [`Stepper`] (it runs its own Hessian-estimate passes).
//! 12. [`curvature`]: damped inverses of Kronecker factors (Newton–Schulz, matrix-differential
//!     damping shifts, factored/exact-eigen damping) for the K-FAC family (grng spec §1.3–§1.5).
//! 13. [`gradreg`]: the gradient-regularized gradient `∇L + ρH∇L` by double backprop (§1.6).
//!
//! Gradient accumulation contract: for `k` micro-batches call `(loss / k).backward()` on each
//! (gradients add up in `.grad()`), then one [`Optimizer::step`] and one
//! [`Optimizer::zero_grad`]. Clipping in `step` then sees the accumulated gradient, as in PyTorch.
pub mod adamw;
pub mod capture;
pub mod config;
pub mod curvature;
pub mod ema;
pub mod flat;
pub mod gradreg;
pub mod groups;
pub mod kfac;
pub mod schedule;
pub mod sgd;
pub mod sophia;
pub mod state;
pub mod stepper;

pub use adamw::AdamW;
pub use capture::Captured;
pub use config::{AdamWConfig, GroupOverride};
pub use groups::{param_groups, GroupFlags, GroupRule, ParamGroup};
pub use schedule::LrSchedule;
pub use sgd::{Sgd, SgdConfig};
pub use sophia::{Sophia, SophiaConfig};
pub use state::{GroupState, StateDict, StateHeader, FORMAT_VERSION};
pub use stepper::{FirstOrder, Objective, StepReport, Stepper};

use anyhow::Result;

/// What one [`Optimizer::step`] reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepInfo {
    /// Global L2 norm of all gradients before clipping (computed when clipping is on, else None).
    pub grad_norm: Option<f64>,
}

/// A first-order (or preconditioned) optimizer over named parameters.
///
/// Gradients are read from each parameter's `.grad()` (filled by `backward`). Learning rates are
/// per group: `set_lr(base)` sets every group to `base × lr_mult`, `set_group_lr` sets one group.
pub trait Optimizer {
    /// Stable name written into the state header (`"adamw"`, ...).
    fn name(&self) -> &'static str;
    /// One update of all parameters from their current gradients (under `no_grad`).
    fn step(&mut self) -> Result<StepInfo>;
    /// Set every gradient to zero (in place; gradients stay allocated).
    fn zero_grad(&mut self);
    /// Number of completed steps.
    fn steps_done(&self) -> u64;
    /// The parameter groups, in order.
    fn groups(&self) -> &[ParamGroup];
    /// Effective learning rate of group `group`.
    fn lr(&self, group: usize) -> f64;
    /// Set every group's learning rate to `base × lr_mult` of that group.
    fn set_lr(&mut self, base: f64);
    /// Set one group's effective learning rate.
    fn set_group_lr(&mut self, group: usize, lr: f64) -> Result<()>;
    /// Snapshot of the state: named tensors (copies) plus a JSON header.
    fn state_dict(&self) -> Result<StateDict>;
    /// Restore a snapshot, matching tensors to parameters by name (see [`state`]).
    fn load_state_dict(&mut self, state: &StateDict) -> Result<()>;
}
