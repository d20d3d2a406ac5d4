//! The train stage's periodic evaluation (every `eval.every` steps and after the last): one
//! eval.csv row (§7.9) from the evaluator, its sampling FLOPs into `flops_eval_cum`
//! (excluded from the x-axis, §5.1). The one place the train stage calls the evaluator.
use super::evaluate::{evaluate, EvalCtx};
use super::train_log::RowId;
use crate::nn::LanguageModel;
use crate::prefixrl::columns;
use crate::prefixrl::config::PrefixrlConfig;
use crate::run::{Metrics, Run};
use anyhow::Result;

/// The evaluator of this run and where its rows go.
pub struct Evaluator {
    ctx: EvalCtx,
    csv: Metrics,
    seed: u64,
}

/// The eval.csv header of `cfg`.
pub fn header(cfg: &PrefixrlConfig) -> Vec<String> {
    columns::eval(&cfg.eval.panel_fracs)
}

/// The FLOPs one evaluation spent.
pub struct EvalFlops {
    /// Sampling (§5.1 bucket `flops_eval`).
    pub eval: f64,
    /// Reference-model forward passes of `kl_base_eval` (bucket `flops_diag`).
    pub diag: f64,
}

impl Evaluator {
    pub fn new(cfg: &PrefixrlConfig, run: &Run, device: tch::Device, csv: Metrics) -> Result<Self> {
        Ok(Evaluator {
            ctx: EvalCtx::load(cfg, run, device)?,
            csv,
            seed: cfg.seed,
        })
    }

    /// The cached base-model numbers (saved with a checkpoint).
    pub fn cache(&self) -> Option<Option<f64>> {
        self.ctx.base_agree
    }

    /// Restore [`Self::cache`] from a checkpoint (resume).
    pub fn restore_cache(&mut self, cache: Option<Option<f64>>) {
        self.ctx.base_agree = cache;
    }

    /// The CSV (to copy a resumed run's rows into).
    pub fn csv(&mut self) -> &mut Metrics {
        &mut self.csv
    }

    /// Evaluate `model` after step `id.step` and write its row (sampling seeded from (seed,
    /// step), as the eval stage does).
    pub fn evaluate(
        &mut self,
        model: &dyn LanguageModel,
        id: &RowId,
        flops_total: f64,
    ) -> Result<EvalFlops> {
        let e = evaluate(&mut self.ctx, model, id.step, self.seed)?;
        let mut row = self.csv.new_row();
        row.text("run", id.run)
            .text("method", id.method)
            .num("seed", id.seed as f64)
            .num("flops_total", flops_total);
        e.write(&mut row);
        self.csv.write(&row)?;
        Ok(EvalFlops {
            eval: e.flops,
            diag: e.flops_diag,
        })
    }
}
