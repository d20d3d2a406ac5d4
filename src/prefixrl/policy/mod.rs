//! The policy at the level of token ids, with no task knowledge: sampling completions after a
//! context (prompt ⊕ prefix), the training tensors of (context, completion) rows, per-token
//! log-probabilities, next-token (SFT / pretraining) steps and policy-gradient steps.
//!
//! Reading order:
//! 1. `rollout.rs`: [`Context`], [`SampleOptions`], [`sample`] → [`Rollouts`] (rows grouped by
//!    context, `n` each). The context is the generation prompt; it is never resampled (§2.4).
//! 2. `batch.rs`: [`train_batch`] → [`TrainBatch`], left-padded `(R, T)` inputs/targets and the
//!    `completion_mask` that is 1 exactly where the TARGET is a completion token (§7.10 item 5).
//! 3. `logprob.rs`: [`token_logprobs`] → [`TokenStats`] (log-probs of the targets, entropies,
//!    logits) from one forward pass; exact KL to a reference; log-probs of given completions.
//! 4. `sft.rs`: [`SftTrainer`], masked next-token cross-entropy (pretraining §7.4, SFT §3 row 3).
//! 5. `pg.rs`: [`pg_loss`] / [`pg_step`], the masked policy-gradient loss of §2.4 with a hook
//!    for per-token weights (IS, LUFFY shaping) and one clipped AdamW step.
//!
//! Conventions: a context always holds at least one token (`<bos>`); completions include
//! `<eos>` when it was emitted; masks are f32 `(R, T)`, pad masks bool (true on real tokens).
pub mod batch;
pub mod logprob;
pub mod pg;
pub mod rollout;
pub mod sft;

pub use batch::{train_batch, TrainBatch};
pub use logprob::{
    exact_kl_to, model_logprobs_of_completions, stats_from_logits, token_logprobs, TokenStats,
};
pub use pg::{pg_loss, pg_step, pg_token_loss, policy_optimizer, PgReport, Surrogate};
pub use rollout::{sample, Context, Rollouts, SampleOptions};
pub use sft::{sft_loss, SftConfig, SftReport, SftTrainer};
