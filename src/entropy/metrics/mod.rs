//! Model-free metrics on samples (spec §4.1–§4.5), pure Rust over token ids (`u32`). A sample is
//! the continuation only. Functions return `None` where the spec asks for an empty CSV cell (an
//! empty denominator), never NaN or 0.
//!
//! Reading order: `tokens.rs` (distinct-n, seq-rep, loops, longest repeat), `dist.rs` (entropy
//! from logits, the smoothed unigram/bigram comparisons), `rep.rs` (teacher-forced rep/wrep),
//! `index.rs` (copy rate and coverage against the training split), `bleu.rs` (self-BLEU-4),
//! `mauve.rs` (MAUVE-ngram), `words.rs` (word-level columns), and `bundle.rs`, which computes
//! every sample column at once for `metrics.csv` and the `text` task.

pub mod bleu;
pub mod bundle;
pub mod dist;
pub mod index;
pub mod mauve;
pub mod rep;
pub mod tokens;
pub mod words;

pub use bleu::self_bleu4;
pub use bundle::{ref_nll, sample_metrics, MetricOptions, SampleMetrics};
pub use dist::{dist_stats, entropy_of_logits, js, smoothed, DistStats, BIGRAM_MAX_VOCAB};
pub use index::{copy_rate, coverage, TrainIndex};
pub use mauve::{mauve_from_histograms, mauve_ngram};
pub use rep::{hits_at_1, rep_metrics, RepTally};
pub use tokens::{
    distinct_n, longest_repeat, loops, mean_longest_repeat, seq_rep_n, terminal_loop, top_share,
};
pub use words::{word_ids, word_metrics, zipf_w, WordMetrics};

/// `H(p) = −Σ p ln p` in nats.
pub(crate) use crate::entropy::toys::entropy;

/// Fixed (unseeded) FxHash maps for the n-gram tables, the crate the n-gram model uses too: the
/// keys are token ids from our own samples, so hash flooding is not a concern and SipHash's cost is.
pub(crate) use rustc_hash::{FxHashMap as FxMap, FxHashSet as FxSet};

pub(crate) fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}
