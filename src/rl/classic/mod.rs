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

use crate::rl::env::{check_state_len, EnvState};
use crate::rl::np_random::NpRng;
use anyhow::Result;

/// Each env's own generator, as Gymnasium's `self.np_random`: `reset(Some(seed))` replaces
/// it with `np.random.default_rng(seed)`, so a seed starts the same episode as in Gymnasium
/// (spec §7.1, issue 14 item 4); unseeded resets continue the stream.
pub(crate) fn reseed(rng: &mut NpRng, seed: Option<u64>) {
    if let Some(s) = seed {
        *rng = NpRng::from_seed(s);
    }
}

/// The generator of an env that was never seeded: like Gymnasium's, from OS entropy.
pub(crate) fn unseeded() -> NpRng {
    NpRng::from_os_entropy()
}

/// Write f64 values as f32 observations.
pub(crate) fn emit(obs: &mut [f32], values: &[f64]) {
    for (o, v) in obs.iter_mut().zip(values) {
        *o = *v as f32;
    }
}

/// Snapshot of an env whose state is a plain f64 array (all but MountainCarContinuous).
pub(crate) fn save_f64(state: &[f64], rng: &NpRng) -> EnvState {
    EnvState {
        state: state.to_vec(),
        state_is_f32: false,
        rng: rng.save(),
        elapsed: 0,
    }
}

/// Overwrite a plain f64 state with `values` after checking their number (`Env::set_state`).
pub(crate) fn set_f64(id: &str, state: &mut [f64], values: &[f64]) -> Result<()> {
    check_state_len(id, values, state.len())?;
    state.copy_from_slice(values);
    Ok(())
}

/// Restore what [`save_f64`] wrote, checking the state length.
pub(crate) fn load_f64(
    id: &str,
    state: &mut [f64],
    rng: &mut NpRng,
    saved: &EnvState,
) -> Result<()> {
    set_f64(id, state, &saved.state)?;
    *rng = saved.rng.restore()?;
    Ok(())
}
