//! GRNG (gradient-regularized natural gradients, spec /work/shared/papers/grng.md).
pub mod toy;
