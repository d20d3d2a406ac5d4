//! `lab prefixrl`: RL on hard problems with off-policy prefixes ("Reuse your FLOPs", spec
//! /work/shared/papers/prefixrl.md).
pub mod policy;
