//! Typed config of `lab entropy-probe` (defaults in configs/entropy-probe/default.yaml, spec
//! §7.2). Every assumption of the spec is a key here with the spec's reading as its default.
use super::controller::ControllerConfig;
pub use super::probe::CheckpointSection;
use crate::data::{CorpusConfig, SplitConfig, TokenizerConfig};
use crate::nn::{ModelConfig, ModelKind};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct EntropyConfig {
    /// What to do: `train` one run, `probe` a saved checkpoint, score a `text` file of samples,
    /// or compute the `theory` tables (§7.1). Sweeps are `study:` configs over `train`.
    pub task: Task,
    pub seed: u64,
    /// libtorch intra-op threads for this run (null = `--threads`). Models this small run
    /// fastest on one thread, and a second one spins against other processes (studies with
    /// `--jobs`, a busy machine).
    pub torch_threads: Option<usize>,
    pub data: DataSection,
    /// Any `nn` model config: `preset` (gpt-nano, gpt-tiny, gpt-small, gru, lstm, bigram) and
    /// overrides of its keys [A3].
    pub model: ModelConfig,
    pub train: TrainSection,
    /// The stabilisation preset of §3.4 [A5]; `overrides` changes single keys of it.
    pub condition: Condition,
    pub overrides: Overrides,
    /// The generation-statistics controller of §3.5 [A6]; on in the `feedback*` conditions.
    pub controller: ControllerConfig,
    pub eval: EvalSection,
    pub theory: TheorySection,
    pub text: TextSection,
    pub checkpoint: CheckpointSection,
    /// The early-warning `alert` column (§7.5 item 3; `alert.rs`).
    #[serde(default)]
    pub alert: super::alert::AlertSection,
}

#[derive(Deserialize, Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    Train,
    Probe,
    Text,
    Theory,
}

/// Corpus, split and tokenizer [A2].
#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    pub corpus: CorpusConfig,
    /// `train_tokens` is the spec's `train_chars` (0 or absent = the whole training split).
    pub split: SplitConfig,
    pub tokenizer: TokenizerConfig,
}

/// Base MLE training [A4].
#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct TrainSection {
    pub steps: u64,
    pub batch: usize,
    pub seq_len: usize,
    /// None: 1e-3 for gpt, 2e-3 for gru/lstm, 1e-2 for bigram (§3.3).
    pub lr: Option<f64>,
    pub betas: [f64; 2],
    pub eps: f64,
    /// Decoupled weight decay on matrices (0 on embeddings, norms and biases).
    pub weight_decay: f64,
    /// Linear warm-up steps; the controller stays inactive during them.
    pub warmup: u64,
}

impl TrainSection {
    pub fn lr_for(&self, kind: ModelKind) -> f64 {
        self.lr.unwrap_or(match kind {
            ModelKind::Gpt => 1e-3,
            ModelKind::Gru | ModelKind::Lstm => 2e-3,
            ModelKind::Bigram => 1e-2,
        })
    }
}

#[derive(Deserialize, Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    Plain,
    Noisy,
    Conventional,
    Feedback,
    FeedbackHold,
}

impl Condition {
    pub fn name(self) -> &'static str {
        match self {
            Condition::Plain => "plain",
            Condition::Noisy => "noisy",
            Condition::Conventional => "conventional",
            Condition::Feedback => "feedback",
            Condition::FeedbackHold => "feedback_hold",
        }
    }
}

#[derive(Deserialize, Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// Constant after warm-up.
    Constant,
    /// Cosine decay after warm-up to `min_lr_frac` × lr at the last step.
    Cosine,
}

#[derive(Deserialize, Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum EvalWeights {
    Live,
    Ema,
}

/// Single keys of the condition preset; null keeps the preset's value.
#[derive(Deserialize, Serialize, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    pub lr_mult: Option<f64>,
    pub batch: Option<usize>,
    pub schedule: Option<Schedule>,
    pub min_lr_frac: Option<f64>,
    /// Global gradient-norm clip; 0 = off.
    pub grad_clip: Option<f64>,
    /// Polyak weight-EMA decay; 0 = off.
    pub weight_ema: Option<f64>,
    pub eval_weights: Option<EvalWeights>,
    pub controller: Option<bool>,
}

/// When to compute self-BLEU.
#[derive(Deserialize, Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum When {
    Off,
    Final,
    Every,
}

/// The evaluation protocol of §3.6 [A7].
#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct EvalSection {
    pub every: u64,
    /// Prompts (from val) sampled at T = 1 per evaluation.
    pub samples: usize,
    /// Of those prompts, how many are also decoded greedily.
    pub greedy_samples: usize,
    pub prompt_len: usize,
    pub sample_len: usize,
    /// Samples and length at the final evaluation.
    pub final_samples: usize,
    pub final_len: usize,
    /// Seed of the prompt offsets: fixed per data config, so every run of a sweep sees the same
    /// prompts (§3.6).
    pub prompt_seed: u64,
    /// Val positions scored teacher-forced (0 = all).
    pub val_tokens: usize,
    /// Training positions of the fixed training probe (`train_fit_loss`, `tf_entropy_train`).
    pub train_probe_tokens: usize,
    /// Order of the interpolated count model behind `gen_ref_nll_t1`.
    pub ref_ngram_order: usize,
    pub self_bleu: When,
    pub mauve: bool,
    /// Also `w_distinct_1`, `w_distinct_2`, `w_seq_rep_4`, `zipf_w` on the decoded T = 1
    /// samples (whitespace-split words), as the last columns.
    pub word_metrics: bool,
    /// Extra sampling temperatures: each adds `fr_entropy_T{t}` and `distinct_4_T{t}` (the
    /// model's entropy along, and the distinct-4 of, `samples` continuations drawn at t).
    pub temperatures: Vec<f64>,
    /// Nucleus sampling (0 = off): when > 0, the `samples` prompts are also sampled keeping the
    /// smallest top set of mass >= top_p, adding `fr_entropy_top_p` and `distinct_4_top_p`.
    #[serde(default)]
    pub top_p: f64,
    /// Save the final weights (and tokenizer) as a checkpoint `probe` can load.
    pub save_checkpoint: bool,
}

/// `task: theory`: the §2.6 tables on the configured corpus.
#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct TheorySection {
    pub orders: Vec<usize>,
    /// Add-δ smoothing of the held-out cross-entropy.
    pub delta: f64,
    /// Also the §2.4 and §2.5 toys.
    pub toys: bool,
    /// Use the whole training split (the §2.6 tables), ignoring `data.split.train_tokens`.
    pub whole_split: bool,
}

/// `task: text`: the samples file (one per line, or JSONL with a `text` field); the reference
/// corpus is `data`.
#[derive(Deserialize, Serialize, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct TextSection {
    pub samples: Option<PathBuf>,
}
