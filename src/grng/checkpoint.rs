//! Run-level checkpoints (spec §6.11 test 26, §7 "state save/restore"): everything a run needs to
//! continue exactly where it stopped, saved every `train.checkpoint_every` steps, at the last
//! step, at `train.stop_after` and when SIGINT/SIGTERM stops the run; `lab grng --resume RUN_DIR`
//! (config key `resume_from`) continues it into a new run directory whose CSVs start with the
//! old run's rows up to the checkpoint, so on CPU with a fixed thread count the continued run's
//! CSVs equal an uninterrupted run's (timing columns aside).
//!
//! `<run>/checkpoint/` holds:
//! - `model.safetensors`: the model's variables by name, plus the trainer's f64 vectors
//!   (`trainer/prev_delta`, the per-epoch sums) so they come back bit for bit;
//! - `optimizer.safetensors` + `optimizer.json`: the optimizer's versioned state (`optim::state`);
//! - `trainer.json`: step and epoch counters, the data RNG at the start of the epoch in progress
//!   (the epoch's batches are drawn again and the done ones skipped), the running summary.
//!
//! A new checkpoint is written to `checkpoint.new/` and swapped in by two renames (the old one
//! goes to `checkpoint.old/` in between), so a crash leaves one whole checkpoint.
use super::config::GrngConfig;
use super::summary::{RunDiag, Summary};
use super::train::identity_config;
use crate::error::usage;
use crate::optim::stepper::RngState;
use crate::optim::{StateDict, StateHeader, Stepper};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::{Path, PathBuf};
use tch::nn::VarStore;
use tch::Tensor;

/// Folder of the latest checkpoint inside a run directory.
pub const DIR: &str = "checkpoint";
/// Version of `trainer.json`; other versions are refused.
pub const FORMAT: u32 = 1;
const PREV_DELTA: &str = "trainer/prev_delta";

/// The trainer's counters and running values (`trainer.json`).
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct TrainerState {
    pub format: u32,
    pub optimizer: String,
    pub task: String,
    /// Completed optimizer steps.
    pub step: u64,
    /// The epoch (LM: evaluation period) in progress, from 1; its evaluation is still to come.
    pub epoch: u64,
    /// Steps completed when that epoch started.
    pub epoch_start_step: u64,
    /// The data RNG before the epoch's batches were drawn.
    pub epoch_rng: RngState,
    /// Per-step values of the epoch in progress (the epoch averages of epochs.csv).
    pub epoch_grad: Vec<f64>,
    pub epoch_pug: Vec<f64>,
    pub epoch_pc: Vec<f64>,
    /// The run-level means over the epochs evaluated so far (absent in checkpoints written
    /// before they existed: a resume then sums them from steps.csv).
    #[serde(default)]
    pub run_diag: RunDiag,
    /// Step times so far (the summary's mean_step_ms).
    pub step_ms: Vec<f64>,
    /// Seconds of training so far (wall_time_s continues from here).
    pub elapsed_s: f64,
    pub summary: Summary,
}

/// What a checkpoint restores: the trainer state, the model and optimizer tensors.
pub struct Checkpoint {
    /// The checkpoint folder (named in errors).
    pub dir: PathBuf,
    pub trainer: TrainerState,
    pub model: Vec<(String, Tensor)>,
    pub optimizer: StateDict,
}

impl Checkpoint {
    /// Δθ of the step before the checkpoint (the next §5.3 consecutive Pearson measure): a
    /// finite f64 vector of the model's `n` parameters. Every checkpoint follows a step, so
    /// it is never missing (a missing one blanked the next measure, a short one panicked).
    pub fn prev_delta(&self, n: i64) -> Result<Tensor> {
        let file = self.dir.join("model.safetensors");
        let Some((_, t)) = self.model.iter().find(|(k, _)| k == PREV_DELTA) else {
            bail!(
                "{}: lacks `{PREV_DELTA}`, the update of the step before the checkpoint",
                file.display()
            );
        };
        if t.size() != [n] || t.kind() != tch::Kind::Double {
            bail!(
                "{}: `{PREV_DELTA}` is {:?} {:?}, this model's update is Double [{n}]",
                file.display(),
                t.kind(),
                t.size()
            );
        }
        if let Some(why) = crate::optim::state::not_finite_float(t) {
            bail!("{}: `{PREV_DELTA}` {why}", file.display());
        }
        Ok(t.shallow_clone())
    }

    /// Restore the model and `stepper` after checking everything they get (the model's
    /// variables, the optimizer state's step, settings, keys, shapes, dtypes and values);
    /// returns the previous update of [`Checkpoint::prev_delta`].
    pub fn restore(&self, vs: &VarStore, stepper: &mut dyn Stepper, n: i64) -> Result<Tensor> {
        let delta = self.prev_delta(n)?;
        self.check_optimizer(&stepper.state_dict()?.header)?;
        restore_model(vs, self)?;
        let files = self.dir.join("optimizer.{json,safetensors}");
        stepper
            .load_state_dict(&self.optimizer)
            .with_context(|| format!("{}", files.display()))?;
        Ok(delta)
    }

    /// The optimizer state must be at the trainer's step and have the settings of `fresh`,
    /// the optimizer this run's config builds ([`StateDict::check_settings`]).
    pub fn check_optimizer(&self, fresh: &StateHeader) -> Result<()> {
        let header = self.dir.join("optimizer.json");
        let (opt, trainer) = (self.optimizer.header.step, self.trainer.step);
        if opt != trainer {
            bail!(
                "{} is at step {opt}, trainer.json at step {trainer}: the files are of \
                 different checkpoints",
                header.display()
            );
        }
        let settings = self.optimizer.check_settings(fresh);
        settings.with_context(|| format!("{}", header.display()))
    }
}

/// Write the checkpoint of a run into `run_dir` (module doc: new folder, then two renames).
pub fn save(
    run_dir: &Path,
    trainer: &TrainerState,
    vs: &VarStore,
    prev_delta: Option<&Tensor>,
    optimizer: &StateDict,
) -> Result<()> {
    let new = run_dir.join(format!("{DIR}.new"));
    if new.exists() {
        fs::remove_dir_all(&new).with_context(|| format!("removing {}", new.display()))?;
    }
    fs::create_dir_all(&new).with_context(|| format!("creating {}", new.display()))?;
    let mut tensors: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .map(|(k, t)| (k, t.detach().to_device(tch::Device::Cpu).contiguous()))
        .collect();
    if let Some(d) = prev_delta {
        tensors.push((
            PREV_DELTA.into(),
            d.to_device(tch::Device::Cpu).contiguous(),
        ));
    }
    let named: Vec<(&str, &Tensor)> = tensors.iter().map(|(k, t)| (k.as_str(), t)).collect();
    let model = new.join("model.safetensors");
    Tensor::write_safetensors(&named, &model)
        .with_context(|| format!("writing {}", model.display()))?;
    optimizer.save(&new, "optimizer")?;
    crate::run::write_json(&new.join("trainer.json"), trainer)?;
    swap_in(run_dir, &new)
}

/// `checkpoint.new` → `checkpoint`, the previous one moved to `checkpoint.old` meanwhile.
fn swap_in(run_dir: &Path, new: &Path) -> Result<()> {
    let cur = run_dir.join(DIR);
    let old = run_dir.join(format!("{DIR}.old"));
    let rename = |a: &Path, b: &Path| {
        fs::rename(a, b).with_context(|| format!("renaming {} to {}", a.display(), b.display()))
    };
    if old.exists() {
        fs::remove_dir_all(&old).with_context(|| format!("removing {}", old.display()))?;
    }
    if cur.exists() {
        rename(&cur, &old)?;
    }
    rename(new, &cur)?;
    if old.exists() {
        fs::remove_dir_all(&old).with_context(|| format!("removing {}", old.display()))?;
    }
    Ok(())
}

/// The checkpoint folder of `run_dir`: `checkpoint/`, or `checkpoint.old/` when a crash came
/// between the two renames.
fn find(run_dir: &Path) -> Result<PathBuf> {
    for name in [DIR.to_string(), format!("{DIR}.old")] {
        let dir = run_dir.join(name);
        if dir.join("trainer.json").is_file() {
            return Ok(dir);
        }
    }
    Err(usage(format!(
        "resume_from: {} has no checkpoint (no {DIR}/trainer.json); runs save one every \
         train.checkpoint_every steps and when stopped",
        run_dir.display()
    )))
}

/// Read the checkpoint of `run_dir` and check it is for `optimizer` on `task` from `seed` with
/// steps left (a checkpoint at the last step resumes to the final evaluation only).
pub fn load(
    run_dir: &Path,
    optimizer: &str,
    task: &str,
    seed: u64,
    total_steps: u64,
) -> Result<Checkpoint> {
    let dir = find(run_dir)?;
    let path = dir.join("trainer.json");
    let text = fs::read_to_string(&path)
        .map_err(|e| usage(format!("resume_from: cannot read {}: {e}", path.display())))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        usage(format!(
            "resume_from: {} is not a checkpoint: {e}",
            path.display()
        ))
    })?;
    if !value.is_object() {
        return Err(usage(format!(
            "resume_from: {} is not a checkpoint: not a JSON object",
            path.display()
        )));
    }
    let format = value.get("format").and_then(|f| f.as_u64()).unwrap_or(0);
    if format != u64::from(FORMAT) {
        return Err(usage(format!(
            "resume_from: {} has checkpoint format {format}, this lab reads format {FORMAT}",
            path.display()
        )));
    }
    let trainer: TrainerState = serde_json::from_value(value).map_err(|e| {
        usage(format!(
            "resume_from: {} is not a checkpoint: {e}",
            path.display()
        ))
    })?;
    if trainer.optimizer != optimizer || trainer.task != task {
        return Err(usage(format!(
            "resume_from: checkpoint is {} on {}, config asks for {optimizer} on {task}",
            trainer.optimizer, trainer.task
        )));
    }
    if trainer.summary.seed != seed {
        // The weights, batches and sampled labels so far came from the old seed: continuing
        // under another would label them (and the carried rows) wrongly.
        return Err(usage(format!(
            "resume_from: checkpoint is of seed {}, config asks for seed {seed}; a run \
             continues with the seed it started from",
            trainer.summary.seed
        )));
    }
    if trainer.step > total_steps {
        return Err(usage(format!(
            "resume_from: checkpoint is at step {}, past the {total_steps} steps of this config",
            trainer.step
        )));
    }
    if trainer.epoch == 0 || trainer.epoch_start_step > trainer.step {
        return Err(usage(format!(
            "resume_from: {} is damaged: its counters epoch {}, epoch_start_step {}, step {} \
             do not fit (epochs count from 1 and start at or before the checkpoint's step)",
            path.display(),
            trainer.epoch,
            trainer.epoch_start_step,
            trainer.step
        )));
    }
    // One `epoch_grad` value per step of the epoch in progress, the Pearson measures on some of
    // them: other lengths skewed the epoch's averages (or, with a wrong epoch_start_step,
    // skipped other batches of the epoch) silently.
    let in_epoch = trainer.step - trainer.epoch_start_step;
    let per_step = trainer.epoch_grad.len();
    if per_step as u64 != in_epoch || trainer.epoch_pug.len().max(trainer.epoch_pc.len()) > per_step
    {
        return Err(usage(format!(
            "resume_from: {} is damaged: `epoch_grad` holds {per_step} values (epoch_pug {}, \
             epoch_pc {}) where its counters give {in_epoch} steps of the epoch in progress \
             (step {} - epoch_start_step {}); start the run again without --resume",
            path.display(),
            trainer.epoch_pug.len(),
            trainer.epoch_pc.len(),
            trainer.step,
            trainer.epoch_start_step
        )));
    }
    // A damaged file is the user's input, like a bad trainer.json: exit 2 naming it.
    let damaged = |e: anyhow::Error| {
        usage(format!(
            "resume_from: {e:#}; the checkpoint is damaged, start the run again without --resume"
        ))
    };
    let model_file = dir.join("model.safetensors");
    let model = Tensor::read_safetensors(&model_file)
        .with_context(|| format!("reading {}", model_file.display()))
        .map_err(damaged)?;
    let optimizer = StateDict::load(&dir, "optimizer").map_err(damaged)?;
    Ok(Checkpoint {
        dir,
        trainer,
        model,
        optimizer,
    })
}

/// The usage error for resuming `dir` under a config whose identity (its `run_id`) is not
/// the old run's: the carried rows would then mix two configs under two ids. Names each key
/// that differs from `dir/config.yaml` (both sides without the keys `run_id` leaves out).
pub fn config_changed(dir: &Path, cfg: &GrngConfig) -> anyhow::Error {
    let path = dir.join("config.yaml");
    let old = crate::input::read_to_string(&path)
        .ok()
        .and_then(|text| serde_yaml_ng::from_str::<GrngConfig>(&text).ok());
    let mut diffs = old.map_or_else(Vec::new, |old| {
        crate::config::resume::changes(&identity_config(&old), &identity_config(cfg), &[])
    });
    if diffs.is_empty() {
        diffs.push("its run_id differs".into());
    }
    crate::config::resume::refused("resume_from", &path, &diffs, &["train.stop_after"])
}

/// `train.stop_after` of the run in `dir` (its config.yaml), if it has one.
pub fn stop_after_of(dir: &Path) -> Option<u64> {
    let text = crate::input::read_to_string(&dir.join("config.yaml")).ok()?;
    let old: GrngConfig = serde_yaml_ng::from_str(&text).ok()?;
    old.train.stop_after
}

/// Copy the saved variables into the model's, by name: exactly the model's variables (and
/// the trainer's own `trainer/` vectors), each of its shape and dtype, finite
/// ([`crate::nn::checkpoint::fit_weights`]); errors name the file and the variable.
pub fn restore_model(vs: &VarStore, ck: &Checkpoint) -> Result<()> {
    let weights = ck
        .model
        .iter()
        .filter(|(k, _)| !k.starts_with("trainer/"))
        .map(|(k, t)| (k.clone(), t.shallow_clone()))
        .collect();
    crate::nn::checkpoint::fit_weights(&ck.dir.join("model.safetensors"), &weights, vs)
}
