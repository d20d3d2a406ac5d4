//! Acrobot-v1 (spec §4.4; Gymnasium `acrobot.py`, "book" dynamics): one RK4 step of
//! dt = 0.2, angle wrapping by loops, velocity clamps.
use super::np::pow2;
use super::{emit, reseed};
use crate::rl::env::{Action, Env, EnvState, Precision, Space, Transition};
use crate::rl::np_random::NpRng;
use anyhow::Result;
use std::f64::consts::PI;

const DT: f64 = 0.2;
const M1: f64 = 1.0;
const M2: f64 = 1.0;
const L1: f64 = 1.0;
const LC1: f64 = 0.5;
const LC2: f64 = 0.5;
const I1: f64 = 1.0;
const I2: f64 = 1.0;
const G: f64 = 9.8;
const MAX_VEL_1: f64 = 4.0 * PI;
const MAX_VEL_2: f64 = 9.0 * PI;
const TORQUES: [f64; 3] = [-1.0, 0.0, 1.0];

/// State `(θ1, θ2, θ̇1, θ̇2)`; actions {0, 1, 2} → torque {−1, 0, +1}.
pub struct Acrobot {
    pub state: [f64; 4],
    precision: Precision,
    rng: NpRng,
}

impl Acrobot {
    pub fn new(precision: Precision) -> Self {
        Acrobot {
            state: [0.0; 4],
            precision,
            rng: super::unseeded(),
        }
    }

    fn observe(&self, obs: &mut [f32]) {
        let [t1, t2, d1, d2] = self.state;
        emit(obs, &[t1.cos(), t1.sin(), t2.cos(), t2.sin(), d1, d2]);
    }

    /// One RK4 step with the augmented state, then wrap and clamp; returns `terminated`.
    pub fn advance(&mut self, action: usize) -> bool {
        let y0 = [
            self.state[0],
            self.state[1],
            self.state[2],
            self.state[3],
            TORQUES[action],
        ];
        let ns = rk4(y0, DT);
        self.state = [
            wrap(ns[0], -PI, PI),
            wrap(ns[1], -PI, PI),
            ns[2].clamp(-MAX_VEL_1, MAX_VEL_1),
            ns[3].clamp(-MAX_VEL_2, MAX_VEL_2),
        ];
        let [t1, t2, ..] = self.state;
        -t1.cos() - (t2 + t1).cos() > 1.0
    }
}

/// Derivatives of `(θ1, θ2, θ̇1, θ̇2, torque)`, transcribed from `AcrobotEnv._dsdt`; its
/// `x**2` of float64 scalars is C `pow` ([`pow2`]), squares of exact constants are products.
fn dsdt(s: [f64; 5]) -> [f64; 5] {
    let [theta1, theta2, dtheta1, dtheta2, a] = s;
    let d1 = M1 * LC1 * LC1 + M2 * (L1 * L1 + LC2 * LC2 + 2.0 * L1 * LC2 * theta2.cos()) + I1 + I2;
    let d2 = M2 * (LC2 * LC2 + L1 * LC2 * theta2.cos()) + I2;
    let phi2 = M2 * LC2 * G * (theta1 + theta2 - PI / 2.0).cos();
    let phi1 = -M2 * L1 * LC2 * pow2(dtheta2) * theta2.sin()
        - 2.0 * M2 * L1 * LC2 * dtheta2 * dtheta1 * theta2.sin()
        + (M1 * LC1 + M2 * L1) * G * (theta1 - PI / 2.0).cos()
        + phi2;
    let ddtheta2 = (a + d2 / d1 * phi1 - M2 * L1 * LC2 * pow2(dtheta1) * theta2.sin() - phi2)
        / (M2 * LC2 * LC2 + I2 - pow2(d2) / d1);
    let ddtheta1 = -(d2 * ddtheta2 + phi1) / d1;
    [dtheta1, dtheta2, ddtheta1, ddtheta2, 0.0]
}

/// Gymnasium's `rk4` over `t = [0, dt]`, with its exact operation order.
fn rk4(y0: [f64; 5], dt: f64) -> [f64; 5] {
    let dt2 = dt / 2.0;
    let shifted = |k: &[f64; 5], h: f64| std::array::from_fn(|i| y0[i] + h * k[i]);
    let k1 = dsdt(y0);
    let k2 = dsdt(shifted(&k1, dt2));
    let k3 = dsdt(shifted(&k2, dt2));
    let k4 = dsdt(shifted(&k3, dt));
    std::array::from_fn(|i| y0[i] + dt / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]))
}

/// Wrap into `[m, M]` by repeated shifts (spec §7.8: loops, not a modulo).
fn wrap(mut x: f64, m: f64, big_m: f64) -> f64 {
    let diff = big_m - m;
    while x > big_m {
        x -= diff;
    }
    while x < m {
        x += diff;
    }
    x
}

impl Env for Acrobot {
    fn id(&self) -> &'static str {
        "Acrobot-v1"
    }
    fn observation_space(&self) -> Space {
        Space::symmetric(&[1.0, 1.0, 1.0, 1.0, MAX_VEL_1, MAX_VEL_2])
    }
    fn action_space(&self) -> Space {
        Space::Discrete(3)
    }
    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) {
        reseed(&mut self.rng, seed);
        for s in self.state.iter_mut() {
            // uniform(low=-0.1, high=0.1, size=(4,)).astype(np.float32)
            let v = self.rng.uniform(-0.1, 0.1);
            *s = match self.precision {
                Precision::Gymnasium => v as f32 as f64,
                Precision::F64 => v,
            };
        }
        self.observe(obs);
    }
    fn step(&mut self, action: Action, obs: &mut [f32]) -> Transition {
        let terminated = self.advance(action.index());
        self.observe(obs);
        Transition {
            reward: if terminated { 0.0 } else { -1.0 },
            terminated,
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
