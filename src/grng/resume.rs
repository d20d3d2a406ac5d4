//! `--resume`: the checks of a checkpoint's trainer.json against the run it continues, and the
//! restore. The epoch's counters, data RNG and per-step values are all determined by the
//! run's config and seed and by the rows the stopped run wrote, so they are recomputed and
//! compared: an edited `epoch_start_step`, `epoch_rng`, `step` past its epoch, or per-step
//! values (`epoch_grad`, `epoch_pug`, `epoch_pc`, `run_diag`) other than steps.csv's would
//! make the continued run differ from an uninterrupted one, so each is refused (exit 2)
//! naming the file and the key.
use super::checkpoint::{self, TrainerState};
use super::diag;
use super::summary::{Evaluated, RunDiag, RunningMean, Summary};
use super::train::{Csvs, Trainer};
use crate::error::usage;
use crate::experiment::Ctx;
use crate::optim::stepper::RngState;
use crate::run::{carry_rows, Upto};
use anyhow::Result;
use rand_chacha::ChaCha8Rng;
use std::path::Path;

impl Trainer<'_> {
    /// Restore the model, optimizer, data RNG and counters from `dir`'s checkpoint and copy
    /// the old run's rows up to it; returns (epoch, steps done when that epoch started).
    pub(super) fn resume(
        &mut self,
        dir: &Path,
        csvs: &mut Csvs,
        ctx: &mut Ctx,
    ) -> Result<(u64, u64)> {
        let (opt, task) = (self.ids.optimizer, self.ids.task);
        let ck = checkpoint::load(dir, opt, task, self.cfg.seed, self.task.budget.steps)?;
        if ck.trainer.summary.run_id != self.ids.run_id {
            return Err(checkpoint::config_changed(dir, self.cfg));
        }
        let bad = |e: anyhow::Error| {
            usage(format!(
                "resume_from: {e:#}; the checkpoint of {} does not fit this run (damaged or \
                 edited?): start the run again without --resume",
                dir.display()
            ))
        };
        let (vs, n) = (
            self.task.model.var_store(),
            diag::flat(&self.params).numel(),
        );
        let delta = ck.restore(vs, &mut *self.stepper, n as i64).map_err(bad)?;
        self.prev_delta = Some(delta.to_device(self.probe.0.device()));
        let path = ck.dir.join("trainer.json");
        let epochs = self.check_schedule(&ck.trainer, &path, ctx.rng.clone())?;
        let t = ck.trainer;
        let inherited = checkpoint::stop_after_of(dir);
        super::train::check_stop_after(self.cfg, self.task.budget.steps, t.step, inherited)?;
        ctx.rng = t.epoch_rng.restore().map_err(bad)?;
        self.step = t.step;
        self.epoch_grad = t.epoch_grad.clone();
        self.epoch_pug = t.epoch_pug.clone();
        self.epoch_pc = t.epoch_pc.clone();
        self.step_ms = t.step_ms.clone();
        self.elapsed_before = t.elapsed_s;
        self.summary = Summary {
            run_id: self.ids.run_id.clone(),
            ..t.summary.clone()
        };
        let last_epoch = Upto::Numbered(t.epoch - 1);
        carry_rows(
            &dir.join("steps.csv"),
            "step",
            Upto::Numbered(t.step),
            &mut csvs.steps,
        )?;
        carry_rows(
            &dir.join("epochs.csv"),
            "epoch",
            last_epoch,
            &mut csvs.epochs,
        )?;
        carry_rows(
            &dir.join("metrics.csv"),
            "epoch",
            last_epoch,
            &mut csvs.metrics,
        )?;
        // After the carried rows: their structure is checked there.
        let rows = read_columns(&dir.join("steps.csv"), "step", &STEP_COLUMNS)?;
        self.run_diag = check_step_values(&rows, &path, &t, &epochs)?;
        // Counted from the rows, so checkpoints written before the summary counted them resume
        // right.
        self.summary.skipped_steps = rows
            .iter()
            .filter(|(s, v)| *s <= t.step && v[3] == Some(1.0))
            .count() as u64;
        self.summary.unchanged_steps = rows
            .iter()
            .filter(|(s, v)| *s <= t.step && v[3] == Some(0.0) && v[4] == Some(0.0))
            .count() as u64;
        self.check_summary(&dir.join("metrics.csv"), &path, &t)?;
        Ok((t.epoch, t.epoch_start_step))
    }

    /// trainer.json's epoch counters and data RNG against this run's schedule replayed from
    /// `rng` (the run's data RNG before its first epoch); returns each epoch's (steps done
    /// before it, its steps) up to the checkpoint's.
    fn check_schedule(
        &self,
        t: &TrainerState,
        path: &Path,
        rng: ChaCha8Rng,
    ) -> Result<Vec<(u64, u64)>> {
        let refuse = |key: &str, why: String| {
            usage(format!(
                "resume_from: {} is damaged or edited: `{key}` {why}; start the run again \
                 without --resume",
                path.display()
            ))
        };
        let budget = &self.task.budget;
        let replayed = match t.epoch <= budget.epochs {
            true => self
                .source
                .replay(budget, self.per_period(), t.epoch, rng)?,
            false => None,
        };
        let Some((epochs, at)) = replayed else {
            let why = format!("is {}, past the run's last epoch", t.epoch);
            return Err(refuse("epoch", why));
        };
        let (start, count) = epochs[epochs.len() - 1];
        if t.epoch_start_step != start {
            let why = format!(
                "is {}, but epoch {} of this run starts after step {start}",
                t.epoch_start_step, t.epoch
            );
            return Err(refuse("epoch_start_step", why));
        }
        if t.step > start + count {
            let why = format!(
                "is {}, past the end of epoch {} (steps {} to {})",
                t.step,
                t.epoch,
                start + 1,
                start + count
            );
            return Err(refuse("step", why));
        }
        let want = RngState::of(&at);
        let same_pos = t.epoch_rng.word_pos.parse::<u128>().ok() == Some(at.get_word_pos());
        if t.epoch_rng.seed != want.seed || t.epoch_rng.stream != want.stream || !same_pos {
            let why = format!(
                "is not the data RNG this run's seed {} gives at the start of epoch {} (stream \
                 {}, word_pos {})",
                self.cfg.seed, t.epoch, want.stream, want.word_pos
            );
            return Err(refuse("epoch_rng", why));
        }
        Ok(epochs)
    }
}

/// The steps.csv columns a resume reads: the three [`check_step_values`] checks, then
/// `nonfinite_skipped` and `update_norm` (the summary's `skipped_steps` and `unchanged_steps`).
const STEP_COLUMNS: [&str; 5] = [
    "grad_norm",
    "pearson_update_grad",
    "pearson_consecutive",
    "nonfinite_skipped",
    "update_norm",
];

/// The per-step values trainer.json (`path`) carries must be the stopped run's: `epoch_grad`,
/// `epoch_pug` and `epoch_pc` those of steps.csv (its `rows`) in the epoch in progress
/// (grad_norm, and the non-empty pearson_update_grad and pearson_consecutive cells), and
/// `run_diag` their sums over the epochs before it (`epochs`: each epoch's first step − 1 and
/// its steps). An edited value changed the epoch averages and the summary silently. Returns
/// the run's `run_diag`: trainer.json's, or steps.csv's sums where the checkpoint predates the
/// key (so a run resumed from such a checkpoint saves, and is checked against, the whole run's).
fn check_step_values(
    rows: &[(u64, Vec<Option<f64>>)],
    path: &Path,
    t: &TrainerState,
    epochs: &[(u64, u64)],
) -> Result<RunDiag> {
    let bad = |what: String| {
        usage(format!(
            "resume_from: {} is damaged or edited: {what}; start the run again without --resume",
            path.display()
        ))
    };
    let cols = &STEP_COLUMNS[..3];
    let keys = ["epoch_grad", "epoch_pug", "epoch_pc"];
    let saved = [&t.epoch_grad, &t.epoch_pug, &t.epoch_pc];
    let diags = [&t.run_diag.grad, &t.run_diag.pug, &t.run_diag.pc];
    let mut found = [RunningMean::default(); 3];
    for (c, ((key, saved), diag)) in keys.iter().zip(saved).zip(diags).enumerate() {
        let in_epoch = |from: u64, to: u64| -> Vec<(u64, f64)> {
            let range = rows.iter().filter(|(s, _)| *s > from && *s <= to);
            range.filter_map(|(s, v)| v[c].map(|v| (*s, v))).collect()
        };
        let start = t.epoch_start_step;
        let logged = in_epoch(start, t.step);
        if logged.len() != saved.len() {
            return Err(bad(format!(
                "`{key}` holds {} values, steps.csv logged {} `{}` cells in steps {} to {}",
                saved.len(),
                logged.len(),
                cols[c],
                start + 1,
                t.step
            )));
        }
        for (i, ((step, csv), v)) in logged.iter().zip(saved.iter()).enumerate() {
            if csv != v {
                return Err(bad(format!(
                    "`{key}[{i}]` is {v}, steps.csv's `{}` at step {step} is {csv}",
                    cols[c]
                )));
            }
        }
        let mut want = RunningMean::default();
        for &(from, count) in &epochs[..epochs.len() - 1] {
            let values: Vec<f64> = in_epoch(from, from + count).iter().map(|p| p.1).collect();
            want.add(&values);
        }
        // Checkpoints from before `run_diag` existed hold none (module doc of checkpoint.rs).
        let absent = diag.n == 0 && diag.sum == 0.0;
        if !absent && (diag.n != want.n || diag.sum.to_bits() != want.sum.to_bits()) {
            return Err(bad(format!(
                "`run_diag` sums {} over {} steps for `{}`, steps.csv's epochs before epoch {} \
                 give {} over {}",
                diag.sum, diag.n, cols[c], t.epoch, want.sum, want.n
            )));
        }
        found[c] = want;
    }
    let [grad, pug, pc] = found;
    Ok(RunDiag { grad, pug, pc })
}

impl Trainer<'_> {
    /// trainer.json's running summary against this run and the stopped run's metrics.csv
    /// (`metrics`): the identifying fields are this run's, the run has not diverged (a
    /// diverged run saves no checkpoint), and the final/best test accuracy, loss, bits per
    /// char and the step the target was reached at are those of its evaluations before epoch
    /// `t.epoch`. Timing fields (seconds, step times, peak RSS) are not compared: they differ
    /// between any two runs. An edited one was carried into summary.csv/summary.json.
    fn check_summary(&self, metrics: &Path, path: &Path, t: &TrainerState) -> Result<()> {
        let s = &t.summary;
        let refuse = |key: &str, saved: String, want: String| {
            usage(format!(
                "resume_from: {} is damaged or edited: `summary.{key}` is {saved}, this run \
                 gives {want}; start the run again without --resume",
                path.display()
            ))
        };
        let ids = &self.ids;
        let texts = [
            ("optimizer", &s.optimizer, ids.optimizer),
            ("task", &s.task, ids.task),
            ("model", &s.model, ids.model),
        ];
        for (key, saved, want) in texts {
            if saved != want {
                return Err(refuse(key, format!("`{saved}`"), format!("`{want}`")));
            }
        }
        let target = self.task.budget.target;
        if s.target.to_bits() != target.to_bits() {
            return Err(refuse("target", s.target.to_string(), target.to_string()));
        }
        if s.diverged {
            let why = "false (a diverged run saves no checkpoint)".to_string();
            return Err(refuse("diverged", "true".into(), why));
        }
        let cols = ["step", "test_loss", "test_acc", "val_bpc"];
        let rows = read_columns(metrics, "epoch", &cols)?;
        let lm = self.task.id.is_lm();
        let mut want = Summary::default();
        for (_, c) in rows.iter().filter(|(e, _)| *e < t.epoch) {
            let (step, loss, acc, bpc) = (c[0], c[1], c[2], c[3]);
            let step = step.map(|v| v as u64);
            want.record(
                &Evaluated {
                    step,
                    acc,
                    loss,
                    bpc,
                },
                lm,
                target,
            );
        }
        let show = |v: Option<f64>| v.map_or("null".to_string(), |v| v.to_string());
        let bits = |v: Option<f64>| v.map(f64::to_bits);
        let numbers = [
            ("final_test_acc", s.final_test_acc, want.final_test_acc),
            ("best_test_acc", s.best_test_acc, want.best_test_acc),
            ("final_test_loss", s.final_test_loss, want.final_test_loss),
            ("final_val_bpc", s.final_val_bpc, want.final_val_bpc),
            ("best_val_bpc", s.best_val_bpc, want.best_val_bpc),
        ];
        for (key, saved, want) in numbers {
            if bits(saved) != bits(want) {
                let want = format!("{} (metrics.csv before epoch {})", show(want), t.epoch);
                return Err(refuse(key, show(saved), want));
            }
        }
        if s.steps_to_target != want.steps_to_target {
            let f = |v: Option<u64>| v.map_or("null".to_string(), |v| v.to_string());
            let why = format!(
                "{} (metrics.csv before epoch {})",
                f(want.steps_to_target),
                t.epoch
            );
            return Err(refuse("steps_to_target", f(s.steps_to_target), why));
        }
        Ok(())
    }
}

/// Per row of the CSV at `path`: its `key` column (a count: step or epoch) and the cells of
/// `cols` (None where empty). Its structure is checked again when its rows are carried.
fn read_columns(path: &Path, key: &str, cols: &[&str]) -> Result<Vec<(u64, Vec<Option<f64>>)>> {
    let name = path.display();
    let bad = |what: String| usage(format!("resume_from: {name}: {what}"));
    let file = crate::input::open_result(path).map_err(|e| bad(format!("cannot read: {e}")))?;
    let mut reader = csv::Reader::from_reader(file);
    let header = reader.headers().map_err(|e| bad(format!("{e}")))?.clone();
    let at = |c: &str| {
        header
            .iter()
            .position(|h| h == c)
            .ok_or_else(|| bad(format!("has no `{c}` column")))
    };
    let key_at = at(key)?;
    let idx = cols.iter().map(|c| at(c)).collect::<Result<Vec<usize>>>()?;
    let mut out = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let line = i + 2;
        let row = row.map_err(|e| bad(format!("line {line}: {e}")))?;
        let num = |j: usize| -> Result<Option<f64>> {
            let cell = row.get(j).unwrap_or("");
            match cell {
                "" => Ok(None),
                _ => cell.parse().map(Some).map_err(|_| {
                    bad(format!(
                        "line {line}: `{}` is `{cell}`, not a number",
                        &header[j]
                    ))
                }),
            }
        };
        let k = num(key_at)?.unwrap_or(f64::NAN);
        if !(k >= 0.0 && k.fract() == 0.0) {
            return Err(bad(format!("line {line}: `{key}` is not a count")));
        }
        let cells = idx.iter().map(|&j| num(j)).collect::<Result<Vec<_>>>()?;
        out.push((k as u64, cells));
    }
    Ok(out)
}
