//! CartPole-v1 (spec §4.3; Gymnasium `cartpole.py`): explicit Euler, all f64.
use super::{emit, reseed};
use crate::rl::env::{Action, Env, EnvState, Space, Transition};
use crate::rl::np_random::NpRng;
use anyhow::Result;

const GRAVITY: f64 = 9.8;
const MASS_POLE: f64 = 0.1;
const TOTAL_MASS: f64 = 1.0 + MASS_POLE;
const HALF_LENGTH: f64 = 0.5;
const POLEMASS_LENGTH: f64 = MASS_POLE * HALF_LENGTH;
const FORCE_MAG: f64 = 10.0;
const TAU: f64 = 0.02;
const X_THRESHOLD: f64 = 2.4;
/// 12 degrees, computed as Gymnasium does.
const THETA_THRESHOLD: f64 = 12.0 * 2.0 * std::f64::consts::PI / 360.0;

/// State `(x, ẋ, θ, θ̇)`; actions 0 (push left) and 1 (push right).
pub struct CartPole {
    pub state: [f64; 4],
    rng: NpRng,
}

impl Default for CartPole {
    fn default() -> Self {
        CartPole {
            state: [0.0; 4],
            rng: super::unseeded(),
        }
    }
}

impl CartPole {
    /// One Euler step of the dynamics; returns `terminated`.
    pub fn advance(&mut self, action: usize) -> bool {
        let [x, x_dot, theta, theta_dot] = self.state;
        let force = if action == 1 { FORCE_MAG } else { -FORCE_MAG };
        let (sin, cos) = theta.sin_cos();
        let temp = (force + POLEMASS_LENGTH * (theta_dot * theta_dot) * sin) / TOTAL_MASS;
        let theta_acc = (GRAVITY * sin - cos * temp)
            / (HALF_LENGTH * (4.0 / 3.0 - MASS_POLE * (cos * cos) / TOTAL_MASS));
        let x_acc = temp - POLEMASS_LENGTH * theta_acc * cos / TOTAL_MASS;
        let x = x + TAU * x_dot;
        let theta = theta + TAU * theta_dot;
        self.state = [x, x_dot + TAU * x_acc, theta, theta_dot + TAU * theta_acc];
        !(-X_THRESHOLD..=X_THRESHOLD).contains(&x)
            || !(-THETA_THRESHOLD..=THETA_THRESHOLD).contains(&theta)
    }
}

impl Env for CartPole {
    fn id(&self) -> &'static str {
        "CartPole-v1"
    }
    fn observation_space(&self) -> Space {
        let big = f32::MAX as f64;
        Space::symmetric(&[X_THRESHOLD * 2.0, big, THETA_THRESHOLD * 2.0, big])
    }
    fn action_space(&self) -> Space {
        Space::Discrete(2)
    }
    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) {
        reseed(&mut self.rng, seed);
        // self.np_random.uniform(low=-0.05, high=0.05, size=(4,))
        for s in self.state.iter_mut() {
            *s = self.rng.uniform(-0.05, 0.05);
        }
        emit(obs, &self.state);
    }
    fn step(&mut self, action: Action, obs: &mut [f32]) -> Transition {
        let terminated = self.advance(action.index());
        emit(obs, &self.state);
        // Reward 1 on every step, including the terminating one (spec §7.8).
        Transition {
            reward: 1.0,
            terminated,
            truncated: false,
        }
    }
    fn state(&self) -> Vec<f64> {
        self.state.to_vec()
    }
    fn set_state(&mut self, state: &[f64], obs: &mut [f32]) -> Result<()> {
        super::set_f64(self.id(), &mut self.state, state)?;
        emit(obs, &self.state);
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
