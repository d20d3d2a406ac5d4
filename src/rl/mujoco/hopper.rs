//! Hopper-v5 (Gymnasium `hopper_v5.py`, spec §4.7): obs = qpos[1:] (5) + clip(qvel, ±10)
//! (6); reward = Δx/dt + 1·[healthy] − 1e-3·‖a‖²; terminates when unhealthy.
use super::base::Task;
use super::np::control_cost;
use super::sim::{Sim, Unstable};
use crate::rl::env::Precision;
use anyhow::Result;

const CTRL_COST_WEIGHT: f64 = 1e-3;
const HEALTHY_REWARD: f64 = 1.0;

pub struct Hopper;

/// Strict bounds: every state entry after (x, z) in (−100, 100), z > 0.7, |angle| < 0.2.
pub fn hopper_healthy(qpos: &[f64], qvel: &[f64]) -> bool {
    let (z, angle) = (qpos[1], qpos[2]);
    let state_ok = qpos[2..]
        .iter()
        .chain(qvel)
        .all(|&s| -100.0 < s && s < 100.0);
    state_ok && 0.7 < z && z < f64::INFINITY && -0.2 < angle && angle < 0.2
}

/// `qpos[skip..]` then `clip(qvel, ±clip)` (no clip when `clip` is None).
pub fn positions_velocities(sim: &Sim, skip: usize, clip: Option<f64>, obs: &mut [f64]) {
    let qpos = &sim.qpos()[skip..];
    obs[..qpos.len()].copy_from_slice(qpos);
    for (o, &v) in obs[qpos.len()..].iter_mut().zip(sim.qvel()) {
        *o = match clip {
            Some(c) => v.clamp(-c, c),
            None => v,
        };
    }
}

impl Task for Hopper {
    const ID: &'static str = "Hopper-v5";
    const MODEL_FILE: &'static str = "hopper.xml";
    const FRAME_SKIP: usize = 4;
    const MIN_NQ_NV: (usize, usize) = (3, 0);
    const RESET_NOISE: f64 = 5e-3;
    fn new(_: &Sim) -> Result<Self> {
        Ok(Hopper)
    }
    fn obs_dim(&self, sim: &Sim) -> usize {
        sim.nq() + sim.nv() - 1
    }
    fn observe(&self, sim: &Sim, obs: &mut [f64]) {
        positions_velocities(sim, 1, Some(10.0), obs);
    }
    fn step(
        &mut self,
        sim: &mut Sim,
        action: &[f64],
        precision: Precision,
    ) -> Result<(f64, bool), Unstable> {
        let x_velocity = sim.simulate_velocity(action, |s| s.qpos()[0])?;
        let healthy = hopper_healthy(sim.qpos(), sim.qvel());
        let healthy_reward = if healthy { HEALTHY_REWARD } else { 0.0 };
        let reward =
            (x_velocity + healthy_reward) - control_cost(CTRL_COST_WEIGHT, action, precision);
        Ok((reward, !healthy))
    }
}
