//! The per-epoch evaluation (one row of epochs.csv and of metrics.csv) and the run's summary
//! (summary.csv, summary.json), as methods of the trainer of [`super::train`].
use super::columns;
use super::config::EVAL_CHUNK;
use super::diag;
use super::sharpness;
use super::tasks::Budget;
use super::train::Trainer;
use crate::optim::StepReport;
use crate::run::{Metrics, Run};
use anyhow::Result;
use serde::{Deserialize, Serialize};

/// What `summary.json` holds (summary.csv has the same numbers).
#[derive(Serialize, Deserialize, Debug, Default, Clone)]
pub struct Summary {
    pub run_id: String,
    pub optimizer: String,
    pub task: String,
    pub model: String,
    pub seed: u64,
    pub final_test_acc: Option<f64>,
    pub best_test_acc: Option<f64>,
    pub final_test_loss: Option<f64>,
    /// LM tasks: validation bits per char at the end (and the best).
    pub final_val_bpc: Option<f64>,
    pub best_val_bpc: Option<f64>,
    pub target: f64,
    pub steps_to_target: Option<u64>,
    pub time_to_target_s: Option<f64>,
    pub total_time_s: f64,
    pub mean_step_ms: f64,
    pub peak_rss_mb: Option<f64>,
    pub diverged: bool,
    pub steps: u64,
    /// Spec §5.3's Figure-1 measures over the run's evaluated epochs: the mean ‖∇L_B‖ of the
    /// steps, and the mean of each Pearson measure over the steps that logged it (summary.json
    /// only: summary.csv keeps §6.3's columns).
    pub avg_grad_norm: Option<f64>,
    pub avg_pearson_update_grad: Option<f64>,
    pub avg_pearson_consecutive: Option<f64>,
    /// Steps the optimizer skipped, leaving the parameters unchanged (a curvature system was
    /// singular, or a factor or update non-finite: spec §7, steps.csv `nonfinite_skipped`).
    /// summary.json only; absent in summaries written before it existed.
    #[serde(default)]
    pub skipped_steps: u64,
    /// Steps the optimizer took (not skipped) whose update left every parameter unchanged
    /// (update_norm 0: too small for the parameters' precision, as an R-Kalman update becomes
    /// once its covariances wind up). summary.json only; absent in older summaries.
    #[serde(default)]
    pub unchanged_steps: u64,
}

/// One evaluation as the summary's running values read it: the test accuracy, and the test
/// loss and (LM tasks) validation bits per char where finite.
pub struct Evaluated {
    /// The step it followed (None: a metrics.csv row without one, read by `--resume`).
    pub step: Option<u64>,
    pub acc: Option<f64>,
    pub loss: Option<f64>,
    pub bpc: Option<f64>,
}

impl Summary {
    /// The running values after evaluation `e` (final and best accuracy, loss and bits per
    /// char; the step `target` was first reached at). True when this evaluation reached it
    /// first. The training loop and `--resume`'s check of trainer.json both use it.
    pub fn record(&mut self, e: &Evaluated, lm: bool, target: f64) -> bool {
        self.final_test_acc = e.acc;
        self.final_test_loss = e.loss;
        self.best_test_acc = match (self.best_test_acc, e.acc) {
            (Some(b), Some(a)) => Some(b.max(a)),
            (b, a) => a.or(b),
        };
        if lm {
            self.final_val_bpc = e.bpc;
            if let Some(v) = e.bpc {
                self.best_val_bpc = Some(self.best_val_bpc.map_or(v, |b| b.min(v)));
            }
        }
        let reached = match lm {
            true => e.bpc.is_some_and(|v| v <= target),
            false => e.acc.is_some_and(|a| a >= target),
        };
        let first = reached && self.steps_to_target.is_none();
        if first {
            self.steps_to_target = e.step;
        }
        first
    }
}

/// A running mean (sum and count) that survives a checkpoint.
#[derive(Serialize, Deserialize, Debug, Default, Clone, Copy)]
pub struct RunningMean {
    pub sum: f64,
    pub n: u64,
}

impl RunningMean {
    pub fn add(&mut self, values: &[f64]) {
        self.sum += values.iter().sum::<f64>();
        self.n += values.len() as u64;
    }

    pub fn mean(&self) -> Option<f64> {
        (self.n > 0).then(|| self.sum / self.n as f64)
    }
}

/// The run-level means of the epochs' diagnostics: ‖g‖, Pearson(update, probe gradient),
/// Pearson(consecutive updates).
#[derive(Serialize, Deserialize, Debug, Default, Clone, Copy)]
pub struct RunDiag {
    pub grad: RunningMean,
    pub pug: RunningMean,
    pub pc: RunningMean,
}

impl Trainer<'_> {
    /// Evaluate; one row of epochs.csv and of metrics.csv; the summary's running values. False
    /// when a loss came out non-finite.
    pub(super) fn end_epoch(
        &mut self,
        epoch: u64,
        csvs: [&mut Metrics; 2],
        budget: &Budget,
    ) -> Result<bool> {
        let [csv, metrics] = csvs;
        let model = &*self.task.model;
        let [(x_tr, y_tr), (x_te, y_te)] = self.source.eval_sets();
        const EVAL: i64 = EVAL_CHUNK as i64;
        let (train_loss, train_acc) = diag::evaluate(model, x_tr, y_tr, EVAL)?;
        let (test_loss, test_acc) = diag::evaluate(model, x_te, y_te, EVAL)?;
        let sharp = match self.cfg.train.sharpness_top_eig {
            true => sharpness::top_eig(model, &self.probe.0, &self.probe.1, sharpness::ITERS)?,
            false => None,
        };
        let wall = self.elapsed_s();
        let lm = self.task.id.is_lm();
        let finite = train_loss.is_finite() && test_loss.is_finite();
        let keep = |v: f64| Some(v).filter(|v| v.is_finite());
        let bpc = test_loss / std::f64::consts::LN_2;
        let mut row = self.ids.row(csv);
        row.num("epoch", epoch as f64)
            .opt("train_loss", keep(train_loss))
            .num("train_acc", train_acc)
            .opt("avg_grad_norm", mean(&self.epoch_grad))
            .opt("avg_pearson_update_grad", mean(&self.epoch_pug))
            .opt("avg_pearson_consecutive", mean(&self.epoch_pc))
            .opt("sharpness_top_eig", sharp)
            .num("wall_time_s", wall)
            .num("steps", self.step as f64);
        match lm {
            true => row
                .opt("val_loss", keep(test_loss))
                .opt("val_bpc", keep(bpc)),
            false => row
                .opt("test_loss", keep(test_loss))
                .num("test_acc", test_acc),
        };
        csv.write(&row)?;
        let mut m = metrics.new_row();
        m.num("step", self.step as f64).num("epoch", epoch as f64);
        for name in [
            "train_loss",
            "train_acc",
            "avg_grad_norm",
            "avg_pearson_update_grad",
            "avg_pearson_consecutive",
        ] {
            m.text(name, row.get(name));
        }
        m.opt("test_loss", keep(test_loss))
            .num("test_acc", test_acc)
            .opt("val_bpc", keep(bpc).filter(|_| lm))
            .num("wall_s", wall);
        metrics.write(&m)?;
        self.run_diag.grad.add(&self.epoch_grad);
        self.run_diag.pug.add(&self.epoch_pug);
        self.run_diag.pc.add(&self.epoch_pc);
        self.epoch_grad.clear();
        self.epoch_pug.clear();
        self.epoch_pc.clear();
        // A non-finite loss leaves its cells empty (the caller marks the run diverged).
        let e = Evaluated {
            step: Some(self.step),
            acc: Some(test_acc),
            loss: keep(test_loss),
            bpc: keep(bpc),
        };
        if self.summary.record(&e, lm, budget.target) {
            self.summary.time_to_target_s = Some(wall);
        }
        Ok(finite)
    }

    /// summary.csv and summary.json.
    pub(super) fn finish(&mut self, run: &Run, resolved: &str) -> Result<()> {
        let wall = self.elapsed_s();
        let s = &mut self.summary;
        s.total_time_s = wall;
        s.mean_step_ms = mean(&self.step_ms).unwrap_or(0.0);
        s.peak_rss_mb = diag::peak_rss_mb();
        s.steps = self.step;
        s.avg_grad_norm = self.run_diag.grad.mean();
        s.avg_pearson_update_grad = self.run_diag.pug.mean();
        s.avg_pearson_consecutive = self.run_diag.pc.mean();
        warn_idle_steps(s);
        let s = &self.summary;
        let mut csv = run.csv("summary.csv", columns::SUMMARY)?;
        let mut row = self.ids.row(&csv);
        row.opt("final_test_acc", s.final_test_acc)
            .opt("best_test_acc", s.best_test_acc)
            .opt("final_test_loss", s.final_test_loss)
            .opt("steps_to_target", s.steps_to_target.map(|v| v as f64))
            .opt("time_to_target_s", s.time_to_target_s)
            .num("total_time_s", s.total_time_s)
            .num("mean_step_ms", s.mean_step_ms)
            .opt("peak_rss_mb", s.peak_rss_mb)
            .num("diverged", f64::from(u8::from(s.diverged)))
            .text("config_json", resolved);
        csv.write(&row)?;
        run.write_summary(s)
    }
}

/// A warning naming the steps that left the parameters unchanged: skipped by the optimizer, or
/// taken with an update too small to change any parameter.
fn warn_idle_steps(s: &Summary) {
    if s.skipped_steps > 0 {
        eprintln!(
            "warning: the optimizer skipped {} of {} steps (parameters unchanged: a curvature \
             system was singular or a factor non-finite, spec §7); steps.csv \
             `nonfinite_skipped` marks them, summary.json `skipped_steps` counts them",
            s.skipped_steps, s.steps
        );
    }
    if s.unchanged_steps > 0 {
        eprintln!(
            "warning: on {} more of {} steps the update changed no parameter (steps.csv \
             `update_norm` 0: an lr of 0, or updates too small for the parameters' precision, \
             as R-Kalman's become once its covariances wind up); summary.json \
             `unchanged_steps` counts them: the final numbers are those of a model that did not \
             train on those steps",
            s.unchanged_steps, s.steps
        );
    }
}

/// The optimizer's own diagnostics; non-finite values stay blank (the run stops after the row).
pub(super) fn fill_report(row: &mut crate::run::Row, r: &StepReport) {
    let fin = |v: f64| Some(v).filter(|v| v.is_finite());
    let fin_opt = |v: Option<f64>| v.filter(|v| v.is_finite());
    row.opt("batch_loss", fin(r.loss))
        .opt("grad_norm", fin(r.grad_norm))
        .opt("gr_penalty", fin_opt(r.gr_penalty))
        .opt("grad_norm_reg", fin_opt(r.grad_norm_reg))
        .opt("damping_eff", fin_opt(r.damping_eff))
        .opt("kl_clip_scale", fin_opt(r.kl_clip_scale))
        .opt("newton_iters", r.newton_iters.map(f64::from))
        .opt("newton_resid_max", fin_opt(r.newton_resid_max))
        .num("lazy_guard_fallbacks", f64::from(r.lazy_guard_fallbacks))
        .num(
            "nonfinite_skipped",
            f64::from(u8::from(r.nonfinite_skipped)),
        )
        .num("time_fwd_bwd_ms", r.time_fwd_bwd_ms)
        .num("time_curv_ms", r.time_curv_ms)
        .num("time_precond_ms", r.time_precond_ms);
}

pub(super) fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}
