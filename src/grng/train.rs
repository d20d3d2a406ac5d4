//! One run: a task, an optimizer, the budget. Per step: the scheduled lr, an [`Objective`] for
//! the batch, `stepper.step`, Δθ from flat parameter snapshots (update_norm), and every
//! `diag_every` steps the §5.3 Pearson measures (−Δθ vs the probe-set gradient at θ_k; Δθ_k vs
//! Δθ_{k−1}). Per epoch: loss and accuracy on train and test (LM: val loss and bits per char).
//! A non-finite loss or update, or evaluation loss, ends the run honestly: its row keeps the
//! finite cells, the summary says `diverged = 1`, and the run still completes. Checkpoints and
//! `resume_from`: [`super::checkpoint`]; evaluation and summary: [`super::summary`].
use super::asserts;
use super::checkpoint::{self, TrainerState};
use super::columns;
use super::config::GrngConfig;
use super::diag;
use super::models::Classifier;
use super::source::Source;
use super::summary::{fill_report, RunDiag, Summary};
use super::tasks::{self, Budget, Task};
use crate::experiment::Ctx;
use crate::nn::{Captured, Tape};
use crate::optim::stepper::RngState;
use crate::optim::{Objective, Stepper};
use crate::run::{Metrics, Run};
use anyhow::Result;
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

/// The identifying cells every row starts with.
pub(super) struct Ids {
    pub(super) run_id: String,
    pub(super) optimizer: &'static str,
    pub(super) task: &'static str,
    pub(super) model: &'static str,
    seed: u64,
}

impl Ids {
    pub(super) fn row(&self, csv: &Metrics) -> crate::run::Row {
        let mut row = csv.new_row();
        row.text("run_id", &self.run_id)
            .text("optimizer", self.optimizer)
            .text("task", self.task)
            .text("model", self.model)
            .num("seed", self.seed as f64);
        row
    }
}

/// Everything a run holds between steps (what a checkpoint saves, see [`TrainerState`]).
pub(super) struct Trainer<'a> {
    pub(super) cfg: &'a GrngConfig,
    pub(super) task: Task,
    pub(super) source: Source,
    pub(super) stepper: Box<dyn Stepper>,
    pub(super) params: Vec<Tensor>,
    pub(super) probe: (Tensor, Tensor),
    pub(super) prev_delta: Option<Tensor>,
    pub(super) ids: Ids,
    pub(super) step: u64,
    /// Per-step values of the epoch in progress: grad norms and both Pearson measures.
    pub(super) epoch_grad: Vec<f64>,
    pub(super) epoch_pug: Vec<f64>,
    pub(super) epoch_pc: Vec<f64>,
    /// The same over the epochs already evaluated (the summary's Figure-1 averages).
    pub(super) run_diag: RunDiag,
    pub(super) step_ms: Vec<f64>,
    pub(super) summary: Summary,
    started: Instant,
    /// Seconds of training before this process (a resumed run).
    pub(super) elapsed_before: f64,
    /// The epoch in progress, the steps done when it started and the data RNG then.
    epoch_mark: (u64, u64, RngState),
}

/// The run's CSVs, open for appending rows.
pub(super) struct Csvs {
    pub(super) steps: Metrics,
    pub(super) epochs: Metrics,
    pub(super) metrics: Metrics,
}

/// The config that identifies a run (its `run_id` hash and summary `config_json`): the keys
/// that only say how this process runs (`resume_from`, `train.stop_after`) are left out, so a
/// resumed run keeps the id of an uninterrupted one.
fn identity(cfg: &GrngConfig) -> Result<String> {
    Ok(serde_json::to_string(&identity_config(cfg))?)
}

/// `cfg` without the keys [`identity`] leaves out.
pub(super) fn identity_config(cfg: &GrngConfig) -> GrngConfig {
    let mut c = cfg.clone();
    c.resume_from = None;
    c.train.stop_after = None;
    c
}

pub fn run(cfg: &GrngConfig, run: &mut Run, ctx: &mut Ctx) -> Result<()> {
    let (task, data) = tasks::build(cfg, ctx.device)?;
    check_stop_after(cfg, task.budget.steps, 0, None)?;
    let source = Source::new(data, cfg.data.seq_len, cfg.data.eval_tokens, ctx.device);
    let probe = source.probe(task.budget.probe_size);
    let sample = probe.0.narrow(0, 0, probe.0.size()[0].min(2));
    let stepper = cfg.optimizer.build(&*task.model, &sample, cfg.seed)?;
    let params = diag::params(&*task.model);
    let resolved = identity(cfg)?;
    let ids = Ids {
        run_id: crate::data::corpus::sha256_hex(resolved.as_bytes())[..12].to_string(),
        optimizer: cfg.optimizer.name(),
        task: task.id.name(),
        model: task.model_name,
        seed: cfg.seed,
    };
    let summary = Summary {
        run_id: ids.run_id.clone(),
        optimizer: ids.optimizer.into(),
        task: ids.task.into(),
        model: ids.model.into(),
        seed: ids.seed,
        target: task.budget.target,
        ..Summary::default()
    };
    let lm = task.id.is_lm();
    let mut csvs = Csvs {
        steps: run.csv("steps.csv", columns::STEPS)?,
        epochs: run.csv("epochs.csv", &columns::epochs(lm))?,
        metrics: run.csv("metrics.csv", columns::METRICS)?,
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
        run_diag: RunDiag::default(),
        step_ms: Vec::new(),
        summary,
        started: Instant::now(),
        elapsed_before: 0.0,
        epoch_mark: (1, 0, RngState::of(&ctx.rng)),
    };
    let resumed = match &cfg.resume_from {
        Some(dir) => Some(t.resume(dir, &mut csvs, ctx)?),
        None => None,
    };
    t.train(run, ctx, csvs, resumed, &resolved)
}

/// `train.stop_after` must fall after the steps already done (`done`, a checkpoint's) and
/// before the run's last step, `total`: elsewhere it would never stop the run. On a resume,
/// `inherited` is the resumed run's own `stop_after` (its config.yaml, which a resume reads):
/// that one, at or before `done`, is the stop that ended it, not a request.
pub(super) fn check_stop_after(
    cfg: &GrngConfig,
    total: u64,
    done: u64,
    inherited: Option<u64>,
) -> Result<()> {
    let Some(stop) = cfg.train.stop_after else {
        return Ok(());
    };
    if stop >= total {
        return Err(crate::error::usage(format!(
            "train.stop_after: {stop} is not before the run's last step {total} (train.steps, or \
             the task's epochs × batches), so it would never stop the run early; remove it or \
             set it below {total}"
        )));
    }
    if stop <= done && inherited != Some(stop) {
        return Err(crate::error::usage(format!(
            "train.stop_after: {stop} is not after the checkpoint's step {done} (it counts the \
             run's steps in all, not this process's), so it would never stop the run; remove it \
             or set it between {} and {}",
            done + 1,
            total - 1
        )));
    }
    Ok(())
}

impl Trainer<'_> {
    /// Seconds of training, this process's and those before a resume.
    pub(super) fn elapsed_s(&self) -> f64 {
        self.elapsed_before + self.started.elapsed().as_secs_f64()
    }

    /// Most steps of one epoch: an LM task's evaluation period, an image task's whole pass.
    pub(super) fn per_period(&self) -> u64 {
        match self.task.id.is_lm() {
            true => self.cfg.train.eval_every,
            false => u64::MAX,
        }
    }

    /// The epochs from the first (or the checkpoint's) to the budget, then the summary.
    /// `resumed`: the checkpoint's (epoch, steps done when that epoch started).
    fn train(
        &mut self,
        run: &mut Run,
        ctx: &mut Ctx,
        mut csvs: Csvs,
        mut resumed: Option<(u64, u64)>,
        resolved: &str,
    ) -> Result<()> {
        let budget: Budget = self.task.budget.clone();
        let lm = self.task.id.is_lm();
        let per_period = self.per_period();
        let mut progress = run.progress(budget.steps, "train");
        let first_epoch = resumed.map_or(1, |r| r.0);
        'epochs: for epoch in first_epoch..=budget.epochs {
            let epoch_start = resumed.take().map_or(self.step, |r| r.1);
            let left = budget.steps - epoch_start;
            if left == 0 {
                break;
            }
            self.epoch_mark = (epoch, epoch_start, RngState::of(&ctx.rng));
            let batches = self
                .source
                .epoch_batches(&budget, left.min(per_period), &mut ctx.rng)?;
            let done = (self.step - epoch_start) as usize;
            for (x, y) in batches.into_iter().skip(done) {
                let ok = self.step(epoch, x, y, &mut csvs.steps)?;
                progress.set(self.step, &format!("epoch {epoch}"));
                if !ok {
                    self.diverged("a non-finite loss or update");
                    break 'epochs;
                }
                if self.checkpoint_point(run, &budget)? {
                    progress.finish("stopped");
                    eprintln!(
                        "stopped after step {} of {} (train.stop_after); continue with \
                         `lab grng --resume {}`",
                        self.step,
                        budget.steps,
                        run.dir.display()
                    );
                    return Ok(());
                }
            }
            if !self.end_epoch(epoch, [&mut csvs.epochs, &mut csvs.metrics], &budget)? {
                self.diverged("a non-finite evaluation loss");
                break;
            }
        }
        let diverged = self.summary.diverged;
        progress.finish(if diverged { "diverged" } else { "done" });
        self.finish(run, resolved)?;
        match &self.cfg.assert {
            Some(a) => asserts::check(a, &run.dir, lm),
            None => Ok(()),
        }
    }

    /// Record divergence (`what` happened after the current step) as data and say so.
    fn diverged(&mut self, what: &str) {
        self.summary.diverged = true;
        eprintln!(
            "warning: the run diverged at step {} ({what}); recorded as data (summary \
             `diverged` = 1, spec §6.3) and the run completes; `assert: {{finite: true}}` makes \
             divergence a failure",
            self.step
        );
    }

    /// After a step: save a checkpoint when one is due (every `checkpoint_every` steps, the
    /// last step, `stop_after`, a signal), then stop on a signal. True at `stop_after`.
    fn checkpoint_point(&mut self, run: &Run, budget: &Budget) -> Result<bool> {
        let t = &self.cfg.train;
        let stop = t.stop_after == Some(self.step);
        let every = t.checkpoint_every > 0 && self.step.is_multiple_of(t.checkpoint_every);
        if stop || every || self.step == budget.steps || crate::run::interrupted() {
            self.save_checkpoint(run)?;
        }
        run.check_interrupt()?;
        Ok(stop)
    }

    fn save_checkpoint(&self, run: &Run) -> Result<()> {
        let (epoch, epoch_start_step, epoch_rng) = self.epoch_mark.clone();
        let state = TrainerState {
            format: checkpoint::FORMAT,
            optimizer: self.ids.optimizer.into(),
            task: self.ids.task.into(),
            step: self.step,
            epoch,
            epoch_start_step,
            epoch_rng,
            epoch_grad: self.epoch_grad.clone(),
            epoch_pug: self.epoch_pug.clone(),
            epoch_pc: self.epoch_pc.clone(),
            run_diag: self.run_diag,
            step_ms: self.step_ms.clone(),
            elapsed_s: self.elapsed_s(),
            summary: self.summary.clone(),
        };
        let vs = self.task.model.var_store();
        let opt = self.stepper.state_dict()?;
        checkpoint::save(&run.dir, &state, vs, self.prev_delta.as_ref(), &opt)
    }

    /// One optimizer step and its steps.csv row; false when the loss or update is not finite.
    fn step(&mut self, epoch: u64, x: Tensor, y: Tensor, csv: &mut Metrics) -> Result<bool> {
        let cfg = self.cfg;
        let lr = cfg
            .train
            .schedule
            .lr_at(cfg.optimizer.lr(), self.step, self.task.budget.steps);
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
        self.summary.skipped_steps += u64::from(report.nonfinite_skipped);
        let unchanged = update_norm == 0.0 && !report.nonfinite_skipped;
        self.summary.unchanged_steps += u64::from(unchanged);
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
}
