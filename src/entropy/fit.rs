//! Whether the corpus is long enough for the task (spec §2.6, §3.3, §3.5, §3.6): a split too
//! short for what a key asks of it is a usage error naming the corpus (`data.corpus`, and its
//! file), the key, the minimum and the split's length. The tasks check their loaded data with
//! [`check`]; [`precheck`] (from `check_inputs`) does the same before the run folder is made
//! for a corpus file small enough to load twice, which a corpus too short always is.
use super::condition::Plan;
use super::config::{DataSection, EntropyConfig, Task};
use super::controller::{Mode, Statistic, Target};
use super::setup::{self, Data};
use crate::data::CorpusConfig;
use crate::error::usage;
use anyhow::Result;

/// A corpus file of at most this many bytes is loaded (tokenized and split) by [`precheck`];
/// a longer one is checked by the task itself once loaded.
pub const PRECHECK_BYTES: u64 = 1 << 20;

/// The data section a task loads: `theory` with `theory.whole_split` drops the
/// `data.split.train_tokens` cap.
pub fn task_data(cfg: &EntropyConfig) -> DataSection {
    let mut d = cfg.data.clone();
    if cfg.task == Task::Theory && cfg.theory.whole_split {
        d.split.train_tokens = None;
    }
    d
}

/// Before the run folder: load a small corpus file as the task will and [`check`] it.
pub fn precheck(cfg: &EntropyConfig) -> Result<()> {
    let CorpusConfig::File { path, .. } = &cfg.data.corpus else {
        return Ok(());
    };
    if !std::fs::metadata(path).is_ok_and(|m| m.len() <= PRECHECK_BYTES) {
        return Ok(());
    }
    match cfg.task {
        Task::Train | Task::Theory => check(cfg, &setup::load(&task_data(cfg))?),
        Task::Text => text_reference(cfg, &cfg.data.corpus.load()?.text),
        Task::Probe => Ok(()),
    }
}

/// Task `text`: the corpus is the reference, cut at `data.split.train_frac` into a train part
/// (the count model, the n-gram index) and a held-out part; each needs a character.
pub fn text_reference(cfg: &EntropyConfig, text: &str) -> Result<()> {
    let f = cfg.data.split.train_frac;
    if !(f > 0.0 && f < 1.0) {
        return Err(usage(format!(
            "data.split.train_frac must be in (0, 1), got {f}"
        )));
    }
    let n = text.chars().count();
    let cut = |n: usize| (f * n as f64).floor() as usize;
    if cut(n) >= 1 && cut(n) < n {
        return Ok(());
    }
    let mut need = (1.0 / f).ceil().max(2.0) as usize;
    while cut(need) < 1 || cut(need) >= need {
        need += 1;
    }
    Err(usage(format!(
        "{}: {n} characters leave an empty train or held-out part of the text task's reference \
         at data.split.train_frac {f}, which needs at least {need}; use a longer corpus",
        corpus_name(&cfg.data.corpus)
    )))
}

/// `data.corpus (file <path>)` or `data.corpus (kjv)`: how messages name the corpus.
pub fn corpus_name(corpus: &CorpusConfig) -> String {
    match corpus {
        CorpusConfig::File { path, .. } => format!("data.corpus (file {})", path.display()),
        other => format!("data.corpus ({})", other.kind()),
    }
}

/// The task's length checks on its loaded data (module doc).
pub fn check(cfg: &EntropyConfig, data: &Data) -> Result<()> {
    let s = &data.splits;
    let (train, val) = (s.train.len(), s.val.len());
    let short = |part: &str, have: usize, need: usize, what: &str| {
        usage(format!(
            "{}: the {part} split has {have} tokens (train {train}, val {val}, \
             data.split.train_frac {}), fewer than the {need} that {what} needs; use a longer \
             corpus or lower that key",
            corpus_name(&cfg.data.corpus),
            cfg.data.split.train_frac
        ))
    };
    match cfg.task {
        Task::Theory => {
            let k = cfg.theory.orders.iter().copied().max().unwrap_or(0);
            let what = format!("order k = {k} of theory.orders");
            for (part, have) in [("train", train), ("val", val)] {
                if have <= k {
                    return Err(short(part, have, k + 1, &what));
                }
            }
        }
        Task::Train => {
            let window = cfg.train.seq_len + 1;
            let what = format!("one window of train.seq_len + 1 = {window}");
            for (part, have) in [("train", train), ("val", val)] {
                if have < window {
                    return Err(short(part, have, window, &what));
                }
            }
            if !s.test.is_empty() && s.test.len() < window {
                return Err(short("test", s.test.len(), window, &what));
            }
            // Teacher-forced scoring (val, the train probe) reads windows of the model's
            // block size (a GPT) or train.seq_len.
            let scoring = super::measure::scoring_window(cfg) + 1;
            let key = match cfg.model.block_size() {
                Some(_) => "model.block_size",
                None => "train.seq_len",
            };
            let what = format!("one scoring window of {key} + 1 = {scoring}");
            for (part, have) in [("train", train), ("val", val)] {
                if have < scoring {
                    return Err(short(part, have, scoring, &what));
                }
            }
            let e = &cfg.eval;
            let need = e.prompt_len + e.final_len.max(e.sample_len);
            if val < need {
                let what = "eval.prompt_len + max(eval.final_len, eval.sample_len)";
                return Err(short("val", val, need, what));
            }
            let p = &Plan::resolve(cfg).controller.probe;
            let need = p.prompt_len + p.len + 1;
            if train < need {
                let what = "controller.probe.prompt_len + controller.probe.len + 1";
                return Err(short("train", train, need, what));
            }
            hold_target(cfg, data)?;
        }
        Task::Text | Task::Probe => {}
    }
    Ok(())
}

/// A hold set-point outside the range of the statistic it holds (an entropy in [0, ln |V|],
/// `seq_rep_4` and `top1_mass` in [0, 1]) can never be met: the controller's output sits at a
/// bound from the first measurement on, and the run is paired as a controlled one though
/// nothing steered it to the set-point. Refused for a run whose controller acts.
fn hold_target(cfg: &EntropyConfig, data: &Data) -> Result<()> {
    let plan = Plan::resolve(cfg);
    let c = &plan.controller;
    let (true, Mode::Hold, Target::Value(r)) = (plan.controller_on, c.mode, c.target) else {
        return Ok(());
    };
    let v = data.vocab();
    let (stat, hi, bound) = match c.statistic {
        Statistic::FrEntropy => ("fr_entropy", (v as f64).ln(), format!("ln |V| = ln {v}")),
        Statistic::TfEntropy => ("tf_entropy", (v as f64).ln(), format!("ln |V| = ln {v}")),
        Statistic::SeqRep4 => ("seq_rep_4", 1.0, "1".to_string()),
        Statistic::Top1Mass => ("top1_mass", 1.0, "1".to_string()),
    };
    if (0.0..=hi).contains(&r) {
        return Ok(());
    }
    Err(usage(format!(
        "controller.target is {r}, but controller.statistic `{stat}` lies in [0, {bound} = \
         {hi:.4}] on {}: a hold set-point outside that range can never be met, so the \
         controller would sit at a bound of its output and the run be paired as a controlled \
         one though nothing steered it; choose a target in that range",
        corpus_name(&cfg.data.corpus)
    )))
}
