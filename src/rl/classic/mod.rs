//! Gymnasium's classic-control tasks, reproduced exactly (spec §4.3–4.6, §7.8).
pub mod acrobot;
pub mod cartpole;
pub mod mountain_car;
pub mod np;
pub mod pendulum;

pub use acrobot::Acrobot;
pub use cartpole::CartPole;
pub use mountain_car::{MountainCar, MountainCarContinuous};
pub use pendulum::Pendulum;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Each env's own RNG stream; `reset(Some(seed))` replaces it (spec §7.1).
pub(crate) fn reseed(rng: &mut ChaCha8Rng, seed: Option<u64>) {
    if let Some(s) = seed {
        *rng = ChaCha8Rng::seed_from_u64(s);
    }
}

/// Write f64 values as f32 observations.
pub(crate) fn emit(obs: &mut [f32], values: &[f64]) {
    for (o, v) in obs.iter_mut().zip(values) {
        *o = *v as f32;
    }
}
