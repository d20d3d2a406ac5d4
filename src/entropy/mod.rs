//! Entropy collapse of small language models under stabilised maximum-likelihood training
//! (spec `entropy-probe.md`). Being built in slices (issue 11); the subcommand is not wired yet.
//!
//! Reading order:
//! 1. `ngram.rs`: the exact order-k count model, the closed-form stationary point the theory
//!    (§2) is about and the reference of H7.
//! 2. `text.rs`: metrics on samples (diversity, repetition, loops, copying, coverage, §4.2–§4.4).
//! 3. `toys.rs`: §2.4 (gradient descent on softmax logits) and §2.5 (forward vs reverse KL).
//! 4. `verdict.rs`: the hypotheses' verdicts from a sweep's runs (§1, §4.7), `lab report`'s hook.
pub mod ngram;
pub mod text;
pub mod toys;
pub mod verdict;
