//! What a train run carries from step to step and across `--resume` (§8 "resumable runs"):
//! the cumulative FLOPs buckets (§5.1), checker counts and wall time, saved with the weights
//! and AdamW moments in `checkpoints/step-NNNNNNNN/` (`nn::checkpoint`). Every random draw of a
//! step comes from a generator seeded by (seed, step), so the step is the data cursor: a
//! resumed run copies the old run's rows up to its last checkpoint and continues with rows
//! identical to an uninterrupted run's (wall time aside).
use crate::error::usage;
use crate::nn::checkpoint::{self, Extra};
use crate::nn::LanguageModel;
use crate::optim::AdamW;
use crate::run::{Metrics, Run};
use anyhow::{Context, Result};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Checkpoints live in `<run>/checkpoints/`.
pub const CHECKPOINTS: &str = "checkpoints";

/// Cumulative totals of a run (the metrics.csv FLOPs columns and the summary counters).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub flops_offline: f64,
    pub flops_sample: f64,
    pub flops_train: f64,
    pub flops_eval: f64,
    pub flops_diag: f64,
    pub wall_s: f64,
    pub checker_errors: u64,
    /// `checker_fail_<reason>` counts over the run.
    pub checker_fail: BTreeMap<String, u64>,
    /// Off-policy rows trained with `log μ = 0` (traces without behaviour log-probs).
    pub missing_behaviour: u64,
    /// The evaluator's cached base-model strategy agreement (computed once per run, so a
    /// resumed run must not pay for it again).
    /// (A one-element list: JSON cannot tell `Some(None)` from `None`.)
    #[serde(default)]
    pub eval_base_agree: Option<[Option<f64>; 1]>,
}

impl Totals {
    /// The metrics.csv columns the totals are written to, with their values (the row of a
    /// step and its checkpoint hold the same numbers; [`check_totals`]).
    pub fn columns(&self) -> [(&'static str, f64); 6] {
        [
            ("wall_s", self.wall_s),
            ("flops_offline", self.flops_offline),
            ("flops_sample", self.flops_sample),
            ("flops_train", self.flops_train),
            ("flops_eval_cum", self.flops_eval),
            ("flops_diag_cum", self.flops_diag),
        ]
    }

    /// The x-axis of §5.1: offline + Σ (sample + train).
    pub fn flops_total(&self) -> f64 {
        self.flops_offline + self.flops_sample + self.flops_train
    }
}

/// Write the checkpoint of completed step `step`.
pub fn save(
    run: &Run,
    step: u64,
    model: &dyn LanguageModel,
    opt: &AdamW,
    totals: &Totals,
    rng: &ChaCha8Rng,
) -> Result<()> {
    let root = run.path(CHECKPOINTS);
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    let extra = Extra {
        step,
        rng,
        tokenizer: "base/tokenizer.json",
        metadata: serde_json::to_value(totals)?,
    };
    checkpoint::save(
        &root.join(checkpoint::dir_name(step)),
        model.var_store(),
        opt,
        &extra,
    )
}

/// Whether run `dir` holds a train checkpoint (`checkpoints/step-*`).
pub fn has_checkpoint(dir: &Path) -> bool {
    let root = dir.join(CHECKPOINTS);
    root.is_dir() && checkpoint::list(&root).is_ok_and(|l| !l.is_empty())
}

/// Load the last checkpoint of run `dir` (`inputs.resume`) into `model` and `opt`; returns
/// its step and totals. A checkpoint at step `steps` is accepted only with `finished_ok` (a
/// `stage: all` run whose training finished: the later stages still run); one past it, or
/// at it without `finished_ok`, leaves nothing to do. Errors name the key.
pub fn resume(
    dir: &Path,
    model: &dyn LanguageModel,
    opt: &mut AdamW,
    steps: u64,
    finished_ok: bool,
) -> Result<(u64, Totals)> {
    let root = dir.join(CHECKPOINTS);
    let last = if root.is_dir() {
        checkpoint::list(&root)?.pop()
    } else {
        None
    };
    let Some(last) = last else {
        return Err(usage(format!(
            "inputs.resume: {} holds no train checkpoint (checkpoints/step-*; set ckpt_every)",
            dir.display()
        )));
    };
    let damaged = |e: anyhow::Error| {
        usage(format!(
            "inputs.resume: the checkpoint {} cannot be loaded: {e:#}. It is damaged (a crash or \
             a full disk while it was written?) or not of this run's model: move that directory \
             out of {} to resume from the checkpoint before it, or start a new run without \
             --resume",
            last.display(),
            root.display()
        ))
    };
    let r = checkpoint::load(&last, model.var_store(), opt).map_err(damaged)?;
    if r.step > steps || (r.step == steps && !finished_ok) {
        return Err(usage(format!(
            "inputs.resume: {} is at step {}, nothing is left of rl.steps = {steps}; raise rl.steps",
            last.display(),
            r.step
        )));
    }
    let totals: Totals = serde_json::from_value(r.metadata).map_err(|e| {
        damaged(anyhow::Error::new(e).context(format!(
            "{}: `metadata` is not the train totals",
            last.join(checkpoint::META_FILE).display()
        )))
    })?;
    Ok((r.step, totals))
}

/// Copy the last checkpoint of run `old` into `run`'s checkpoints/ (a `stage: all` run
/// resumed after its training finished: the eval stage evaluates the run's own last
/// checkpoint).
pub fn copy_last_checkpoint(old: &Path, run: &Run) -> Result<()> {
    let Some(last) = checkpoint::list(&old.join(CHECKPOINTS))?.pop() else {
        return Ok(());
    };
    let name = last
        .file_name()
        .context("a checkpoint directory without a name")?;
    let to = run.path(CHECKPOINTS).join(name);
    std::fs::create_dir_all(&to).with_context(|| format!("creating {}", to.display()))?;
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&last).with_context(|| format!("reading {}", last.display()))? {
        let from = entry?.path();
        if !from.is_file() {
            anyhow::bail!(
                "inputs.resume: {} is not a file of a checkpoint",
                from.display()
            );
        }
        files.push(from);
    }
    // The meta file last: a checkpoint is listed once it has one, so a copy cut short is not.
    files.sort_by_key(|f| f.file_name() == Some(checkpoint::META_FILE.as_ref()));
    for from in files {
        let dest = to.join(from.file_name().unwrap_or_default());
        std::fs::copy(&from, &dest)
            .with_context(|| format!("copying {} to {}", from.display(), dest.display()))?;
    }
    Ok(())
}

/// Copy the rows of `<old>/<file>` whose `step` is at most `upto` into `out` (same header).
/// With `every_step` (metrics.csv: one row per step) those rows must be steps 1..=upto, each
/// once and in order: a file cut short or missing rows made a continued run whose rows skip
/// steps, silently. Errors name the key and the file. Returns the last row copied.
pub fn copy_rows(
    old: &Path,
    file: &str,
    upto: u64,
    every_step: bool,
    out: &mut Metrics,
) -> Result<Option<Vec<String>>> {
    let path = old.join(file);
    let bad = |what: String| {
        usage(format!(
            "inputs.resume: {}: {what}; the rows up to the checkpoint (step {upto}) must all be \
             there to continue the run: start a new run without --resume",
            path.display()
        ))
    };
    if !path.exists() {
        return match every_step && upto > 0 {
            true => Err(bad("is missing".into())),
            false => Ok(None),
        };
    }
    let file = crate::input::open_result(&path)
        .with_context(|| format!("inputs.resume: reading {}", path.display()))?;
    let mut rd = csv::Reader::from_reader(file);
    let header: Vec<String> = rd.headers()?.iter().map(String::from).collect();
    let step_col = header.iter().position(|h| h == "step").ok_or_else(|| {
        usage(format!(
            "inputs.resume: {} has no step column",
            path.display()
        ))
    })?;
    if header != out.new_row().columns() {
        return Err(usage(format!(
            "inputs.resume: {} has other columns than this run writes",
            path.display()
        )));
    }
    let mut next = 1u64;
    let mut last = None;
    for rec in rd.records() {
        let rec = rec.with_context(|| format!("inputs.resume: reading {}", path.display()))?;
        let step: u64 = rec.get(step_col).unwrap_or("").parse().map_err(|_| {
            usage(format!(
                "inputs.resume: {}: a step that is not a whole number",
                path.display()
            ))
        })?;
        if step <= upto {
            if every_step && step != next {
                return Err(bad(format!("step {step} where step {next} was due")));
            }
            next += 1;
            let cells: Vec<String> = rec.iter().map(String::from).collect();
            out.carried(&cells)?;
            last = Some(cells);
        }
    }
    if every_step && next <= upto {
        return Err(bad(format!("its rows end at step {}", next - 1)));
    }
    Ok(last)
}

/// The totals of the checkpoint at `step` must be those of the metrics.csv row of `step` that
/// [`copy_rows`] copied into `metrics` (both are written from the same numbers): a checkpoint
/// whose checkpoint.json was edited (negative FLOPs, another step in both of its files) or
/// swapped in from another run continued the FLOPs axis and the wall time from numbers that
/// are not the run's, silently. Errors name the key, the file and the column.
pub fn check_totals(
    old: &Path,
    step: u64,
    totals: &Totals,
    columns: &[String],
    row: Option<&[String]>,
) -> Result<()> {
    let Some(row) = row else {
        return Ok(());
    };
    for (name, value) in totals.columns() {
        let Some(i) = columns.iter().position(|c| c == name) else {
            continue;
        };
        let cell = row.get(i).map(String::as_str).unwrap_or("");
        let value = crate::run::fmt_num(value);
        if cell != value {
            let root = old.join(CHECKPOINTS);
            let last = checkpoint::list(&root).ok().and_then(|mut l| l.pop());
            return Err(usage(format!(
                "inputs.resume: the checkpoint {} (step {step}) says {name} = {value}, but the \
                 row of step {step} in {} says `{cell}`: the checkpoint is not the one this run \
                 wrote at that step (edited, or copied from another run); move that directory \
                 out of {} to resume from the one before, or start a new run without --resume",
                last.unwrap_or_else(|| root.clone()).display(),
                old.join("metrics.csv").display(),
                root.display()
            )));
        }
    }
    Ok(())
}

/// Copy the lines of `<old>/rollouts.jsonl` whose `step` is at most `upto`. A last line
/// without its newline that is not JSON is the append a killed run left unfinished (after its
/// last checkpoint: a step is checkpointed once its lines are written) and is dropped; any
/// other line that is not JSON, or a file that is not UTF-8, is refused naming the file and
/// line (it used to fail the resumed run with exit 1 naming no line).
pub fn copy_rollouts(old: &Path, new: &Path, upto: u64) -> Result<()> {
    let path = old.join(super::train_log::ROLLOUTS);
    if !path.exists() {
        return Ok(());
    }
    let bad = |line: usize, why: String| {
        usage(format!(
            "inputs.resume: {}:{line}: {why}; fix or remove that line (or the file) to resume",
            path.display()
        ))
    };
    let bytes = std::fs::read(&path)
        .with_context(|| format!("inputs.resume: reading {}", path.display()))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        bad(line, "not UTF-8 text".into())
    })?;
    let unfinished = !text.is_empty() && !text.ends_with('\n');
    let count = text.lines().count();
    let mut kept = String::new();
    for (i, line) in text.lines().enumerate() {
        let v: serde_json::Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(_) if unfinished && i + 1 == count => break,
            Err(e) => return Err(bad(i + 1, format!("not a JSON object ({e})"))),
        };
        if v.get("step")
            .and_then(|s| s.as_u64())
            .is_some_and(|s| s <= upto)
        {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    crate::run::write_atomic(&new.join(super::train_log::ROLLOUTS), kept.as_bytes())
}
