//! Text data for language models: corpora, tokenizers, splits and batches.
//!
//! Reading order: `corpus.rs` (the `CorpusConfig` section and how each kind loads), then the
//! corpora themselves (`kjv.rs`, `fortunes.rs`, `markov.rs`, `grammar.rs`), `tokenizer/`
//! (char, word, bytes, BPE), `split.rs` (train/val(/test) token streams) and `batch.rs`
//! (random training windows, sequential evaluation windows). `command.rs` is `lab corpus`.
//! docs/data.md describes the rules for users. Image sets from user files: `idx.rs` (MNIST),
//! `cifar.rs` (CIFAR-10 binary).
pub mod batch;
pub mod cifar;
pub mod command;
pub mod corpus;
pub mod digits;
pub mod fortunes;
pub mod grammar;
pub mod idx;
pub mod kjv;
pub mod markov;
pub mod shapes;
pub mod split;
pub mod tokenizer;

/// Most characters a generated corpus (`markov`: `train_len + val_len`; `grammar`: `len`) may
/// ask for: 1 GiB of text (8 GiB once tokenized), far beyond any config of this crate; a
/// larger number is a usage error instead of an allocation failure that aborts the process.
pub const MAX_GENERATED_CHARS: usize = 1 << 30;

pub use batch::{random_batch, window_offsets, EvalBatches};
pub use corpus::{Corpus, CorpusConfig, TextStats};
pub use split::{SplitConfig, Splits};
pub use tokenizer::{Tokenizer, TokenizerConfig};
