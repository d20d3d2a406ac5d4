//! `lab prefixrl`: RL on self-generated prefixes of off-policy traces ("Reuse your FLOPs"),
//! spec /work/shared/papers/prefixrl.md.
pub mod algo;
//! `lab prefixrl`: PrefixRL (spec /work/shared/papers/prefixrl.md) at toy scale.
pub mod jsonl;
pub mod task;
