//! Small MLP actors and critics on tch in f64 (spec §1.7, §1.12): parameters are plain leaf
//! tensors in a fixed order (layer by layer: weight row-major, bias; then log-std), so the
//! algorithms see one flat `Vec<f64>` for θ, g, u, d and Δθ.
pub mod actor;
pub mod mlp;
pub mod optim;
pub mod params;

pub use actor::{Actor, DistKind};
pub use mlp::{Critic, Mlp};
pub use optim::{Adam, RmsProp};
pub use params::Params;
