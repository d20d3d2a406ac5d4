//! Gymnasium 1.4's MuJoCo v5 tasks on MuJoCo 3.17 through `mujoco-rs` (spec §4.7): Hopper,
//! Walker2d, HalfCheetah, Swimmer, Humanoid and Pusher, with Gymnasium's observations, rewards,
//! termination rules, reset noise, frame skips and time limits, on Gymnasium's own model files.
//!
//! Reading order: [`sim`] (load a model, set a state, step `frame_skip` times, detect an
//! unstable simulation), [`base`] (the [`Task`] trait and the [`MujocoEnv`] that turns a task
//! into an [`crate::rl::Env`]), [`np`] (NumPy's summation and norms, for bit-equal rewards),
//! then one file per task.
//!
//! The model files are Gymnasium's (`make mujoco` copies them from the `gymnasium==1.4.0`
//! wheel into `data/generated/mujoco/assets`); the env option `model_dir` points elsewhere.
pub mod base;
pub mod half_cheetah;
pub mod hopper;
pub mod humanoid;
pub mod np;
pub mod pusher;
pub mod sim;
pub mod swimmer;
pub mod walker2d;

pub use base::{MujocoEnv, Task};

use crate::rl::env::{Env, Precision};
use crate::rl::np_random::NpRng;
use anyhow::Result;
use std::path::{Path, PathBuf};

/// Where `make mujoco` puts Gymnasium's model files (git-ignored), relative to the checkout.
pub const MODEL_DIR: &str = "data/generated/mujoco/assets";

/// [`MODEL_DIR`] in the checkout `lab` was built from.
pub const DEFAULT_MODEL_DIR: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/data/generated/mujoco/assets");

/// The model directory when `env.model_dir` is not set: [`MODEL_DIR`] below the working
/// directory (a checkout, like `data/generated/kjv.txt`), else the build checkout's.
pub fn default_model_dir() -> PathBuf {
    let here = Path::new(MODEL_DIR);
    match here.is_dir() {
        true => here.to_path_buf(),
        false => PathBuf::from(DEFAULT_MODEL_DIR),
    }
}

/// The MuJoCo task ids with Gymnasium's default `max_episode_steps`.
pub const TASK_IDS: [(&str, usize); 6] = [
    ("Hopper-v5", 1000),
    ("Walker2d-v5", 1000),
    ("HalfCheetah-v5", 1000),
    ("Swimmer-v5", 1000),
    ("Humanoid-v5", 1000),
    ("Pusher-v5", 100),
];

/// Whether `id` is one of the MuJoCo tasks.
pub fn is_mujoco(id: &str) -> bool {
    TASK_IDS.iter().any(|(known, _)| *known == id)
}

/// The task `id` (None for an id that is not a MuJoCo task); `model_dir` None uses
/// [`default_model_dir`].
pub fn make(
    id: &str,
    model_dir: Option<&Path>,
    precision: Precision,
) -> Option<Result<Box<dyn Env>>> {
    let default = default_model_dir();
    let given = model_dir.is_some();
    let dir = model_dir.unwrap_or(&default);
    Some(match id {
        "Hopper-v5" => boxed::<hopper::Hopper>(dir, given, precision),
        "Walker2d-v5" => boxed::<walker2d::Walker2d>(dir, given, precision),
        "HalfCheetah-v5" => boxed::<half_cheetah::HalfCheetah>(dir, given, precision),
        "Swimmer-v5" => boxed::<swimmer::Swimmer>(dir, given, precision),
        "Humanoid-v5" => boxed::<humanoid::Humanoid>(dir, given, precision),
        "Pusher-v5" => boxed::<pusher::Pusher>(dir, given, precision),
        _ => return None,
    })
}

/// Task `T` from `dir`. A directory the user `given` without the task's model file is named
/// as such (`make mujoco` fills only the default one, whose missing file says to run it).
fn boxed<T: Task>(dir: &Path, given: bool, precision: Precision) -> Result<Box<dyn Env>> {
    let file = dir.join(T::MODEL_FILE);
    if given && !file.is_file() {
        anyhow::bail!(
            "{} has no {} ({} reads it; {}): point it at a folder of Gymnasium's MuJoCo model \
             files, or set it to null for the ones `make mujoco` copies to {MODEL_DIR}",
            dir.display(),
            T::MODEL_FILE,
            T::ID,
            match dir.is_dir() {
                true => "the folder exists",
                false => "no such folder",
            }
        );
    }
    Ok(Box::new(MujocoEnv::<T>::new(dir, precision)?))
}

/// The linked MuJoCo library's version (`mj_versionString`), e.g. `3.17.0`.
pub fn version() -> &'static str {
    mujoco_rs::mujoco_version()
}

static USED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The MuJoCo version once this process created a MuJoCo env (for `meta.json`), else None.
pub fn used_version() -> Option<&'static str> {
    USED.load(std::sync::atomic::Ordering::Relaxed)
        .then(version)
}

pub(crate) fn mark_used() {
    USED.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// The reset-noise draws the tasks make (NumPy's `Generator.uniform` and
/// `standard_normal`), from the env's NumPy-exact generator, so a seed starts Gymnasium's episode.
pub trait ResetNoise {
    /// `uniform(lo, hi)` = `lo + (hi - lo) * u`, u uniform in [0, 1) (NumPy's formula).
    fn uniform(&mut self, lo: f64, hi: f64) -> f64;
    fn standard_normal(&mut self) -> f64;
}

impl ResetNoise for NpRng {
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        NpRng::uniform(self, lo, hi)
    }
    fn standard_normal(&mut self) -> f64 {
        NpRng::standard_normal(self)
    }
}

/// `init + rng.uniform(-scale, scale, size=n)`, drawn in order.
pub fn add_uniform(init: &[f64], scale: f64, rng: &mut dyn ResetNoise) -> Vec<f64> {
    init.iter()
        .map(|x| x + rng.uniform(-scale, scale))
        .collect()
}
