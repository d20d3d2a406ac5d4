//! `lab prefixrl` (issue 12): PrefixRL, RL on hard problems conditioned on prefixes of off-policy
//! traces (spec prefixrl.md).
pub mod algo;
pub mod jsonl;
pub mod task;
pub mod toy;
