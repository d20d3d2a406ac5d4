//! Gradient Regularized Natural Gradients (grng spec, /work/shared/papers/grng.md).
pub mod rkalman;
