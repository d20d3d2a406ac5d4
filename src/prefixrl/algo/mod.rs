//! The pure algorithms of PrefixRL and its baselines (spec §2.8, §3, §5): no model, no I/O.
//! Per-sequence quantities are plain `f64`s; per-token ones are `(B, T)` tensors.
//!
//! Reading order:
//! 1. [`advantage`]: group advantages (GRPO, Dr.GRPO mean, RLOO, batch-std) and the
//!    signal diagnostics of §5.2 (all-zero / all-one / non-zero-advantage groups).
//! 2. [`surrogate`]: per-token policy-gradient terms: the PPO clipped surrogate with dual clip,
//!    importance weights for off-policy tokens, and LUFFY's policy shaping (§3 rows 4–5).
//! 3. [`aggregate`]: per-token losses to one scalar (token / seq / const / global, §2.8),
//!    built on [`crate::nn::loss::aggregate_weighted`].
//! 4. [`kl`]: Schulman's k1/k2/k3 estimators and the exact per-position KL from logits.
//! 5. [`flops`]: the FLOPs axis of §5.1 (sampling and training cost of a sequence).
//! 6. [`passk`]: the unbiased pass@k estimator (§5.2).
//! 7. [`speedup`]: the "k× faster" and final-reward-ratio metrics (§5.2) on eval curves.
pub mod advantage;
pub mod aggregate;
pub mod flops;
pub mod kl;
pub mod passk;
pub mod speedup;
pub mod surrogate;

pub use advantage::{advantages, group_stats, AdvantageKind, GroupStats};
pub use aggregate::{aggregate, Agg};
pub use flops::FlopsModel;
pub use kl::{exact_kl, kl_k1, kl_k2, kl_k3};
pub use passk::pass_at_k;
pub use speedup::{ema, final_mean, final_ratio, flops_to_target, speedup};
pub use surrogate::{is_weights, luffy_shape, ppo_clip, IsClip, IsLevel};
