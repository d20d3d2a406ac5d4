//! MountainCar-v0 and MountainCarContinuous-v0 (spec §4.6; Gymnasium `mountain_car.py`,
//! `continuous_mountain_car.py`). The continuous version stores its state as float32 after
//! every step and mixes float32/float64 arithmetic; [`Np`] reproduces NumPy's rules.
use super::np::{pow2, Kind, Np};
use super::{emit, reseed};
use crate::rl::env::{check_state_len, Action, Env, EnvState, Precision, Space, Transition};
use crate::rl::np_random::NpRng;
use anyhow::Result;

const MIN_POSITION: f64 = -1.2;
const MAX_POSITION: f64 = 0.6;
const MAX_SPEED: f64 = 0.07;
const FORCE: f64 = 0.001;
const GRAVITY: f64 = 0.0025;
const POWER: f64 = 0.0015;
const GOAL_DISCRETE: f64 = 0.5;
const GOAL_CONTINUOUS: f64 = 0.45;

fn obs_space() -> Space {
    Space::Box {
        low: vec![MIN_POSITION, -MAX_SPEED],
        high: vec![MAX_POSITION, MAX_SPEED],
    }
}

/// State `(position, velocity)`; actions {0, 1, 2} push left, nothing, right.
pub struct MountainCar {
    pub state: [f64; 2],
    rng: NpRng,
}

impl Default for MountainCar {
    fn default() -> Self {
        MountainCar {
            state: [0.0; 2],
            rng: super::unseeded(),
        }
    }
}

impl MountainCar {
    /// One step (all f64); returns `terminated`.
    pub fn advance(&mut self, action: usize) -> bool {
        let [p, v] = self.state;
        let v = v + ((action as f64 - 1.0) * FORCE + (3.0 * p).cos() * (-GRAVITY));
        let v = v.clamp(-MAX_SPEED, MAX_SPEED);
        let p = (p + v).clamp(MIN_POSITION, MAX_POSITION);
        // Wall rule with exact equality on the clamped position (spec §7.8).
        let v = if p == MIN_POSITION && v < 0.0 { 0.0 } else { v };
        self.state = [p, v];
        p >= GOAL_DISCRETE && v >= 0.0
    }
}

/// `np.array([self.np_random.uniform(low=-0.6, high=-0.4), 0])`
fn reset_position(rng: &mut NpRng) -> [f64; 2] {
    [rng.uniform(-0.6, -0.4), 0.0]
}

impl Env for MountainCar {
    fn id(&self) -> &'static str {
        "MountainCar-v0"
    }
    fn observation_space(&self) -> Space {
        obs_space()
    }
    fn action_space(&self) -> Space {
        Space::Discrete(3)
    }
    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) {
        reseed(&mut self.rng, seed);
        self.state = reset_position(&mut self.rng);
        emit(obs, &self.state);
    }
    fn step(&mut self, action: Action, obs: &mut [f32]) -> Transition {
        let terminated = self.advance(action.index());
        emit(obs, &self.state);
        Transition {
            reward: -1.0,
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

/// State `(position, velocity)` with NumPy types; a 1-D force action in `[−1, 1]`.
pub struct MountainCarContinuous {
    pub state: [Np; 2],
    precision: Precision,
    rng: NpRng,
}

impl MountainCarContinuous {
    pub fn new(precision: Precision) -> Self {
        MountainCarContinuous {
            state: [Np::f64(0.0); 2],
            precision,
            rng: super::unseeded(),
        }
    }

    /// `continuous_mountain_car.py: step`, line by line; returns `(reward, terminated)`.
    pub fn advance(&mut self, action: f64) -> (f64, bool) {
        let gym = self.precision == Precision::Gymnasium;
        let [mut position, mut velocity] = self.state;
        let a = Np::typed(action, gym);
        // force = min(max(action[0], -1.0), 1.0), keeping Python's argument choice.
        let force = if Np::py(-1.0).gt(a) { Np::py(-1.0) } else { a };
        let force = if Np::py(1.0).lt(force) {
            Np::py(1.0)
        } else {
            force
        };
        let slope = Np::py(GRAVITY * (Np::py(3.0) * position).v.cos());
        velocity = velocity + (force * Np::py(POWER) - slope);
        if velocity.gt(Np::py(MAX_SPEED)) {
            velocity = Np::py(MAX_SPEED);
        }
        if velocity.lt(Np::py(-MAX_SPEED)) {
            velocity = Np::py(-MAX_SPEED);
        }
        position = position + velocity;
        if position.gt(Np::py(MAX_POSITION)) {
            position = Np::py(MAX_POSITION);
        }
        if position.lt(Np::py(MIN_POSITION)) {
            position = Np::py(MIN_POSITION);
        }
        if position.equals(Np::py(MIN_POSITION)) && velocity.lt(Np::py(0.0)) {
            velocity = Np::py(0.0);
        }
        let terminated = position.ge(Np::py(GOAL_CONTINUOUS)) && velocity.ge(Np::py(0.0));
        // The penalty uses the unclipped action (spec §7.8).
        let bonus = if terminated { 100.0 } else { 0.0 };
        let reward = bonus - pow2(a.v) * 0.1; // math.pow(action[0], 2) * 0.1
        self.state = [Np::typed(position.v, gym), Np::typed(velocity.v, gym)];
        (reward, terminated)
    }

    fn observe(&self, obs: &mut [f32]) {
        emit(obs, &[self.state[0].v, self.state[1].v]);
    }
}

impl Env for MountainCarContinuous {
    fn id(&self) -> &'static str {
        "MountainCarContinuous-v0"
    }
    fn observation_space(&self) -> Space {
        obs_space()
    }
    fn action_space(&self) -> Space {
        Space::symmetric(&[1.0])
    }
    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) {
        reseed(&mut self.rng, seed);
        let [p, v] = reset_position(&mut self.rng);
        // After reset Gymnasium holds a float64 array, float32 only after a step.
        self.state = [Np::f64(p), Np::f64(v)];
        self.observe(obs);
    }
    fn step(&mut self, action: Action, obs: &mut [f32]) -> Transition {
        let (reward, terminated) = self.advance(action.values()[0]);
        self.observe(obs);
        Transition {
            reward,
            terminated,
            truncated: false,
        }
    }
    fn state(&self) -> Vec<f64> {
        vec![self.state[0].v, self.state[1].v]
    }
    fn set_state(&mut self, state: &[f64], obs: &mut [f32]) -> Result<()> {
        check_state_len(self.id(), state, 2)?;
        self.state = [Np::f64(state[0]), Np::f64(state[1])];
        self.observe(obs);
        Ok(())
    }
    fn save(&self) -> EnvState {
        EnvState {
            state: self.state(),
            state_is_f32: self.state[0].kind == Kind::F32,
            rng: self.rng.save(),
            elapsed: 0,
        }
    }
    fn load(&mut self, saved: &EnvState) -> Result<()> {
        check_state_len(self.id(), &saved.state, 2)?;
        let typed = |v| Np::typed(v, saved.state_is_f32);
        self.state = [typed(saved.state[0]), typed(saved.state[1])];
        self.rng = saved.rng.restore()?;
        Ok(())
    }
}
