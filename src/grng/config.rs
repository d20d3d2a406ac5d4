//! Typed config of `lab grng` (defaults in configs/grng/default.yaml; keys of spec §2.8, §6.2
//! and §6.4). A `null` data or budget key takes the task's value from [`super::tasks`].
use super::asserts::AssertSection;
use super::optimizers::OptimizerConfig;
use super::toy::ToyConfig;
use crate::config::{Checker, Validate};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct GrngConfig {
    pub seed: u64,
    /// libtorch intra-op threads (spec §6.2: 2); null = `--threads`.
    pub torch_threads: Option<usize>,
    /// One of the §6.2 task ids (module [`super::tasks`]).
    pub task: TaskId,
    pub model: ModelSection,
    /// Kind-tagged: `kind: adamw` (+ its keys; per-kind defaults in configs/grng/kinds.yaml).
    pub optimizer: OptimizerConfig,
    pub train: TrainSection,
    pub data: DataSection,
    /// `task: twolayer-toy` (spec §6.10): method gd|ngd|ring|reng, eta, rho, lambda0, sizes.
    /// Its data are drawn from the top-level `seed`.
    pub toy: ToyConfig,
    /// Continue the run in this directory from its checkpoint (`--resume RUN_DIR` sets it;
    /// null: start fresh). See [`super::checkpoint`].
    pub resume_from: Option<PathBuf>,
    /// Checks on the finished run that fail it when violated (spec §6.4 `[assert]`; null: none).
    pub assert: Option<AssertSection>,
}

#[derive(Deserialize, Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum TaskId {
    LogregDigits,
    MlpDigits,
    CnnDigits,
    CnnShapes,
    /// CIFAR-10 from the user's binary batches (`data.cifar_dir`), a CNN at 3×32×32.
    CnnCifar10,
    /// MNIST (or Fashion-MNIST) from the user's idx files (`data.mnist_dir`), an MLP on 784
    /// pixels.
    MlpMnist,
    /// The same files as 1×28×28 images, a CNN.
    CnnMnist,
    CharlmFortunes,
    /// CI size: 512/128 synthetic shapes, MLP 256→32→4.
    ShapesSmoke,
    /// CI language model on the synthetic grammar text.
    CharlmGrammar,
    /// The §6.10 theory toy (its own `toy:` section; no optimizer, model or data keys).
    TwolayerToy,
}

impl TaskId {
    pub fn name(self) -> &'static str {
        match self {
            TaskId::LogregDigits => "logreg-digits",
            TaskId::MlpDigits => "mlp-digits",
            TaskId::CnnDigits => "cnn-digits",
            TaskId::CnnShapes => "cnn-shapes",
            TaskId::CnnCifar10 => "cnn-cifar10",
            TaskId::MlpMnist => "mlp-mnist",
            TaskId::CnnMnist => "cnn-mnist",
            TaskId::CharlmFortunes => "charlm-fortunes",
            TaskId::ShapesSmoke => "shapes-smoke",
            TaskId::CharlmGrammar => "charlm-grammar",
            TaskId::TwolayerToy => "twolayer-toy",
        }
    }

    /// A language-model task (steps, val_loss/val_bpc) rather than image classification.
    pub fn is_lm(self) -> bool {
        matches!(self, TaskId::CharlmFortunes | TaskId::CharlmGrammar)
    }
}

#[derive(Deserialize, Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    Tanh,
    Relu,
}

#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    /// Hidden activation of the MLPs (the CNNs use ReLU).
    pub activation: Activation,
}

#[derive(Deserialize, Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    Constant,
    /// Cosine from lr to 0 over the run's steps.
    Cosine,
    /// ×0.1 at 50 % and again at 75 % of the steps (the K-FAC reference's MultiStep).
    Multistep,
}

impl Schedule {
    /// The learning rate of update `step` (0-based) of `total` (§3.1: MultiStep ×0.1 at 50 %
    /// and 75 %).
    pub fn lr_at(self, base: f64, step: u64, total: u64) -> f64 {
        let p = step as f64 / total.max(1) as f64;
        match self {
            Schedule::Constant => base,
            Schedule::Cosine => base * 0.5 * (1.0 + (std::f64::consts::PI * p).cos()),
            Schedule::Multistep => {
                base * if p >= 0.75 {
                    0.01
                } else if p >= 0.5 {
                    0.1
                } else {
                    1.0
                }
            }
        }
    }
}

#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct TrainSection {
    /// Passes over the training images (image tasks); null = the task's budget (§6.2).
    pub epochs: Option<u64>,
    /// Total steps: the budget of LM tasks, a cap for image tasks; null = the task's.
    pub steps: Option<u64>,
    /// Examples per step (sequences for LM tasks); null = the task's (§6.2).
    pub batch: Option<usize>,
    pub schedule: Schedule,
    /// Pearson diagnostics (§5.3) every this many steps.
    pub diag_every: u64,
    /// Examples (sequences for LM tasks) of the fixed probe set whose gradient the update is
    /// compared with (§5.3); null = the task's (512 images, 32 sequences).
    pub probe_size: Option<usize>,
    /// LM tasks: evaluate every this many steps (one `epochs.csv` row each).
    pub eval_every: u64,
    /// Target for steps/time to target: test accuracy (image tasks) or val bits per char (LM
    /// tasks, reached when at or below); null = the task's.
    pub target: Option<f64>,
    /// Save the run's checkpoint every this many steps (also at the last step, at
    /// `stop_after` and on SIGINT/SIGTERM); 0 = only then.
    pub checkpoint_every: u64,
    /// End this process after this many steps in all, with a checkpoint to `--resume` from;
    /// the budget and schedule stay those of the whole run (null: run to the end).
    pub stop_after: Option<u64>,
    /// Fill epochs.csv's `sharpness_top_eig` (§6.3): the top Hessian eigenvalue on the probe
    /// set by 20 power iterations of Hessian-vector products, each epoch (costs ~40 backward
    /// passes over the probe set per evaluation).
    pub sharpness_top_eig: bool,
}

#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    /// A digits CSV in scikit-learn's format (plain or .gz); null = the committed fixture.
    pub digits_file: Option<PathBuf>,
    /// Synthetic shapes (null = the task's: cnn-shapes 8000/2000, 10 % label noise).
    pub shapes_train: Option<usize>,
    pub shapes_test: Option<usize>,
    pub shapes_label_noise: Option<f64>,
    /// Standard deviation of the shapes' pixel noise.
    pub shapes_noise: f64,
    /// Directory of CIFAR-10's binary batches, `data_batch_1.bin` … `test_batch.bin`
    /// (task cnn-cifar10; null: that task says it needs one).
    pub cifar_dir: Option<PathBuf>,
    /// Directory of MNIST's four uncompressed idx files, `train-images-idx3-ubyte` …
    /// `t10k-labels-idx1-ubyte` (tasks mlp-mnist, cnn-mnist; null: those tasks say they need one).
    pub mnist_dir: Option<PathBuf>,
    /// Debian `fortunes` directory (charlm-fortunes).
    pub fortunes_dir: PathBuf,
    /// Characters of grammar text (charlm-grammar).
    pub grammar_len: usize,
    /// Context length of LM tasks (the GPT's block size).
    pub seq_len: usize,
    /// Tokens of each split scored per LM evaluation, in whole windows of `seq_len` (null:
    /// [`super::source::EVAL_TOKENS`] or the whole val split if it is shorter; 0: the whole
    /// val split). More than the val split holds is refused ([`super::files::check_inputs`]).
    pub eval_tokens: Option<usize>,
}

impl Validate for GrngConfig {
    fn validate(&self, c: &mut Checker) {
        for (key, why) in self.optimizer.problems() {
            c.check(&key, false, why);
        }
        let t = &self.train;
        if let Some(e) = t.epochs {
            c.check("train.epochs", e >= 1, format!("must be >= 1, got {e}"));
        }
        if let Some(s) = t.steps {
            c.check("train.steps", s >= 1, format!("must be >= 1, got {s}"));
        }
        if let Some(b) = t.batch {
            c.at_least("train.batch", b, 1);
        }
        c.check("train.diag_every", t.diag_every >= 1, "must be >= 1");
        c.check("train.eval_every", t.eval_every >= 1, "must be >= 1");
        if let Some(p) = t.probe_size {
            c.at_least("train.probe_size", p, 1);
        }
        if let Some(s) = t.stop_after {
            c.check("train.stop_after", s >= 1, format!("must be >= 1, got {s}"));
        }
        if let Some(v) = t.target {
            c.positive("train.target", v);
            let image = !self.task.is_lm() && self.task != TaskId::TwolayerToy;
            c.relation(
                "train.target",
                &["task"],
                !image || v <= 1.0,
                format!(
                    "is a test accuracy for task {}, a fraction in (0, 1], got {v} (a percentage \
                     would never be reached)",
                    self.task.name()
                ),
            );
        }
        c.threads("torch_threads", self.torch_threads);
        if let Some(f) = self.assert.as_ref().and_then(|a| a.loss_decrease_frac) {
            c.check(
                "assert.loss_decrease_frac",
                (0.0..1.0).contains(&f),
                format!("must be in [0, 1), got {f}"),
            );
        }
        let d = &self.data;
        if let Some(n) = d.shapes_train {
            c.at_least("data.shapes_train", n, 1);
        }
        if let Some(n) = d.shapes_test {
            c.at_least("data.shapes_test", n, 1);
        }
        if let Some(p) = d.shapes_label_noise {
            c.check(
                "data.shapes_label_noise",
                (0.0..=1.0).contains(&p),
                format!("must be in [0, 1], got {p}"),
            );
        }
        c.check(
            "data.shapes_noise",
            d.shapes_noise.is_finite() && d.shapes_noise >= 0.0,
            format!("must be >= 0, got {}", d.shapes_noise),
        );
        c.check(
            "toy.seed",
            self.toy.seed == 0,
            "the toy's data follow the top-level `seed`; remove `toy.seed`".to_string(),
        );
        if self.task == TaskId::TwolayerToy {
            // The toy is one short f64 computation of its own (`toy:`): it keeps no checkpoint
            // and writes toy.csv, not the CSVs these keys act on.
            let unused = [
                ("assert", self.assert.is_some()),
                ("train.stop_after", self.train.stop_after.is_some()),
                ("resume_from", self.resume_from.is_some()),
            ];
            for (key, set) in unused {
                c.check(
                    key,
                    !set,
                    "does not apply to task twolayer-toy (one f64 run of the `toy:` section, \
                     no checkpoints, no steps.csv); remove it"
                        .to_string(),
                );
            }
            if let Err(e) = self.toy.validate() {
                // "twolayer-toy: `n` must be ≥ 1, got 0" → key toy.n
                let msg = e.to_string();
                let (key, why) = msg
                    .split_once(": `")
                    .and_then(|(_, r)| r.split_once("` "))
                    .unwrap_or(("", msg.as_str()));
                c.check(&format!("toy.{key}"), false, why.to_string());
            }
        }
        super::unread::check(self, c);
        c.at_least("data.grammar_len", d.grammar_len, 1000);
        c.at_least("data.seq_len", d.seq_len, 2);
        self.validate_sizes(c);
    }
}

/// Most synthetic shapes images per split: 2^20 (256 f32 pixels each, 1 GiB), over a hundred
/// times the task's 8000; a larger count is a typing mistake that would end in a failed
/// allocation.
pub const MAX_SHAPES: usize = 1 << 20;

/// Most entries of one activation tensor of the char GPT: 2^30 (4 GiB in f32). A batch of `B`
/// windows of `T` chars holds `B·4·T²` attention weights (4 heads) and `B·T·1024` of its widest
/// per-token features at once.
pub const MAX_LM_ACTIVATION: f64 = (1u64 << 30) as f64;

/// Rows (LM: windows) the per-epoch evaluation forwards at once.
pub const EVAL_CHUNK: usize = 256;

impl GrngConfig {
    /// Sizes that would end in a failed allocation instead of a run: generated data, and the
    /// windows the char LM forwards at once (training batch, probe set, 256-window evaluation
    /// chunks) for `data.seq_len`.
    fn validate_sizes(&self, c: &mut Checker) {
        let d = &self.data;
        for (key, n) in [
            ("data.shapes_train", d.shapes_train),
            ("data.shapes_test", d.shapes_test),
        ] {
            let n = n.unwrap_or(0);
            c.check(
                key,
                n <= MAX_SHAPES,
                format!("must be at most {MAX_SHAPES} images, got {n}"),
            );
        }
        let max = crate::data::MAX_GENERATED_CHARS;
        c.check(
            "data.grammar_len",
            d.grammar_len <= max,
            format!("must be at most {max} characters, got {}", d.grammar_len),
        );
        let Some((batch, _, probe, _)) = super::tasks::defaults(self.task) else {
            return;
        };
        if !self.task.is_lm() {
            return;
        }
        let t = d.seq_len as f64;
        let need = |b: usize| b as f64 * t * (4.0 * t).max(1024.0);
        let why = |b: usize, what: &str| {
            format!(
                "{b} windows of data.seq_len {} chars {what}need about {:.2e} activation entries \
                 at once (4 heads x seq_len^2 attention weights per window), more than the \
                 {MAX_LM_ACTIVATION:.2e} lab allows; lower it or data.seq_len",
                d.seq_len,
                need(b)
            )
        };
        let rows = [
            ("train.batch", self.train.batch.unwrap_or(batch)),
            ("train.probe_size", self.train.probe_size.unwrap_or(probe)),
        ];
        for (key, b) in rows {
            let ok = need(b) <= MAX_LM_ACTIVATION;
            c.relation(key, &["data.seq_len"], ok, why(b, ""));
        }
        let ok = need(EVAL_CHUNK) <= MAX_LM_ACTIVATION;
        c.check(
            "data.seq_len",
            ok,
            why(EVAL_CHUNK, "(one evaluation chunk) "),
        );
    }
}
