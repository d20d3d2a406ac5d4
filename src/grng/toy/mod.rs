//! The `twolayer-toy` theory check (spec §4, §6.2, §6.10), in f64 with ndarray/LAPACK.
//!
//! An over-parameterized two-layer ReLU net f(x) = M^{-1/2} Σ_r a_r relu(w_r·x) (only W
//! trained) fits n random targets under L = ½‖u − y‖² with the exact Jacobian J (n × M·d).
//! In this regime NGD, RING and RENG reduce to spectral filters of J Jᵀ, so their linearized
//! per-eigen-component contractions can be checked against the measured residuals.
//!
//! Reading order:
//! 1. [`config`]: [`ToyConfig`] and [`ToyMethod`] (gd, ngd, ring, reng).
//! 2. [`data`]: inputs on the unit sphere, N(0,1) targets.
//! 3. [`network`]: the network, its outputs and exact Jacobian.
//! 4. [`methods`]: the eigen-decomposition of J Jᵀ and each method's filter φ(σ), damping
//!    λ_k and predicted contraction c_i = 1 − η σ_i φ(σ_i).
//! 5. [`run`]: [`run_toy`], the per-step [`ToyStep`] rows and the [`ToyRun`] summary.
//! 6. [`task`]: `lab grng task: twolayer-toy` — one run written as toy.csv, metrics.csv and
//!    summary.json.
pub mod config;
pub mod data;
pub mod methods;
pub mod network;
pub mod run;
pub mod task;

pub use config::{ToyConfig, ToyMethod};
pub use run::{run_toy, ToyRun, ToyStep};
