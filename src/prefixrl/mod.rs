//! `lab prefixrl`: RL on self-generated prefixes of off-policy traces ("Reuse your FLOPs"),
//! spec /work/shared/papers/prefixrl.md.
pub mod algo;
