//! Checkpoints (issue 4 item 4): actor, critic, optimisers, normaliser statistics, env and
//! RNG states, episode statistics. `resume_from` continues a run from its last checkpoint;
//! on CPU the continued run's metrics equal those of an uninterrupted run.
use super::acktr::AcktrState;
use super::config::{Algo, NpgConfig};
use super::optim_actor::Optimiser;
use super::policy::Adam;
use super::summary::Tracker;
use crate::error::usage;
use crate::rl::normalize::{ObsNormalizer, RewardScaler};
use crate::rl::{RngState, VecEnvState};
use crate::run::{carry_rows, carry_rows_blanking, write_atomic, Metrics, Upto};
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// File name inside the run directory (the latest checkpoint; overwritten atomically).
pub const FILE: &str = "checkpoint.json";

/// Format of `checkpoint.json`, stored as its `format` key. 2: env generators are NumPy's
/// PCG64 (seeds match Gymnasium, issue 14); format 1 (no key) held ChaCha8 env streams.
pub const FORMAT: u64 = 2;

#[derive(Serialize, Deserialize)]
pub struct Checkpoint {
    pub algo: String,
    pub env: String,
    /// Last completed iteration.
    pub iter: usize,
    pub actor: Vec<f64>,
    pub critic: Vec<f64>,
    pub critic_adam: Adam,
    pub actor_optimiser: Option<Optimiser>,
    /// ACKTR's factors, momentum and step count (absent for other algorithms).
    #[serde(default)]
    pub acktr: Option<AcktrState>,
    pub obs_norm: Option<ObsNormalizer>,
    pub reward_scale: Option<RewardScaler>,
    pub venv: VecEnvState,
    /// Actions, evaluation, minibatch shuffling, SMAC sample choice.
    pub rngs: [RngState; 4],
    pub tracker: Tracker,
}

pub fn save(path: &Path, c: &Checkpoint) -> Result<()> {
    let mut value = serde_json::to_value(c)?;
    if let Some(map) = value.as_object_mut() {
        map.insert("format".into(), FORMAT.into());
    }
    write_atomic(path, &serde_json::to_vec(&value)?)
}

/// Parse a checkpoint's text, refusing other formats with a message that says why.
pub fn parse(text: &str, path: &Path) -> Result<Checkpoint> {
    let not_a_checkpoint = |e: serde_json::Error| {
        usage(format!(
            "resume_from: {} is not a checkpoint: {e}",
            path.display()
        ))
    };
    let value: serde_json::Value = serde_json::from_str(text).map_err(not_a_checkpoint)?;
    let format = value.get("format").and_then(|f| f.as_u64()).unwrap_or(1);
    if format != FORMAT {
        return Err(usage(format!(
            "resume_from: {} has checkpoint format {format}, this lab reads format {FORMAT} \
             (env generators became NumPy's PCG64 so that seeds match Gymnasium); \
             start the run again",
            path.display()
        )));
    }
    serde_json::from_value(value).map_err(not_a_checkpoint)
}

/// Read `<dir>/checkpoint.json` and check it belongs to this config's algorithm and env.
pub fn load(dir: &Path, cfg: &NpgConfig) -> Result<Checkpoint> {
    let path = dir.join(FILE);
    // A FIFO in its place blocked the resume forever, a device filled memory.
    let text = crate::input::read_result(&path)
        .map_err(|e| usage(format!("resume_from: cannot read {}: {e}", path.display())))?;
    let c = parse(&text, &path)?;
    if c.algo != cfg.algo.name() || c.env != cfg.env.id {
        return Err(usage(format!(
            "resume_from: checkpoint is {} on {}, config asks for {} on {}",
            c.algo,
            c.env,
            cfg.algo.name(),
            cfg.env.id
        )));
    }
    check_same_config(dir, cfg)?;
    if c.iter >= cfg.iterations() {
        return Err(usage(format!(
            "resume_from: checkpoint is at iteration {}, nothing left of {} iterations",
            c.iter,
            cfg.iterations()
        )));
    }
    Ok(c)
}

/// Keys a resumed run may set differently from the run it continues: `total_steps` (to train
/// further) and keys that change no row (checkpoint period, threads). `threshold` is checked
/// against the checkpoint's own (`Trainer::restore`, with the value it counted against).
pub const MAY_CHANGE: [&str; 5] = [
    "resume_from",
    "total_steps",
    "checkpoint_every",
    "torch_threads",
    "threshold",
];

/// The run's `config.yaml` must equal `cfg` but for [`MAY_CHANGE`]: the continued CSVs would
/// otherwise mix two configs. One that is missing, unreadable or not a config of this
/// subcommand cannot be compared, so the resume is refused naming it.
fn check_same_config(dir: &Path, cfg: &NpgConfig) -> Result<()> {
    let path = dir.join("config.yaml");
    let old = crate::input::read_to_string(&path)
        .map_err(|e| e.to_string())
        .and_then(|text| serde_yaml_ng::from_str::<NpgConfig>(&text).map_err(|e| e.to_string()))
        .map_err(|e| {
            usage(format!(
                "resume_from: {}: {e}; the continued run's config is compared with it (its rows \
                 would otherwise carry on under another config): restore the file, or start a \
                 new run without resume_from",
                path.display()
            ))
        })?;
    let allowed = &MAY_CHANGE[1..4];
    crate::config::resume::check("resume_from", &path, (&old, cfg), &MAY_CHANGE, allowed)
}

/// The evaluation columns of metrics.csv.
const EVAL_COLUMNS: [&str; 3] = ["eval_return_mean", "eval_return_std", "eval_len_mean"];

/// Copy the checkpoint's run's metrics rows up to its iteration (each iteration once) and its
/// episodes up to its env steps. The evaluation a run made only because it ended (not on the
/// `eval.every` schedule) is left out of its last row: the continued run is the uninterrupted
/// one, which made none there. Returns the carried rows' skipped ACKTR updates.
pub fn copy_rows(
    dir: &Path,
    c: &Checkpoint,
    cfg: &NpgConfig,
    metrics: &mut Metrics,
    episodes: &mut Metrics,
) -> Result<u64> {
    let upto = Upto::Numbered(c.iter as u64);
    let blank = c.tracker.ends_with_final_only_eval();
    let blank = blank.then_some((c.iter as u64, &EVAL_COLUMNS[..]));
    carry_rows_blanking(&dir.join("metrics.csv"), "iter", upto, blank, metrics)?;
    let upto = Upto::AtMost(c.tracker.env_steps as f64);
    carry_rows(&dir.join("episodes.csv"), "env_steps", upto, episodes)?;
    check_rows(dir, c)?;
    skipped_before(dir, c, cfg)
}

/// The sum of metrics.csv's `skipped_updates` up to the checkpoint: for ACKTR each an integer
/// from 0 to its actor steps per iteration, for the others empty. An edited cell would carry
/// on into summary.json's count, so it is refused naming the file and iteration.
fn skipped_before(dir: &Path, c: &Checkpoint, cfg: &NpgConfig) -> Result<u64> {
    let path = dir.join("metrics.csv");
    let acktr = matches!(cfg.algo, Algo::Acktr { .. });
    let per_iter = super::checkpoint_state::minibatches(cfg) * cfg.epochs as u64;
    let mut sum = 0;
    for (iter, cells) in numbers(&path, "iter", c.iter as f64, &["skipped_updates"])? {
        let ok = match cells[0] {
            Some(n) if acktr && n.fract() == 0.0 && (0.0..=per_iter as f64).contains(&n) => {
                sum += n as u64;
                true
            }
            None => !acktr,
            Some(_) => false,
        };
        if !ok {
            let cell = cells[0].map_or("empty".to_string(), |n| n.to_string());
            let want = match acktr {
                true => format!("ACKTR's count of skipped actor updates (0 to {per_iter})"),
                false => format!("empty for `{}`, which skips none", cfg.algo.name()),
            };
            return Err(usage(format!(
                "resume_from: {}: `skipped_updates` is {cell} at iter {iter}, but it is {want}; \
                 restore the file, or start the run again",
                path.display()
            )));
        }
    }
    Ok(sum)
}

/// The checkpoint's tracker against the rows just carried (see [`Tracker::check_rows`]): an
/// edited evaluation, window of returns or `steps_to_threshold` is refused naming the file.
fn check_rows(dir: &Path, c: &Checkpoint) -> Result<()> {
    let upto = c.iter as f64;
    let evals: Vec<(f64, f64, f64)> =
        numbers(&dir.join("metrics.csv"), "iter", upto, &EVAL_COLUMNS[..2])?
            .into_iter()
            .filter_map(|(iter, cells)| Some((iter, cells[0]?, cells[1]?)))
            .collect();
    let upto = c.tracker.env_steps as f64;
    let episodes: Vec<(f64, f64)> =
        numbers(&dir.join("episodes.csv"), "env_steps", upto, &["return"])?
            .into_iter()
            .filter_map(|(steps, cells)| Some((steps, cells[0]?)))
            .collect();
    c.tracker.check_rows(&evals, &episodes).map_err(|why| {
        usage(format!(
            "resume_from: {}: {why}; it disagrees with the rows it continues (edited or \
             damaged): start the run again, or continue it from a checkpoint it wrote",
            dir.join(FILE).display()
        ))
    })
}

/// Rows of a CSV (its `key` at most `upto`, as carried) as the key and the cells of `columns`,
/// an empty cell as None; a cell that is not a number is refused naming file and line.
fn numbers(
    path: &Path,
    key: &str,
    upto: f64,
    columns: &[&str],
) -> Result<Vec<(f64, Vec<Option<f64>>)>> {
    let bad = |what: String| usage(format!("resume_from: {}: {what}", path.display()));
    let file = crate::input::open_result(path).map_err(|e| bad(format!("cannot read: {e}")))?;
    let mut reader = csv::Reader::from_reader(file);
    let header = reader.headers().map_err(|e| bad(e.to_string()))?.clone();
    let at = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| bad(format!("has no `{name}` column")))
    };
    let key_at = at(key)?;
    let cols: Vec<usize> = columns.iter().map(|c| at(c)).collect::<Result<_>>()?;
    let mut out = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let line = i + 2;
        let row = row.map_err(|e| bad(format!("line {line}: {e}")))?;
        let value = |at: usize| -> Result<Option<f64>> {
            match row.get(at).unwrap_or("") {
                "" => Ok(None),
                cell => cell.parse().map(Some).map_err(|_| {
                    bad(format!(
                        "line {line}: `{}` is `{cell}`, not a number",
                        &header[at]
                    ))
                }),
            }
        };
        let Some(k) = value(key_at)?.filter(|k| *k <= upto) else {
            continue;
        };
        out.push((k, cols.iter().map(|&c| value(c)).collect::<Result<_>>()?));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A format-1 checkpoint (ChaCha8 env streams, no `format` key) is refused with a
    /// message naming the file and the reason; junk is "not a checkpoint".
    #[test]
    fn old_and_broken_checkpoints_are_refused_clearly() {
        let path = Path::new("run/checkpoint.json");
        let old = r#"{"algo": "ppo", "env": "CartPole-v1", "iter": 3}"#;
        let e = parse(old, path).err().expect("old format").to_string();
        assert!(
            e.contains("run/checkpoint.json has checkpoint format 1"),
            "{e}"
        );
        assert!(e.contains("PCG64"), "{e}");
        let e = parse("{", path).err().expect("junk").to_string();
        assert!(e.contains("is not a checkpoint"), "{e}");
        let e = parse(r#"{"format": 2}"#, path)
            .err()
            .expect("fields")
            .to_string();
        assert!(e.contains("missing field"), "{e}");
    }
}
