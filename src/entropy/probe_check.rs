//! `task: probe` of a lab run (or of a directory of runs), checked against the probed runs'
//! own configs before the run folder is made (`check_inputs`): the probe takes `seed`, `data`,
//! `model`, `train`, `condition`, `overrides` and `controller` from each run, so
//! - a key of those that this config changes from the default and that differs from the run's
//!   value would be ignored: refused naming the key, with the run's value (`unread.rs`);
//! - the evaluation must fit the run's model, not this config's: `eval.prompt_len` within the
//!   run's `model.block_size`, `eval.val_tokens` and `eval.train_probe_tokens` at least one
//!   scoring window (the block size; `train.seq_len` for an RNN).
use super::config::EntropyConfig;
use super::measure::TRAINED_WITH_FILE;
use super::probe::trained_config;
use super::probe_dir::train_runs;
use super::setup::Data;
use crate::data::CorpusConfig;
use crate::error::usage;
use anyhow::Result;
use std::path::{Path, PathBuf};

/// The checks of the module doc; nothing to check without `checkpoint.path` (validation
/// refuses that) or with runs that cannot be read (the probe names what is wrong with them).
pub fn precheck(cfg: &EntropyConfig) -> Result<()> {
    let Some(path) = cfg.checkpoint.path.as_deref() else {
        return Ok(());
    };
    let runs: Vec<(PathBuf, EntropyConfig)> = if path.is_dir() && !path.join("config.yaml").exists()
    {
        train_runs(path)?
    } else if path.join("config.yaml").is_file() {
        vec![(path.to_path_buf(), trained_config(path)?)]
    } else {
        return Ok(());
    };
    let many = runs.len() > 1;
    let mut unread: Vec<String> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    let mut fits = Vec::new();
    for (dir, trained) in &runs {
        for (key, here, run) in super::unread::unlike_run(cfg, trained) {
            if seen.contains(&key) {
                continue;
            }
            let there = if many {
                config_of(dir)
            } else {
                "the run".into()
            };
            unread.push(format!("`{key}` is {here} here, {run} in {there}"));
            seen.push(key);
        }
        fits.extend(fit(cfg, dir, trained));
    }
    let mut problems = Vec::new();
    if !unread.is_empty() {
        let source = if many {
            "each probed run's own config.yaml".to_string()
        } else {
            config_of(&runs[0].0)
        };
        problems.push(format!(
            "a probe of a lab run takes seed, data, model, train, condition, overrides and \
             controller from the run ({source}), so {} of this config would be ignored (the \
             probed run's value is used): {}; remove {} (or set {} to the run's value)",
            if unread.len() == 1 { "a key" } else { "keys" },
            unread.join("; "),
            if unread.len() == 1 { "it" } else { "them" },
            if unread.len() == 1 { "it" } else { "each" },
        ));
    }
    problems.extend(fits);
    if problems.is_empty() {
        return Ok(());
    }
    Err(usage(format!(
        "task probe of {}: {}",
        path.display(),
        problems.join("; ")
    )))
}

/// The evaluation of `cfg` against the model of the run in `dir` (module doc).
fn fit(cfg: &EntropyConfig, dir: &Path, trained: &EntropyConfig) -> Vec<String> {
    let e = &cfg.eval;
    let mut out = Vec::new();
    let (window, key) = trained.scoring_window();
    let whose = format!("the probed run's {key} = {window} (in {})", config_of(dir));
    if let Some(block) = trained.model.block_size() {
        if e.prompt_len > block as usize {
            out.push(format!(
                "eval.prompt_len is {} but the probed run's model sees at most {window} tokens, \
                 {whose}; lower eval.prompt_len",
                e.prompt_len
            ));
        }
    }
    for (k, n) in [
        ("eval.val_tokens", e.val_tokens),
        ("eval.train_probe_tokens", e.train_probe_tokens),
    ] {
        if n != 0 && n < window {
            out.push(format!(
                "{k} is {n}, fewer than one teacher-forced scoring window of {whose}; set it to \
                 at least {window}"
            ));
        }
    }
    out
}

fn config_of(dir: &Path) -> String {
    dir.join("config.yaml").display().to_string()
}

/// The SHA-256 of the token ids a run was trained and scored on: the lengths of its train and
/// val splits, then their ids (u32, little-endian). `trained_with.json` records it as
/// `tokens_sha256`, so that a probe sees a corpus edited or replaced since training even when
/// its symbols (the tokenizer) stayed the same.
pub(super) fn tokens_digest(data: &Data) -> String {
    let s = &data.splits;
    let mut bytes = Vec::with_capacity(16 + 4 * (s.train.len() + s.val.len()));
    for part in [&s.train, &s.val] {
        bytes.extend((part.len() as u64).to_le_bytes());
    }
    for id in s.train.iter().chain(&s.val) {
        bytes.extend(id.to_le_bytes());
    }
    crate::data::corpus::sha256_hex(&bytes)
}

/// Refuse to probe run `dir` on other tokens than it was trained on ([`tokens_digest`]): the
/// row would not repeat the run's evaluation, and its h_ref (the run's best validation loss)
/// would belong to other text. Runs made before the record are not checked.
pub(super) fn check_tokens(dir: &Path, trained: &EntropyConfig, data: &Data) -> Result<()> {
    let path = dir.join(TRAINED_WITH_FILE);
    let record = super::probe::recorded_trained_with(dir)?;
    let Some(recorded) = record
        .as_ref()
        .and_then(|v| v.get("tokens_sha256")?.as_str())
    else {
        return Ok(());
    };
    if recorded == tokens_digest(data) {
        return Ok(());
    }
    let corpus = &trained.data.corpus;
    let hint = match corpus {
        CorpusConfig::File { path, .. } if path.is_relative() => format!(
            " (its relative path {} is read from the current directory: is it the one the run \
             was trained in?)",
            path.display()
        ),
        _ => String::new(),
    };
    Err(usage(format!(
        "{}: the run was trained on other text than {} gives now{hint}: the SHA-256 of the \
         train and val tokens differs from the one {} records, so the corpus was edited or \
         replaced since training. Restore the text the run was trained on (data.corpus.sha256 \
         pins a file), or train a new run on the new text",
        dir.display(),
        super::fit::corpus_name(corpus),
        path.display()
    )))
}
