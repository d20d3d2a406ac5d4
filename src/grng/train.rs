//! One run: a task, an optimizer, the budget. Per step: the scheduled lr, an [`Objective`] for
//! the batch, `stepper.step`, Δθ from flat parameter snapshots (update_norm), and every
//! `diag_every` steps the §5.3 Pearson measures (−Δθ vs the probe-set gradient at θ_k; Δθ_k vs
//! Δθ_{k−1}). Per epoch: loss and accuracy on train and test (LM: val loss and bits per char).
//! A non-finite loss or update ends the run honestly: its row keeps the finite cells, the
//! summary says `diverged = 1`, and the run still completes.
use super::columns;
use super::config::{GrngConfig, Schedule};
use super::diag;
use super::models::Classifier;
use super::source::Source;
use super::tasks::{self, Budget, Task};
use crate::experiment::Ctx;
use crate::nn::{Captured, Tape};
use crate::optim::{Objective, StepReport, Stepper};
use crate::run::{Metrics, Run};
use anyhow::Result;
use serde::Serialize;
use std::time::Instant;
use tch::Tensor;

/// One step's batch for a [`Stepper`].
pub struct Batch<'a> {
    pub model: &'a dyn Classifier,
    pub x: Tensor,
    /// `(N,)` labels (LM: `(B·T,)`).
    pub y: Tensor,
}

impl Objective for Batch<'_> {
    fn forward(&mut self, capture: bool) -> Result<(Tensor, Vec<Captured>)> {
        let mut tape = if capture { Tape::on() } else { Tape::off() };
        let logits = self.model.forward(&self.x, &mut tape)?;
        Ok((logits, tape.items))
    }
    fn targets(&self) -> &Tensor {
        &self.y
    }
}

/// The learning rate of update `step` (0-based) of `total` (§3.1: MultiStep ×0.1 at 50 %/75 %).
pub fn lr_at(schedule: Schedule, base: f64, step: u64, total: u64) -> f64 {
    let p = step as f64 / total.max(1) as f64;
    match schedule {
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

/// The identifying cells every row starts with.
struct Ids {
    run_id: String,
    optimizer: &'static str,
    task: &'static str,
    model: &'static str,
    seed: u64,
}

impl Ids {
    fn row(&self, csv: &Metrics) -> crate::run::Row {
        let mut row = csv.new_row();
        row.text("run_id", &self.run_id)
            .text("optimizer", self.optimizer)
            .text("task", self.task)
            .text("model", self.model)
            .num("seed", self.seed as f64);
        row
    }
}

/// What `summary.json` holds (summary.csv has the same numbers).
#[derive(Serialize, Debug, Default)]
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
}

/// Everything a run holds between steps.
struct Trainer<'a> {
    cfg: &'a GrngConfig,
    task: Task,
    source: Source,
    stepper: Box<dyn Stepper>,
    params: Vec<Tensor>,
    probe: (Tensor, Tensor),
    prev_delta: Option<Tensor>,
    ids: Ids,
    step: u64,
    /// Per-epoch sums: grad norms, Pearson values (count, sum) of both kinds.
    epoch_grad: Vec<f64>,
    epoch_pug: Vec<f64>,
    epoch_pc: Vec<f64>,
    step_ms: Vec<f64>,
    started: Instant,
}

pub fn run(cfg: &GrngConfig, run: &mut Run, ctx: &mut Ctx) -> Result<()> {
    let (task, data) = tasks::build(cfg, ctx.device)?;
    let source = Source::new(data, cfg.data.seq_len, cfg.data.eval_tokens, ctx.device);
    let probe = source.probe(task.budget.probe_size);
    let sample = probe.0.narrow(0, 0, probe.0.size()[0].min(2));
    let stepper = cfg.optimizer.build(&*task.model, &sample, cfg.seed)?;
    let params = diag::params(&*task.model);
    let resolved = serde_json::to_string(cfg)?;
    let ids = Ids {
        run_id: crate::data::corpus::sha256_hex(resolved.as_bytes())[..12].to_string(),
        optimizer: cfg.optimizer.name(),
        task: task.id.name(),
        model: task.model_name,
        seed: cfg.seed,
    };
    let mut t = Trainer {
        cfg,
        task,
        source,
        stepper,
        params,
        probe,
        prev_delta: None,
        ids,
        step: 0,
        epoch_grad: Vec::new(),
        epoch_pug: Vec::new(),
        epoch_pc: Vec::new(),
        step_ms: Vec::new(),
        started: Instant::now(),
    };
    t.train(run, ctx, &resolved)
}

impl Trainer<'_> {
    fn train(&mut self, run: &mut Run, ctx: &mut Ctx, resolved: &str) -> Result<()> {
        let budget: Budget = self.task.budget.clone();
        let lm = self.task.id.is_lm();
        let mut steps_csv = run.csv("steps.csv", columns::STEPS)?;
        let mut epochs_csv = run.csv("epochs.csv", &columns::epochs(lm))?;
        let mut metrics_csv = run.csv("metrics.csv", columns::METRICS)?;
        let mut summary = self.new_summary(&budget);
        let mut progress = run.progress(budget.steps, "train");
        'epochs: for epoch in 1..=budget.epochs {
            let per_period = if lm {
                self.cfg.train.eval_every
            } else {
                u64::MAX
            };
            let left = budget.steps - self.step;
            if left == 0 {
                break;
            }
            let batches = self
                .source
                .epoch_batches(&budget, left.min(per_period), &mut ctx.rng)?;
            for (x, y) in batches {
                let ok = self.step(epoch, x, y, &mut steps_csv)?;
                progress.set(self.step, &format!("epoch {epoch}"));
                run.check_interrupt()?;
                if !ok {
                    summary.diverged = true;
                    break 'epochs;
                }
            }
            let csvs = [&mut epochs_csv, &mut metrics_csv];
            self.end_epoch(epoch, csvs, &mut summary, &budget)?;
        }
        progress.finish(if summary.diverged { "diverged" } else { "done" });
        self.finish(run, summary, resolved)
    }

    /// One optimizer step and its steps.csv row; false when the loss or update is not finite.
    fn step(&mut self, epoch: u64, x: Tensor, y: Tensor, csv: &mut Metrics) -> Result<bool> {
        let cfg = self.cfg;
        let lr = lr_at(
            cfg.train.schedule,
            cfg.optimizer.lr(),
            self.step,
            self.task.budget.steps,
        );
        self.stepper.set_lr(lr);
        self.step += 1;
        let diag_step = self.step.is_multiple_of(cfg.train.diag_every);
        let probe_grad = match diag_step {
            true => Some(diag::probe_gradient(
                &*self.task.model,
                &self.params,
                &self.probe.0,
                &self.probe.1,
            )?),
            false => None,
        };
        let before = diag::flat(&self.params);
        let mut obj = Batch {
            model: &*self.task.model,
            x,
            y,
        };
        let t0 = Instant::now();
        let report = self.stepper.step(&mut obj)?;
        let step_ms = t0.elapsed().as_secs_f64() * 1e3;
        let delta = diag::flat(&self.params) - &before;
        let update_norm = delta.norm().double_value(&[]);
        let pug = probe_grad.and_then(|g| diag::pearson(&(-&delta), &g));
        let pc = match (diag_step, &self.prev_delta) {
            (true, Some(prev)) => diag::pearson(&delta, prev),
            _ => None,
        };
        self.prev_delta = Some(delta);
        let finite = report.loss.is_finite() && update_norm.is_finite();
        if finite {
            self.step_ms.push(step_ms);
            self.epoch_grad.push(report.grad_norm);
            self.epoch_pug.extend(pug);
            self.epoch_pc.extend(pc);
        }
        let mut row = self.ids.row(csv);
        row.num("epoch", epoch as f64)
            .num("step", self.step as f64)
            .num("lr", lr);
        fill_report(&mut row, &report);
        row.opt("update_norm", Some(update_norm).filter(|v| v.is_finite()))
            .opt("pearson_update_grad", pug)
            .opt("pearson_consecutive", pc)
            .num("time_step_ms", step_ms);
        csv.write(&row)?;
        Ok(finite)
    }

    /// Evaluate; one row of epochs.csv and of metrics.csv; the summary's running values.
    fn end_epoch(
        &mut self,
        epoch: u64,
        csvs: [&mut Metrics; 2],
        s: &mut Summary,
        budget: &Budget,
    ) -> Result<()> {
        let [csv, metrics] = csvs;
        let model = &*self.task.model;
        let [(x_tr, y_tr), (x_te, y_te)] = self.source.eval_sets();
        let (train_loss, train_acc) = diag::evaluate(model, x_tr, y_tr, 256)?;
        let (test_loss, test_acc) = diag::evaluate(model, x_te, y_te, 256)?;
        let wall = self.started.elapsed().as_secs_f64();
        let lm = self.task.id.is_lm();
        let bpc = test_loss / std::f64::consts::LN_2;
        let mut row = self.ids.row(csv);
        row.num("epoch", epoch as f64)
            .num("train_loss", train_loss)
            .num("train_acc", train_acc)
            .opt("avg_grad_norm", mean(&self.epoch_grad))
            .opt("avg_pearson_update_grad", mean(&self.epoch_pug))
            .opt("avg_pearson_consecutive", mean(&self.epoch_pc))
            .num("wall_time_s", wall)
            .num("steps", self.step as f64);
        match lm {
            true => row.num("val_loss", test_loss).num("val_bpc", bpc),
            false => row.num("test_loss", test_loss).num("test_acc", test_acc),
        };
        csv.write(&row)?;
        let mut m = metrics.new_row();
        m.num("step", self.step as f64).num("epoch", epoch as f64);
        for name in [
            "train_loss",
            "train_acc",
            "avg_grad_norm",
            "avg_pearson_update_grad",
        ] {
            m.text(name, row.get(name));
        }
        m.text(
            "avg_pearson_consecutive",
            row.get("avg_pearson_consecutive"),
        )
        .num("test_loss", test_loss)
        .num("test_acc", test_acc)
        .opt("val_bpc", lm.then_some(bpc))
        .num("wall_s", wall);
        metrics.write(&m)?;
        self.epoch_grad.clear();
        self.epoch_pug.clear();
        self.epoch_pc.clear();
        s.final_test_acc = Some(test_acc);
        s.final_test_loss = Some(test_loss);
        s.best_test_acc = Some(s.best_test_acc.map_or(test_acc, |b| b.max(test_acc)));
        if lm {
            s.final_val_bpc = Some(bpc);
            s.best_val_bpc = Some(s.best_val_bpc.map_or(bpc, |b| b.min(bpc)));
        }
        let reached = if lm {
            bpc <= budget.target
        } else {
            test_acc >= budget.target
        };
        if reached && s.steps_to_target.is_none() {
            s.steps_to_target = Some(self.step);
            s.time_to_target_s = Some(wall);
        }
        Ok(())
    }

    fn new_summary(&self, budget: &Budget) -> Summary {
        Summary {
            run_id: self.ids.run_id.clone(),
            optimizer: self.ids.optimizer.into(),
            task: self.ids.task.into(),
            model: self.ids.model.into(),
            seed: self.ids.seed,
            target: budget.target,
            ..Summary::default()
        }
    }

    /// summary.csv and summary.json.
    fn finish(&self, run: &Run, mut s: Summary, resolved: &str) -> Result<()> {
        s.total_time_s = self.started.elapsed().as_secs_f64();
        s.mean_step_ms = mean(&self.step_ms).unwrap_or(0.0);
        s.peak_rss_mb = diag::peak_rss_mb();
        s.steps = self.step;
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
        run.write_summary(&s)
    }
}

/// The optimizer's own diagnostics; non-finite values stay blank (the run stops after the row).
fn fill_report(row: &mut crate::run::Row, r: &StepReport) {
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

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}
