//! Keys the task in force does not read, refused instead of ignored (as entropy-probe's): a
//! user who sets `data.seq_len` under `task: mlp-digits`, `train.epochs` for a language model
//! (which counts steps) or `optimizer.lr` for the two-layer toy gets an error naming the key,
//! not a run that silently did something else.
//!
//! A key counts as set when it differs from the embedded default config and is not null (null
//! takes the task's own value), so a config copied whole from `--print-config` still runs
//! under any task, and `train: {epochs: null}` suits a study over image and text tasks.
use super::config::{GrngConfig, TaskId};
use super::optimizers::OptimizerConfig;
use super::rkalman::{CovForm, RKalmanConfig};
use crate::config::{changed_keys, Checker};
use crate::experiment::Experiment;
use crate::optim::kfac::{GrNorm, InverseMethod, KfacConfig};
use serde_yaml_ng::Value;
use TaskId::*;

/// Which tasks read a key of the `data`, `model` and `train` sections; None: every network task.
fn readers(key: &str) -> Option<&'static [TaskId]> {
    const DIGITS: &[TaskId] = &[LogregDigits, MlpDigits, CnnDigits];
    const SHAPES: &[TaskId] = &[CnnShapes, ShapesSmoke];
    const LM: &[TaskId] = &[CharlmFortunes, CharlmGrammar];
    const IMAGES: &[TaskId] = &[
        LogregDigits,
        MlpDigits,
        CnnDigits,
        CnnShapes,
        CnnCifar10,
        MlpMnist,
        CnnMnist,
        ShapesSmoke,
    ];
    // logreg-digits has no hidden layer, and the CNNs and the char LM fix their own.
    const HIDDEN_ACTIVATION: &[TaskId] = &[MlpDigits, ShapesSmoke, MlpMnist];
    Some(match key {
        "data.digits_file" => DIGITS,
        k if k.starts_with("data.shapes_") => SHAPES,
        "data.cifar_dir" => &[CnnCifar10],
        "data.mnist_dir" => &[MlpMnist, CnnMnist],
        "data.fortunes_dir" => &[CharlmFortunes],
        "data.grammar_len" => &[CharlmGrammar],
        "data.seq_len" | "data.eval_tokens" | "train.eval_every" => LM,
        "model.activation" => HIDDEN_ACTIVATION,
        "train.epochs" => IMAGES,
        _ => return None,
    })
}

/// Add a problem for every key of `cfg` that its task does not read (module doc).
pub(super) fn check(cfg: &GrngConfig, c: &mut Checker) {
    let Some(default) = default_config() else {
        return; // the embedded default always parses (tests/it/configs_valid.rs)
    };
    let task = cfg.task;
    let mut set = set_keys("data", &cfg.data, &default.data);
    set.extend(set_keys("model", &cfg.model, &default.model));
    set.extend(set_keys("train", &cfg.train, &default.train));
    if task == TwolayerToy {
        set.extend(set_keys("optimizer", &cfg.optimizer, &default.optimizer));
        let why = "is not read by task twolayer-toy, which runs its `toy:` section alone (its \
                   method is toy.method, its size toy.n, toy.width and toy.steps); remove it";
        // train.stop_after has its own message (config.rs).
        for key in set.into_iter().filter(|k| k != "train.stop_after") {
            c.relation(&key, &["task"], false, why);
        }
        return;
    }
    for key in set {
        let Some(tasks) = readers(&key) else { continue };
        if !tasks.contains(&task) {
            let names: Vec<&str> = tasks.iter().map(|t| t.name()).collect();
            let hint = match key.as_str() {
                "train.epochs" => " (a language model's budget is train.steps)",
                _ => "",
            };
            let why = format!(
                "is only read by task{} {}, but task is {}; remove it{hint} (in a study over \
                 tasks, set it in the cases of the tasks that read it)",
                if names.len() > 1 { "s" } else { "" },
                names.join(", "),
                task.name()
            );
            c.relation(&key, &["task"], false, why);
        }
    }
    for (key, why) in optimizer_keys(&cfg.optimizer) {
        c.check(&key, false, why);
    }
    let why = format!(
        "is only read by task twolayer-toy, but task is {}; remove it",
        task.name()
    );
    for key in set_keys("toy", &cfg.toy, &default.toy) {
        c.relation(&key, &["task"], false, why.clone());
    }
}

/// The keys of `section` that differ from `default` and are not null.
fn set_keys<T: serde::Serialize>(section: &str, now: &T, default: &T) -> Vec<String> {
    let values = serde_yaml_ng::to_value(now).unwrap_or(Value::Null);
    let is_null = |key: &str| {
        let field = key
            .strip_prefix(section)
            .unwrap_or(key)
            .trim_start_matches('.');
        values.get(field).is_some_and(Value::is_null)
    };
    changed_keys(section, now, Some(default))
        .into_iter()
        .filter(|key| !is_null(key))
        .collect()
}

/// The embedded default config.
fn default_config() -> Option<GrngConfig> {
    let all: Value = serde_yaml_ng::from_str(GrngConfig::DEFAULT_YAML).ok()?;
    serde_yaml_ng::from_value(all).ok()
}

/// Optimizer keys that the kind, or its other settings, never read: each as (key, why). Before,
/// `kind: kfac` with `rho: 0.5` trained plain K-FAC, `inverse: eigen` ignored the Newton
/// iteration limits, `cov: dense` ignored the fallback of `cov: kron`, SGD without momentum
/// ignored `dampening`, and a group's `flags: {kfac: true}` preconditioned nothing. A key
/// counts as set when it differs from the kind's default (configs/grng/kinds.yaml).
pub(super) fn optimizer_keys(opt: &OptimizerConfig) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut refuse = |key: &str, why: String| out.push((format!("optimizer.{key}"), why));
    let kind = opt.name();
    let groups = match opt {
        OptimizerConfig::Adamw(c) => c.groups.as_slice(),
        OptimizerConfig::Sgd(c) => c.groups.as_slice(),
        OptimizerConfig::Sophia(c) => c.groups.as_slice(),
        _ => &[],
    };
    if let Some(g) = groups.iter().find(|g| g.flags.kfac) {
        let why = format!(
            "group `{}` sets flags.kfac, which kind {kind} does not read (no kind of lab grng \
             preconditions a group by flag: kinds kfac, reng and ring precondition every linear \
             layer); remove the flag, or choose one of those kinds",
            g.name
        );
        refuse("groups", why);
    }
    match opt {
        OptimizerConfig::Sgd(c) if c.momentum == 0.0 && c.dampening != 0.0 => refuse(
            "dampening",
            format!(
                "is {}, but momentum is 0: dampening weighs the gradient entering the momentum \
                 buffer, which SGD without momentum does not keep; remove it or set momentum",
                c.dampening
            ),
        ),
        OptimizerConfig::Kfac(c) | OptimizerConfig::Reng(c) | OptimizerConfig::Ring(c) => {
            let default = KfacConfig::kfac();
            if kind == "kfac" && c.rho != 0.0 {
                let why = format!(
                    "is {}, but kind kfac has no gradient regularization (rho is read by kinds \
                     reng and ring); remove it, or choose kind reng or ring",
                    c.rho
                );
                refuse("rho", why);
            }
            if kind != "ring" && c.gr_norm != GrNorm::Global {
                let why = "is per_layer, but only kind ring reads it (the norm in RING's \
                           damping lambda0 + rho |g|^2); remove it, or choose kind ring"
                    .to_string();
                refuse("gr_norm", why);
            }
            let limits = [
                ("newton_warm", c.newton_warm, default.newton_warm),
                ("newton_cold", c.newton_cold, default.newton_cold),
            ];
            for (key, v, d) in limits {
                if c.inverse == InverseMethod::Eigen && v != d {
                    let why = format!(
                        "is {v}, but inverse is eigen, which runs no Newton iterations; remove \
                         it, or set inverse: newton"
                    );
                    refuse(key, why);
                }
            }
        }
        OptimizerConfig::Rkalman(c) if c.cov == CovForm::Dense => {
            let default = RKalmanConfig::default();
            let set = [
                ("fallback", c.fallback != default.fallback),
                ("fallback_lr", c.fallback_lr.is_some()),
                ("stats_dtype", c.stats_dtype != default.stats_dtype),
            ];
            for (key, _) in set.into_iter().filter(|(_, set)| *set) {
                let why = "exists for cov: kron only (the dense filter covers every parameter \
                           and keeps no batch statistics); remove it, or set cov: kron";
                refuse(key, why.to_string());
            }
        }
        _ => {}
    }
    out
}
