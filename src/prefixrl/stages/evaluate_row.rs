//! One evaluation's numbers: every metric column of eval.csv (§7.9) as an `Option<f64>` (empty
//! cell = not measurable here, e.g. pass@64 from 8 samples), plus the FLOPs the evaluation cost.
use crate::prefixrl::columns;
use crate::run::Row;

/// One eval.csv row's metrics (the caller adds `run`, `method`, `seed` and `flops_total`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EvalRow {
    pub step: u64,
    pub train_unpref_pass1: Option<f64>,
    pub train_unpref_pass8: Option<f64>,
    pub heldout_pass1: Option<f64>,
    pub heldout_pass8: Option<f64>,
    pub heldout_pass64: Option<f64>,
    pub ood_pass1: Option<f64>,
    pub ood_pass8: Option<f64>,
    pub train_pref_pass1: Option<f64>,
    /// `(fraction, pass@1)` of the prefix panel, in `eval.panel_fracs` order.
    pub panel: Vec<(f64, Option<f64>)>,
    pub strategy_agree_unpref: Option<f64>,
    pub strategy_agree_base: Option<f64>,
    pub entropy_eval_unpref: Option<f64>,
    pub kl_base_eval: Option<f64>,
    pub easy_pass1: Option<f64>,
    /// Sampling FLOPs of this evaluation (§5.1 bucket `flops_eval`, for `flops_eval_cum`).
    pub flops: f64,
    /// Forward FLOPs of the KL-to-base passes (§5.1 bucket `flops_diag`).
    pub flops_diag: f64,
}

impl EvalRow {
    /// An empty row at `step` with one empty panel cell per fraction.
    pub fn empty(step: u64, panel_fracs: &[f64]) -> EvalRow {
        EvalRow {
            step,
            panel: panel_fracs.iter().map(|&f| (f, None)).collect(),
            ..EvalRow::default()
        }
    }

    /// The metric columns in eval.csv order (everything after `flops_total`).
    pub fn values(&self) -> Vec<(String, Option<f64>)> {
        let head = [
            ("train_unpref_pass1", self.train_unpref_pass1),
            ("train_unpref_pass8", self.train_unpref_pass8),
            ("heldout_pass1", self.heldout_pass1),
            ("heldout_pass8", self.heldout_pass8),
            ("heldout_pass64", self.heldout_pass64),
            ("ood_pass1", self.ood_pass1),
            ("ood_pass8", self.ood_pass8),
            ("train_pref_pass1", self.train_pref_pass1),
        ];
        let tail = [
            ("strategy_agree_unpref", self.strategy_agree_unpref),
            ("strategy_agree_base", self.strategy_agree_base),
            ("entropy_eval_unpref", self.entropy_eval_unpref),
            ("kl_base_eval", self.kl_base_eval),
            ("easy_pass1", self.easy_pass1),
        ];
        let named = |(k, v): (&str, Option<f64>)| (k.to_string(), v);
        head.into_iter()
            .map(named)
            .chain(
                self.panel
                    .iter()
                    .map(|&(f, v)| (columns::panel_column(f), v)),
            )
            .chain(tail.into_iter().map(named))
            .collect()
    }

    /// The value of metric column `name` (`None` for an empty cell or an unknown name).
    pub fn get(&self, name: &str) -> Option<f64> {
        self.values()
            .into_iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v)
    }

    /// Fill `step` and every metric column of an eval.csv row built by `Metrics::new_row`.
    pub fn write(&self, row: &mut Row) {
        row.num("step", self.step as f64);
        for (name, v) in self.values() {
            row.opt(&name, v);
        }
    }
}
