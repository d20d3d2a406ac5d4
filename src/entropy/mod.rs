//! Entropy collapse of small language models under stabilised maximum-likelihood training
//! (spec `entropy-probe.md`). Being built in slices (issue 11); the subcommand is not wired yet.
//!
//! Reading order:
//! 1. `ngram.rs`: the exact order-k count model, the closed-form stationary point the theory
//!    (§2) is about and the reference of H7.
//! 2. `text.rs`: metrics on samples (diversity, repetition, loops, copying, coverage, §4.2–§4.4).
//! 3. `toys.rs`: §2.4 (gradient descent on softmax logits) and §2.5 (forward vs reverse KL).
//! 4. `controller/`: the generation-statistics feedback controller of §3.5 (filter, drift,
//!    PI law with anti-windup, actuators) and its config.
//! 5. `theory.rs`: the §2.6 tables per corpus with H7's pass/fail, and the §2.4/§2.5 toy
//!    tables (`theory.csv`, `theory.md`).
pub mod controller;
pub mod ngram;
pub mod text;
pub mod theory;
pub mod toys;
