//! Keys the task in force does not read, refused instead of ignored: a user who sets
//! `theory.delta` under `task: train`, or `checkpoint.context` for a run-directory probe, gets
//! an error naming the key rather than a run that silently did something else.
//!
//! * Keys whose default is null or off (`checkpoint.*`, `text.samples`): refused when set.
//! * Keys with a real default (`theory.*`, `checkpoint.context`): refused when changed from
//!   the embedded default, so a config copied whole from `--print-config` still runs.
use super::config::{EntropyConfig, Task, TheorySection};
use crate::config::{changed_keys, Checker};
use crate::experiment::Experiment;
use serde_yaml_ng::Value;

/// Add a problem for every key of `cfg` that its task does not read (module doc).
pub(super) fn check(cfg: &EntropyConfig, c: &mut Checker) {
    let task = format!("{:?}", cfg.task).to_lowercase();
    let probe = cfg.task == Task::Probe;
    let ts = probe && cfg.checkpoint.torchscript.is_some();
    let for_probe = format!("is only read by task probe, but task is {task}");
    let for_ts = "is only read for a TorchScript module (checkpoint.torchscript)";
    let (ts_other, ts_why) = if probe {
        ("checkpoint.torchscript", for_ts)
    } else {
        ("task", for_probe.as_str())
    };
    let k = &cfg.checkpoint;
    let set = |c: &mut Checker, key: &str, is_set: bool, ok: bool, other: &str, why: &str| {
        c.relation(key, &[other], !is_set || ok, why.to_string());
    };
    set(
        c,
        "checkpoint.path",
        k.path.is_some(),
        probe,
        "task",
        &for_probe,
    );
    let ts_set = k.torchscript.is_some();
    set(
        c,
        "checkpoint.torchscript",
        ts_set,
        probe,
        "task",
        &for_probe,
    );
    set(
        c,
        "checkpoint.vocab",
        k.vocab.is_some(),
        ts,
        ts_other,
        ts_why,
    );
    set(
        c,
        "checkpoint.fixed_width",
        k.fixed_width,
        ts,
        ts_other,
        ts_why,
    );
    let fixed_batch = k.fixed_batch.is_some();
    set(
        c,
        "checkpoint.fixed_batch",
        fixed_batch,
        ts,
        ts_other,
        ts_why,
    );
    let context_changed = k.context != super::probe::CheckpointSection::default().context;
    set(
        c,
        "checkpoint.context",
        context_changed,
        ts,
        ts_other,
        ts_why,
    );
    let text_why = format!("is only read by task text, but task is {task}");
    let samples = cfg.text.samples.is_some();
    set(
        c,
        "text.samples",
        samples,
        cfg.task == Task::Text,
        "task",
        &text_why,
    );
    if cfg.task != Task::Theory {
        let why = format!("is only read by task theory, but task is {task}");
        for key in changed_keys("theory", &cfg.theory, default_theory().as_ref()) {
            c.relation(&key, &["task"], false, why.clone());
        }
    }
}

/// The `theory` section of the embedded default config.
fn default_theory() -> Option<TheorySection> {
    let all: Value = serde_yaml_ng::from_str(EntropyConfig::DEFAULT_YAML).ok()?;
    serde_yaml_ng::from_value(all.get("theory")?.clone()).ok()
}
