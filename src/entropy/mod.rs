//! Entropy collapse of small language models under stabilised maximum-likelihood training
//! (spec `entropy-probe.md`). Being built in slices (issue 11); the subcommand is not wired yet.
//!
//! Reading order:
//! 1. `ngram.rs`: the exact order-k count model, the closed-form stationary point the theory
//!    (§2) is about and the reference of H7.
//! 2. `metrics/`: model-free metrics on samples (§4.1–§4.5: entropy from logits, n-gram KLs,
//!    diversity, repetition, loops, copying, coverage, self-BLEU, MAUVE-ngram), and
//!    `SampleMetrics`, every sample column at once (`text.rs` re-exports it under its old name).
//! 3. `textfile.rs`: the `text` task as a library (read sample files, analyse against a
//!    reference corpus, one CSV row).
//! 4. `toys.rs`: §2.4 (gradient descent on softmax logits) and §2.5 (forward vs reverse KL).
pub mod metrics;
pub mod ngram;
pub mod text;
pub mod textfile;
pub mod toys;
