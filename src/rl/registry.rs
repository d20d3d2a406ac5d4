//! Environment ids → instances with Gymnasium's default time limits (spec §4.1, §4.7).
use super::classic::{Acrobot, CartPole, MountainCar, MountainCarContinuous, Pendulum};
use super::env::{Env, Precision};
use super::time_limit::TimeLimit;
use crate::error::usage;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The classic-control ids with Gymnasium's default `max_episode_steps`.
const CLASSIC_IDS: [(&str, usize); 5] = [
    ("CartPole-v1", 500),
    ("Acrobot-v1", 500),
    ("Pendulum-v1", 200),
    ("MountainCar-v0", 200),
    ("MountainCarContinuous-v0", 999),
];

/// The environment ids `make` knows, with Gymnasium's default `max_episode_steps`: classic
/// control, then the MuJoCo tasks (`super::mujoco::TASK_IDS`).
pub const ENV_IDS: [(&str, usize); 11] = concat_ids(CLASSIC_IDS, super::mujoco::TASK_IDS);

/// `a` then `b`, at compile time (`N` must be their total length).
const fn concat_ids<const A: usize, const B: usize, const N: usize>(
    a: [(&'static str, usize); A],
    b: [(&'static str, usize); B],
) -> [(&'static str, usize); N] {
    assert!(A + B == N, "ENV_IDS: wrong length");
    let mut out = [("", 0); N];
    let mut i = 0;
    while i < N {
        out[i] = if i < A { a[i] } else { b[i - A] };
        i += 1;
    }
    out
}

/// How `make` builds an environment; both fields are config keys [D].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvOptions {
    /// Time limit; `None` uses the env's Gymnasium default (spec §4.1, §5.2).
    #[serde(default)]
    pub max_episode_steps: Option<usize>,
    #[serde(default)]
    pub precision: Precision,
    /// MuJoCo tasks: the directory of the model files; `None` uses Gymnasium's, copied by
    /// `make mujoco` (`super::mujoco::default_model_dir`).
    #[serde(default)]
    pub model_dir: Option<PathBuf>,
}

/// The bare environment without a time limit (MuJoCo tasks from the default model dir).
pub fn make_raw(id: &str, precision: Precision) -> Result<Box<dyn Env>> {
    let opts = EnvOptions {
        precision,
        ..EnvOptions::default()
    };
    make_raw_with(id, &opts)
}

/// The bare environment without a time limit, with every option of `opts` but the cap.
pub fn make_raw_with(id: &str, opts: &EnvOptions) -> Result<Box<dyn Env>> {
    let precision = opts.precision;
    if let Some(env) = super::mujoco::make(id, opts.model_dir.as_deref(), precision) {
        return env;
    }
    Ok(match id {
        "CartPole-v1" => Box::new(CartPole::default()),
        "Acrobot-v1" => Box::new(Acrobot::new(precision)),
        "Pendulum-v1" => Box::new(Pendulum::new(precision)),
        "MountainCar-v0" => Box::new(MountainCar::default()),
        "MountainCarContinuous-v0" => Box::new(MountainCarContinuous::new(precision)),
        other => {
            let known: Vec<&str> = ENV_IDS.iter().map(|(id, _)| *id).collect();
            return Err(usage(format!(
                "unknown environment `{other}`; known: {}",
                known.join(", ")
            )));
        }
    })
}

/// The environment wrapped in its time limit (default cap unless overridden).
pub fn make(id: &str, opts: &EnvOptions) -> Result<TimeLimit> {
    let raw = make_raw_with(id, opts)?;
    let default_cap = ENV_IDS
        .iter()
        .find(|(known, _)| *known == id)
        .map(|(_, cap)| *cap)
        .unwrap_or(500);
    let cap = opts.max_episode_steps.unwrap_or(default_cap);
    if cap == 0 {
        return Err(usage("max_episode_steps must be at least 1"));
    }
    Ok(TimeLimit::new(raw, cap))
}
