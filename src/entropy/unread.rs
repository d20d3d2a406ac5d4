//! Keys the task in force does not read, refused instead of ignored: a user who sets
//! `theory.delta` under `task: train`, or `checkpoint.context` for a run-directory probe, gets
//! an error naming the key rather than a run that silently did something else.
//!
//! * Keys whose default is null or off (`checkpoint.*`, `text.samples`): refused when set.
//! * Keys with a real default (`theory.*`, `checkpoint.context`): refused when changed from
//!   the embedded default, so a config copied whole from `--print-config` still runs.
//! * What a probe does not read: a TorchScript probe reads `data` and `seed` but not `model`,
//!   `train`, `condition`, `overrides` or `controller` (the module is its own model), refused
//!   here when changed from the default. A probe of a lab run takes all of [`FROM_RUN`] from
//!   the run, so there a key is refused when changed from the default *and* unlike the run's
//!   value ([`unlike_run`], once the run's config is read: `probe_check.rs`), so that the
//!   run's own config (or the shipped config it was trained with) still probes it.
use super::config::{EntropyConfig, Task};
use crate::config::{changed_keys, differences, Checker};
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
    if ts {
        let default = default_config();
        let default = default.as_ref();
        let why = "is not read by a probe of a TorchScript module (checkpoint.torchscript): the \
                   module is its own model, trained elsewhere; remove it";
        let mut keys = changed_keys("model", &cfg.model, default.map(|d| &d.model));
        keys.extend(changed_keys("train", &cfg.train, default.map(|d| &d.train)));
        let overrides = default.map(|d| &d.overrides);
        keys.extend(changed_keys("overrides", &cfg.overrides, overrides));
        let controller = default.map(|d| &d.controller);
        keys.extend(changed_keys("controller", &cfg.controller, controller));
        if default.is_some_and(|d| d.condition != cfg.condition) {
            keys.push("condition".into());
        }
        for key in keys {
            c.relation(&key, &["checkpoint.torchscript"], false, why);
        }
    }
    if cfg.task != Task::Theory {
        let why = format!("is only read by task theory, but task is {task}");
        for key in changed_keys(
            "theory",
            &cfg.theory,
            default_config().map(|d| d.theory).as_ref(),
        ) {
            c.relation(&key, &["task"], false, why.clone());
        }
    }
}

/// What a probe of a lab run takes from the run's config.yaml instead of its own config.
pub(super) const FROM_RUN: [&str; 7] = [
    "seed",
    "data",
    "model",
    "train",
    "condition",
    "overrides",
    "controller",
];

/// The keys of [`FROM_RUN`] (leaf paths) that `cfg` changes from the embedded default and that
/// differ from the probed run's `trained` config, with this config's and the run's value (JSON;
/// `absent` for a key the run's section lacks, e.g. of another model kind).
pub(super) fn unlike_run(
    cfg: &EntropyConfig,
    trained: &EntropyConfig,
) -> Vec<(String, String, String)> {
    let Some(default) = default_config() else {
        return Vec::new(); // the embedded default always parses (tests/it/configs_valid.rs)
    };
    let pick = |c: &EntropyConfig| {
        let all = serde_yaml_ng::to_value(c).unwrap_or(Value::Null);
        let mut out = serde_yaml_ng::Mapping::new();
        for key in FROM_RUN {
            if let Some(v) = all.get(key) {
                out.insert(key.into(), v.clone());
            }
        }
        Value::Mapping(out)
    };
    let (here, run) = (pick(cfg), pick(trained));
    let set: Vec<String> = differences(&pick(&default), &here)
        .into_iter()
        .map(|(key, _, _)| key)
        .collect();
    differences(&run, &here)
        .into_iter()
        .filter(|(key, _, now)| set.contains(key) && now != "absent")
        .map(|(key, then, now)| (key, now, then))
        .collect()
}

/// The embedded default config.
fn default_config() -> Option<EntropyConfig> {
    serde_yaml_ng::from_str(EntropyConfig::DEFAULT_YAML).ok()
}
