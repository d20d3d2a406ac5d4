//! `lab entropy-probe`: entropy collapse of small language models under stabilised
//! maximum-likelihood training (spec `entropy-probe.md`, issue 11).
//!
//! Reading order:
//! 1. `config.rs`: every key (spec §7.2), `condition.rs`: the conditions of §3.4 as presets.
//! 2. `setup.rs`: corpus → tokenizer → split, and the true entropy rate of synthetic data.
//! 3. `train.rs`: one training run (§3.3) step by step, with the controller (`controller.rs`,
//!    §3.5) measuring its probe and `measure.rs` evaluating (§3.6) into the §4.7 files
//!    (`columns.rs`); `eval.rs` holds the protocol (prompts, teacher forcing, generation) and
//!    `stability.rs` the §2.7 window measures.
//! 4. `probe.rs`: `task: probe`, the same evaluation on a saved run's weights.
//!    `probe_dir.rs`: the same over every saved run under a directory (a study);
//!    `probe_check.rs`: this config against the probed runs' own, before anything runs;
//!    `torchscript/`: the same on a TorchScript module and its vocabulary file.
//! 5. `ngram.rs`: the exact order-k count model, the closed-form stationary point the theory
//!    (§2) is about and the reference of H7.
//! 6. `metrics/`: model-free metrics on samples (§4.1–§4.5: entropy from logits, n-gram KLs,
//!    diversity, repetition, loops, copying, coverage, self-BLEU, MAUVE-ngram), and
//!    `SampleMetrics`, every sample column at once (`text.rs` re-exports it under its old name);
//!    `textfile.rs`: the `text` task as a library.
//! 7. `theory.rs`: the §2.6 tables per corpus with H7's pass/fail (`task: theory`; the checks
//!    and when a corpus cannot test H7 are in `h7.rs`), and
//!    `toys.rs`: §2.4 (gradient descent on softmax logits) and §2.5 (forward vs reverse KL).
//!    `unread.rs`: keys the task in force does not read, refused.
//! 8. `verdict/`: the hypotheses' verdicts from a sweep's runs (§1, §4.7), `lab report`'s hook.
pub mod alert;
pub mod columns;
pub mod condition;
pub mod config;
pub mod controller;
pub mod ctrl_probe;
pub mod eval;
pub mod fit;
pub mod h7;
pub mod measure;
pub mod metrics;
pub mod ngram;
pub mod probe;
pub mod probe_check;
pub mod probe_dir;
pub mod setup;
pub mod stability;
pub mod tasks;
pub mod text;
pub mod textfile;
pub mod theory;
pub mod torchscript;
pub mod toys;
pub mod train;
mod unread;
mod validate;
pub mod verdict;

pub use config::EntropyConfig;

use crate::experiment::{Ctx, Experiment};
use crate::plot::defaults::DefaultPlot;
use crate::run::Run;
use anyhow::Result;
use config::Task;

const fn curve(y: &'static str, reference: Option<&'static str>) -> DefaultPlot {
    DefaultPlot {
        x: "step",
        y,
        logy: false,
        split: &["model.preset", "model.kind"],
        reference,
    }
}

impl Experiment for EntropyConfig {
    const NAME: &'static str = "entropy-probe";
    const ABOUT: &'static str =
        "Entropy collapse of small LMs under stabilised MLE training, with H1-H8 verdicts";
    const DEFAULT_YAML: &'static str = include_str!("../../configs/entropy-probe/default.yaml");
    const KINDS_YAML: &'static str = include_str!("../../configs/entropy-probe/kinds.yaml");
    const SET_EXAMPLE: &'static str = "condition=feedback";
    const REPORT: Option<crate::report::ReportHook> = Some(verdict::report);
    // The §7.3 plots (loss, entropy, repetition, controller, stability_vs_entropy) are drawn
    // by the report hook (`verdict/plots.rs`); this list adds what they do not show.
    const PLOTS: &'static [DefaultPlot] = &[curve("train_fit_loss", None)];

    fn seed(&self) -> u64 {
        self.seed
    }

    fn check_inputs(&self) -> anyhow::Result<()> {
        if self.task == Task::Probe && self.checkpoint.torchscript.is_none() {
            // A probe of a lab run scores on the run's data, not this config's.
            return probe_check::precheck(self);
        }
        self.data.corpus.check_inputs("data.corpus")?;
        fit::precheck(self)
    }

    fn torch_threads(&self) -> Option<usize> {
        self.torch_threads
    }

    fn execute(&self, run: &mut Run, ctx: &mut Ctx) -> Result<()> {
        match self.task {
            Task::Train => train::run(self, run, ctx),
            Task::Probe => probe::run(self, run, ctx),
            Task::Text => tasks::text(self, run),
            Task::Theory => tasks::theory(self, run),
        }
    }
}
