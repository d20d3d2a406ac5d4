//! Typed config of `lab prefixrl` (defaults and every key's doc in configs/prefixrl/default.yaml;
//! spec §7.8 values, §2.3 prefix modes, §2.5 mixing, §3 baselines, §5.1 FLOPs charging).
//! String-valued keys with a payload (`traces.source: model:<dir>`, `offpolicy.is_clip: max:<c>`)
//! are parsed in [`super::config_values`], so a typo fails before any stage runs. The range
//! checks are in [`super::config_check`], the model presets in [`super::config_model`].
pub use super::algo::{AdvantageKind, Agg, IsClip, IsLevel};
use super::config_model;
pub use super::config_values::TraceSource;
pub use super::task::TaskConfig;
use crate::nn::ModelConfig;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct PrefixrlConfig {
    pub seed: u64,
    /// Which pipeline stage this run is (§7.7).
    pub stage: Stage,
    /// libtorch intra-op threads (§7.3: 2); null = `--threads`.
    pub torch_threads: Option<usize>,
    /// The task section, kind-tagged (`kind: countdown|path|exact-answer|external`; per-kind
    /// defaults in configs/prefixrl/kinds.yaml).
    pub task: TaskConfig,
    pub data: DataSection,
    /// `preset: smoke|small|medium` (§7.3) or any nn preset, plus overriding keys.
    #[serde(deserialize_with = "config_model::deserialize")]
    pub model: ModelConfig,
    pub pretrain: PretrainSection,
    pub calibrate: CalibrateSection,
    pub hard: HardSection,
    pub traces: TracesSection,
    pub prefix: PrefixSection,
    pub train: TrainSection,
    pub rl: RlSection,
    pub sft: SftSection,
    pub offpolicy: OffpolicySection,
    pub eval: EvalSection,
    /// Write `rollouts.jsonl` every this many RL steps (§8); 0 = off.
    pub rollouts_every: u64,
    /// Checkpoint (weights, AdamW moments, step, FLOPs, data cursor) every this many steps (§8).
    pub ckpt_every: u64,
    pub inputs: InputsSection,
    /// Stage `toy` (§4.2).
    pub toy: ToySection,
}

/// The pipeline stages of §7.7, in pipeline order (`all` runs each whose output is missing).
#[derive(Deserialize, Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    GenData,
    Pretrain,
    Calibrate,
    Collect,
    MakePrefixes,
    Train,
    Eval,
    Toy,
    All,
}

impl Stage {
    /// The stages `all` runs, in order.
    pub const PIPELINE: [Stage; 7] = [
        Stage::GenData,
        Stage::Pretrain,
        Stage::Calibrate,
        Stage::Collect,
        Stage::MakePrefixes,
        Stage::Train,
        Stage::Eval,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stage::GenData => "gen-data",
            Stage::Pretrain => "pretrain",
            Stage::Calibrate => "calibrate",
            Stage::Collect => "collect",
            Stage::MakePrefixes => "make-prefixes",
            Stage::Train => "train",
            Stage::Eval => "eval",
            Stage::Toy => "toy",
            Stage::All => "all",
        }
    }
}

#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    /// Difficulty levels of the pretraining data (countdown: how many numbers), §7.4.
    pub easy_levels: Vec<u32>,
    /// Share of each easy level (same length as `easy_levels`, sums to 1).
    pub easy_mix: Vec<f64>,
    /// The level of the hard pool, held-out set and training problems (§7.1).
    pub hard_level: u32,
    /// Oracle-solved pretraining examples (§7.4).
    pub n_pretrain: usize,
    /// Hard problems drawn for trace collection (§7.5).
    pub pool_size: usize,
    /// Held-out hard problems (§7.6).
    pub n_heldout: usize,
    /// Out-of-distribution problems (§7.6).
    pub n_ood: usize,
}

#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct PretrainSection {
    pub steps: u64,
    pub batch: usize,
    pub lr: f64,
    /// Cosine floor of the learning rate.
    pub lr_min: f64,
    pub warmup: u64,
    /// Weight of the loss on prompt tokens (0 = completion and <eos> only), §7.4.
    pub prompt_loss_weight: f64,
}

/// Stage `calibrate` (§7.4): the base model's pass@k per level and its success after oracle
/// prefixes on hard problems.
#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct CalibrateSection {
    /// Problems per difficulty level.
    pub problems: usize,
    /// Samples per problem (1024 gives pass@1024; pass@k columns with k > samples stay empty).
    pub samples: usize,
    /// Prefix fractions of the success-versus-prefix curve (oracle trace as the prefix).
    pub fractions: Vec<f64>,
    /// Samples per (problem, fraction) of that curve.
    pub prefix_samples: usize,
}

#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct HardSection {
    /// Samples per pool problem of the probe filter (§7.5).
    pub k_probe: usize,
}

#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct TracesSection {
    /// Where the off-policy traces come from (§7.5).
    pub source: TraceSource,
    /// Rejection-sampling budget R per problem.
    pub budget_r: u64,
    pub temperature: f64,
    /// A problem without a sampled trace takes its oracle solution instead.
    pub allow_oracle_fallback: bool,
}

#[derive(Deserialize, Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PrefixMode {
    Uniform,
    Fixed,
    Calibrated,
    StepBoundary,
}

#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct PrefixSection {
    /// §2.3: uniform | fixed | calibrated | step_boundary.
    pub mode: PrefixMode,
    /// Cut points per trace, m.
    pub per_trace: usize,
    /// Cut fractions f ~ U[frac_lo, frac_hi] (uniform, calibrated and step_boundary candidates).
    pub frac_lo: f64,
    pub frac_hi: f64,
    /// The cut fractions of mode `fixed`.
    pub fractions: Vec<f64>,
    /// Mode `calibrated`: keep cuts whose base success lies in [band[0], band[1]].
    pub band: [f64; 2],
    /// Mode `calibrated`: base samples per cut.
    pub m_cal: usize,
}

#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct TrainSection {
    /// Training problems kept (hard problems with a trace), §7.5.
    pub n_problems: usize,
}

/// The RL methods of §3 (`rl` is rows 1–2; `hint` is row 6).
#[derive(Deserialize, Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    Rl,
    Prefixrl,
    SftRl,
    OffpolicyIs,
    Luffy,
    Hint,
}

impl Method {
    /// Methods that consume the off-policy traces D_off (charged `flops_offline` by default, §5.1).
    pub fn uses_traces(self) -> bool {
        !matches!(self, Method::Rl)
    }
    /// Methods that train on prefixed problems (prefixes.jsonl).
    pub fn uses_prefixes(self) -> bool {
        matches!(self, Method::Prefixrl | Method::Hint)
    }
}

/// Which methods' curves include the rejection-sampling FLOPs (§5.1).
#[derive(Deserialize, Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ChargeOffline {
    Users,
    All,
    None,
}

#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RlSection {
    pub method: Method,
    /// Share of batch slots that are prefixed (§2.5).
    pub alpha: f64,
    pub steps: u64,
    /// Problems per step, B.
    pub batch_problems: usize,
    /// Samples per problem (group size), n.
    pub n: usize,
    pub lr: f64,
    pub adv: AdvantageKind,
    pub adv_eps: f64,
    pub agg: Agg,
    pub ppo_epochs: usize,
    pub clip_eps: f64,
    pub kl_beta: f64,
    pub temperature: f64,
    pub max_new_tokens: usize,
    pub grad_clip: f64,
    pub charge_offline: ChargeOffline,
    /// Rows of a step's batch are processed in this many chunks (memory, not maths).
    pub micro_batches: usize,
}

#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct SftSection {
    pub epochs: usize,
    pub lr: f64,
    pub batch: usize,
}

#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct OffpolicySection {
    pub is_clip: IsClip,
    pub is_level: IsLevel,
    /// LUFFY's shaping f(p) = p/(p+γ).
    pub luffy_gamma: f64,
}

#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct EvalSection {
    /// Evaluate every this many RL steps (and after the last).
    pub every: u64,
    /// Samples per problem in training-time evaluations.
    pub k_eval: usize,
    /// The k of pass@k (unbiased estimator; needs k <= samples: columns with k > k_eval stay empty).
    pub pass_k: Vec<u64>,
    pub n_heldout: usize,
    pub n_ood: usize,
    /// Problems of the prefix panel (§7.6).
    pub panel: usize,
    /// Prefix fractions of the panel: eval.csv's panel_frac_* columns.
    pub panel_fracs: Vec<f64>,
    /// Stage eval: the model to evaluate, a checkpoint directory, a train run directory (its
    /// last checkpoint) or a weights file; null = the base model of inputs.base (under
    /// `stage: all`, the run's own last checkpoint).
    pub checkpoint: Option<PathBuf>,
    /// Stage eval: samples per problem for the final numbers; null = k_eval.
    pub k_final: Option<usize>,
}

/// Run directories of earlier stages (checked like `--resume`: see [`super::inputs`]).
#[derive(Deserialize, Serialize, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct InputsSection {
    /// A gen-data run (problems.jsonl).
    pub data: Option<PathBuf>,
    /// A pretrain run (base/).
    pub base: Option<PathBuf>,
    /// A collect run (traces.jsonl).
    pub traces: Option<PathBuf>,
    /// A make-prefixes run (prefixes.jsonl).
    pub prefixes: Option<PathBuf>,
    /// A run of this subcommand to continue (`--resume RUN_DIR`).
    pub resume: Option<PathBuf>,
}

/// Stage `toy`: which theory toys of §4.2 to run.
#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct ToySection {
    /// `[all]` or a list of T1..T6.
    pub tests: Vec<String>,
    /// Shrink T4 (3 seeds, H up to 6; checked at ratio >= 3) — for CI.
    pub quick: bool,
}
