//! Typed config of `lab entropy-probe` (defaults in configs/entropy-probe/default.yaml, spec
//! §7.2). Every assumption of the spec is a key here with the spec's reading as its default.
use super::controller::ControllerConfig;
pub use super::probe::CheckpointSection;
use crate::config::{Checker, Validate};
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

impl Validate for EntropyConfig {
    fn validate(&self, c: &mut Checker) {
        c.threads("torch_threads", self.torch_threads);
        self.data.corpus.validate_at(c, "data.corpus");
        self.data.split.validate_at(c, "data.split");
        self.data.tokenizer.validate_at(c, "data.tokenizer");
        if let Err(e) = self.model.validate() {
            c.check("model", false, e.to_string());
        }
        validate_train(&self.train, c);
        self.validate_sizes(c);
        validate_overrides(&self.overrides, c);
        validate_eval(&self.eval, c);
        self.alert.validate(c);
        let torchscript = self.checkpoint.torchscript.is_some();
        if self.task == Task::Train || (self.task == Task::Probe && !torchscript) {
            self.model_fit(c);
        }
        let plan = super::condition::Plan::resolve(self);
        c.relation(
            "overrides.eval_weights",
            &["condition", "overrides.weight_ema"],
            plan.eval_weights == EvalWeights::Live || plan.weight_ema.is_some(),
            "is ema, but no weight EMA is kept (set overrides.weight_ema, e.g. 0.999)",
        );
        c.check(
            "controller.probe.len",
            self.controller.statistic != super::controller::Statistic::SeqRep4
                || self.controller.probe.len >= 4,
            "statistic seq_rep_4 needs probe generations of at least 4 tokens",
        );
        for p in self.controller.problems("controller") {
            let (key, why) = p.split_once(": ").unwrap_or(("controller", p.as_str()));
            c.check(key, false, why.to_string());
        }
        super::unread::check(self, c);
        match self.task {
            Task::Text => c.check(
                "text.samples",
                self.text.samples.is_some(),
                "task text needs the samples file: --set text.samples=PATH",
            ),
            Task::Probe => super::probe::validate_probe(&self.checkpoint, &self.eval, c),
            Task::Theory => {
                c.check(
                    "theory.orders",
                    !self.theory.orders.is_empty(),
                    "needs at least one order",
                );
                c.check(
                    "theory.orders",
                    self.theory.orders.iter().all(|k| *k <= 16),
                    "orders above 16 are not supported (contexts are packed in 128 bits)",
                );
                c.positive("theory.delta", self.theory.delta);
            }
            Task::Train => {}
        }
    }
}

/// Most tokens one training batch, one evaluation's (or the controller probe's) generations,
/// or one call of a TorchScript module may span: 2^28, far beyond any sensible config; a count
/// past it is a usage error naming the key instead of an allocation failure that aborts.
pub const MAX_TOKENS: usize = 1 << 28;

impl EntropyConfig {
    /// Counts times lengths within [`MAX_TOKENS`] (module doc of the constant).
    fn validate_sizes(&self, c: &mut Checker) {
        let (t, e, p) = (&self.train, &self.eval, &self.controller.probe);
        let k = &self.checkpoint;
        let batch_len = t.seq_len.saturating_add(1);
        let mut sizes = vec![
            ("train.batch", "train.seq_len + 1", t.batch, batch_len),
            (
                "eval.samples",
                "eval.prompt_len + eval.sample_len",
                e.samples,
                e.prompt_len.saturating_add(e.sample_len),
            ),
            (
                "eval.final_samples",
                "eval.prompt_len + eval.final_len",
                e.final_samples,
                e.prompt_len.saturating_add(e.final_len),
            ),
            (
                "controller.probe.prompts",
                "controller.probe.prompt_len + controller.probe.len",
                p.prompts,
                p.prompt_len.saturating_add(p.len),
            ),
        ];
        if let Some(b) = self.overrides.batch {
            sizes.push(("overrides.batch", "train.seq_len + 1", b, batch_len));
        }
        if let Some(b) = k.fixed_batch {
            sizes.push(("checkpoint.fixed_batch", "checkpoint.context", b, k.context));
        }
        for (key, per, n, len) in sizes {
            c.check(
                key,
                n.checked_mul(len).is_some_and(|x| x <= MAX_TOKENS),
                format!(
                    "is {n}: {n} x ({per} = {len}) tokens is more than the {MAX_TOKENS} lab \
                     allows at once"
                ),
            );
        }
    }

    /// Windows, prompts and generations must fit the model's context; a training run's
    /// teacher-forced scoring reads whole windows of it.
    fn model_fit(&self, c: &mut Checker) {
        if self.task == Task::Train {
            let (window, key) = match self.model.block_size() {
                Some(b) => (b as usize, "model.block_size"),
                None => (self.train.seq_len, "train.seq_len"),
            };
            let e = &self.eval;
            for (k, n) in [
                ("eval.val_tokens", e.val_tokens),
                ("eval.train_probe_tokens", e.train_probe_tokens),
            ] {
                c.relation(
                    k,
                    &[key],
                    n == 0 || n >= window,
                    format!(
                        "is {n}, fewer than one teacher-forced scoring window of {key} = \
                         {window} tokens{}",
                        if k == "eval.val_tokens" {
                            " (0 = the whole val split)"
                        } else {
                            ""
                        }
                    ),
                );
            }
        }
        let Some(block) = self.model.block_size() else {
            return;
        };
        let block = block as usize;
        c.relation(
            "train.seq_len",
            &["model.block_size"],
            self.train.seq_len <= block,
            format!(
                "is {} but the model sees at most block_size = {block} tokens",
                self.train.seq_len
            ),
        );
        let probe = &self.controller.probe;
        c.relation(
            "controller.probe.prompt_len",
            &["model.block_size"],
            probe.prompt_len <= block,
            format!("is {} but the block size is {block}", probe.prompt_len),
        );
        c.relation(
            "eval.prompt_len",
            &["model.block_size"],
            self.eval.prompt_len <= block,
            format!("is {} but the block size is {block}", self.eval.prompt_len),
        );
    }
}

fn validate_train(t: &TrainSection, c: &mut Checker) {
    c.check("train.steps", t.steps >= 1, "must be >= 1");
    c.at_least("train.batch", t.batch, 1);
    c.at_least("train.seq_len", t.seq_len, 1);
    if let Some(lr) = t.lr {
        c.positive("train.lr", lr);
    }
    let [b1, b2] = t.betas;
    c.check(
        "train.betas",
        (0.0..1.0).contains(&b1) && (0.0..1.0).contains(&b2),
        format!("each must be in [0, 1), got [{b1}, {b2}]"),
    );
    c.positive("train.eps", t.eps);
    c.check(
        "train.weight_decay",
        t.weight_decay >= 0.0 && t.weight_decay.is_finite(),
        format!("must be >= 0, got {}", t.weight_decay),
    );
}

fn validate_overrides(o: &Overrides, c: &mut Checker) {
    if let Some(v) = o.lr_mult {
        c.positive("overrides.lr_mult", v);
    }
    if let Some(b) = o.batch {
        c.at_least("overrides.batch", b, 1);
    }
    if let Some(v) = o.min_lr_frac {
        c.check(
            "overrides.min_lr_frac",
            (0.0..=1.0).contains(&v),
            format!("must be in [0, 1], got {v}"),
        );
    }
    if let Some(v) = o.grad_clip {
        c.check(
            "overrides.grad_clip",
            v >= 0.0 && v.is_finite(),
            format!("must be >= 0 (0 = off), got {v}"),
        );
    }
    if let Some(v) = o.weight_ema {
        c.check(
            "overrides.weight_ema",
            (0.0..1.0).contains(&v),
            format!("must be in [0, 1) (0 = off), got {v}"),
        );
    }
}

fn validate_eval(e: &EvalSection, c: &mut Checker) {
    c.check("eval.every", e.every >= 1, "must be >= 1");
    c.at_least("eval.samples", e.samples, 1);
    c.check(
        "eval.greedy_samples",
        e.greedy_samples <= e.samples,
        format!(
            "is {} but only eval.samples = {} prompts exist",
            e.greedy_samples, e.samples
        ),
    );
    c.at_least("eval.prompt_len", e.prompt_len, 1);
    c.at_least("eval.sample_len", e.sample_len, 1);
    c.at_least("eval.final_samples", e.final_samples, 1);
    c.at_least("eval.final_len", e.final_len, 1);
    c.at_least("eval.train_probe_tokens", e.train_probe_tokens, 2);
    c.check(
        "eval.temperatures",
        e.temperatures.iter().all(|t| t.is_finite() && *t > 0.0),
        format!(
            "each must be > 0 (greedy is always run), got {:?}",
            e.temperatures
        ),
    );
    let twice = e
        .temperatures
        .iter()
        .enumerate()
        .find(|(i, t)| e.temperatures[..*i].contains(t));
    c.check(
        "eval.temperatures",
        twice.is_none(),
        format!(
            "lists {} twice (each temperature adds the columns fr_entropy_T{{t}} and \
             distinct_4_T{{t}}, which would repeat)",
            twice.map_or(0.0, |(_, t)| *t)
        ),
    );
    c.check(
        "eval.top_p",
        e.top_p == 0.0 || (e.top_p > 0.0 && e.top_p <= 1.0),
        format!("must be in (0, 1], or 0 = off, got {}", e.top_p),
    );
    c.check(
        "eval.ref_ngram_order",
        e.ref_ngram_order <= 16,
        "must be <= 16",
    );
}
