//! `lab prefixrl`: PrefixRL (spec /work/shared/papers/prefixrl.md) at toy scale.
pub mod jsonl;
pub mod task;
