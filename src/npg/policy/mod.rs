//! npg-rank1's networks and their optimisers: small MLP actors and critics in f64 (spec §1.7,
//! §1.12) on two backends, tch (parameters are leaf tensors in a fixed order: layer by layer
//! weight row-major, bias; then log-std) and native (a hand-written MLP on one flat `Vec<f64>`
//! in the same order), plus Adam and RMSprop on flat vectors. The algorithms see one flat
//! vector for θ, g, u, d and Δθ either way.
pub mod actor;
pub mod dist;
pub mod flat_mlp;
pub mod mlp;
pub mod native;
pub mod optim;
pub mod params;

pub use actor::{Actor, DistKind};
pub use flat_mlp::FlatMlp;
pub use mlp::{Critic, Mlp};
pub use native::{NativeActor, NativeCritic, Samples};
pub use optim::{Adam, RmsProp};
pub use params::Params;
