//! Pendulum-v1 (spec §4.5; Gymnasium `pendulum.py`). Gymnasium clips the float32 action and
//! keeps it float32, so `0.001·u²` and `3·u` are float32 products; [`Np`] reproduces that.
use super::np::{pow2, Np};
use super::{emit, reseed};
use crate::rl::env::{Action, Env, EnvState, Precision, Space, Transition};
use crate::rl::np_random::NpRng;
use anyhow::Result;
use std::f64::consts::PI;

const MAX_SPEED: f64 = 8.0;
const MAX_TORQUE: f64 = 2.0;
const DT: f64 = 0.05;
const G: f64 = 10.0;
const M: f64 = 1.0;
const L: f64 = 1.0;

/// State `(θ, θ̇)` with θ = 0 upright; a 1-D torque action.
pub struct Pendulum {
    pub state: [f64; 2],
    precision: Precision,
    rng: NpRng,
}

/// `((x + π) mod 2π) − π` with Python's floor-mod (spec §7.8: `rem_euclid`).
pub fn angle_normalize(x: f64) -> f64 {
    (x + PI).rem_euclid(2.0 * PI) - PI
}

impl Pendulum {
    pub fn new(precision: Precision) -> Self {
        Pendulum {
            state: [0.0; 2],
            precision,
            rng: super::unseeded(),
        }
    }

    fn observe(&self, obs: &mut [f32]) {
        let [th, thdot] = self.state;
        emit(obs, &[th.cos(), th.sin(), thdot]);
    }

    /// One step from the pre-step state; returns the reward `−cost`.
    pub fn advance(&mut self, action: f64) -> f64 {
        let [th, thdot] = self.state;
        let f32_action = self.precision == Precision::Gymnasium;
        let clipped = Np::typed(action, f32_action)
            .v
            .clamp(-MAX_TORQUE, MAX_TORQUE);
        let u = Np::typed(clipped, f32_action);
        // angle_normalize(th) ** 2 + 0.1 * thdot**2 + 0.001 * (u**2), each `**` a C pow.
        let cost = pow2(angle_normalize(th)) + 0.1 * pow2(thdot) + (Np::py(0.001) * u.pow2()).v;
        let torque_term = (Np::py(3.0 / (M * L * L)) * u).v;
        let new_thdot = thdot + (3.0 * G / (2.0 * L) * th.sin() + torque_term) * DT;
        let new_thdot = new_thdot.clamp(-MAX_SPEED, MAX_SPEED);
        self.state = [th + new_thdot * DT, new_thdot];
        -cost
    }
}

impl Env for Pendulum {
    fn id(&self) -> &'static str {
        "Pendulum-v1"
    }
    fn observation_space(&self) -> Space {
        Space::symmetric(&[1.0, 1.0, MAX_SPEED])
    }
    fn action_space(&self) -> Space {
        Space::symmetric(&[MAX_TORQUE])
    }
    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) {
        reseed(&mut self.rng, seed);
        // high = [π, 1]; self.np_random.uniform(low=-high, high=high)
        self.state = [self.rng.uniform(-PI, PI), self.rng.uniform(-1.0, 1.0)];
        self.observe(obs);
    }
    fn step(&mut self, action: Action, obs: &mut [f32]) -> Transition {
        let reward = self.advance(action.values()[0]);
        self.observe(obs);
        Transition {
            reward,
            terminated: false,
            truncated: false,
        }
    }
    fn state(&self) -> Vec<f64> {
        self.state.to_vec()
    }
    fn set_state(&mut self, state: &[f64], obs: &mut [f32]) -> Result<()> {
        super::set_f64(self.id(), &mut self.state, state)?;
        self.observe(obs);
        Ok(())
    }
    fn save(&self) -> EnvState {
        super::save_f64(&self.state, &self.rng)
    }
    fn load(&mut self, saved: &EnvState) -> Result<()> {
        let id = self.id();
        super::load_f64(id, &mut self.state, &mut self.rng, saved)
    }
}
