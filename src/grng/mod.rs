//! `lab grng`: gradient-regularized natural gradients (RENG, RING, R-Kalman) against SGD,
//! AdamW, K-FAC and Sophia on small vision and char-LM tasks (spec `grng.md`, issue 13).
//!
//! Reading order:
//! 1. `config.rs`: every key (spec §2.8, §6.2, §6.4), with `unread.rs` (keys the task does not
//!    read, refused); `optimizers.rs`: the kind-tagged `optimizer:` section and the registry
//!    that turns it into an `optim::Stepper`.
//! 2. `tasks.rs`: the §6.2 tasks (data, budget), `files.rs` (the tasks on the user's CIFAR-10
//!    and MNIST files) and `models.rs` (logreg, MLPs, CNNs with conv-as-unfold, the char GPT),
//!    all returning logits `(N, C)` and capturing linear maps.
//! 3. `train.rs`: the run loop (schedule, one `Stepper::step` per batch, Δθ, per-epoch
//!    evaluation), with `source.rs` (batches, probe set, eval sets), `diag.rs` (§5.3 Pearson
//!    measures, evaluation, peak RSS) and `columns.rs` (the §6.3 CSV headers);
//!    `summary.rs` (per-epoch evaluation, summary), `checkpoint.rs` (save, `--resume`) and
//!    `asserts.rs` (the smoke configs' `assert:` checks), `sharpness.rs` (top Hessian eigenvalue).
//! 4. `rkalman/`: R-Kalman (§2.4), the paper's Bayesian variant, dense and Kronecker forms.
//! 5. `sweep.rs`: `lab report`'s pick of each optimizer's best setting in the tuning sweep.
//! 6. `toy/`: the two-layer theory toy of §4/§6.10 (exact Jacobian, f64, ndarray).
pub mod asserts;
pub mod checkpoint;
pub mod columns;
pub mod config;
pub mod diag;
pub mod files;
pub mod models;
pub mod optimizers;
mod resume;
pub mod rkalman;
pub mod sharpness;
pub mod source;
pub mod summary;
pub mod sweep;
pub mod tasks;
pub mod toy;
pub mod train;
mod unread;

pub use config::GrngConfig;

use crate::experiment::{Ctx, Experiment};
use crate::plot::defaults::DefaultPlot;
use crate::run::Run;
use anyhow::Result;

/// `y` per task against `x`: `step`, or `wall_s` (the run's seconds at each evaluation).
const fn curve(x: &'static str, y: &'static str) -> DefaultPlot {
    DefaultPlot {
        x,
        y,
        logy: false,
        split: &["task"],
        reference: None,
    }
}

impl Experiment for GrngConfig {
    const NAME: &'static str = "grng";
    const ABOUT: &'static str =
        "Gradient-regularized natural gradients vs SGD, AdamW, K-FAC, Sophia";
    const DEFAULT_YAML: &'static str = include_str!("../../configs/grng/default.yaml");
    const KINDS_YAML: &'static str = include_str!("../../configs/grng/kinds.yaml");
    const SET_EXAMPLE: &'static str = "task=cnn-digits";
    const PLOTS: &'static [DefaultPlot] = &[
        curve("step", "test_acc"),
        curve("wall_s", "test_acc"),
        curve("step", "train_loss"),
    ];
    const RESUME_KEY: Option<&'static str> = Some("resume_from");
    const REPORT: Option<crate::report::ReportHook> = Some(sweep::report);

    fn seed(&self) -> u64 {
        self.seed
    }

    fn torch_threads(&self) -> Option<usize> {
        self.torch_threads
    }

    fn check_inputs(&self) -> anyhow::Result<()> {
        files::check_inputs(self)
    }

    fn execute(&self, run: &mut Run, ctx: &mut Ctx) -> Result<()> {
        if self.task == config::TaskId::TwolayerToy {
            return toy::task::execute(&self.toy, self.seed, run);
        }
        train::run(self, run, ctx)
    }
}
