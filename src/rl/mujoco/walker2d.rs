//! Walker2d-v5 (Gymnasium `walker2d_v5.py`, spec §4.7): obs = qpos[1:] (8) + clip(qvel, ±10)
//! (9); reward = Δx/dt + 1·[healthy] − 1e-3·‖a‖²; healthy: z ∈ (0.8, 2), angle ∈ (−1, 1).
//! v5 uses `walker2d_v5.xml` (both feet with the same friction).
use super::base::Task;
use super::hopper::positions_velocities;
use super::np::control_cost;
use super::sim::{Sim, Unstable};
use crate::rl::env::Precision;
use anyhow::Result;

const CTRL_COST_WEIGHT: f64 = 1e-3;
const HEALTHY_REWARD: f64 = 1.0;

pub struct Walker2d;

impl Task for Walker2d {
    const ID: &'static str = "Walker2d-v5";
    const MODEL_FILE: &'static str = "walker2d_v5.xml";
    const FRAME_SKIP: usize = 4;
    const MIN_NQ_NV: (usize, usize) = (3, 0);
    const RESET_NOISE: f64 = 5e-3;
    fn new(_: &Sim) -> Result<Self> {
        Ok(Walker2d)
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
        let (z, angle) = (sim.qpos()[1], sim.qpos()[2]);
        let healthy = 0.8 < z && z < 2.0 && -1.0 < angle && angle < 1.0;
        let healthy_reward = if healthy { HEALTHY_REWARD } else { 0.0 };
        let cost = control_cost(CTRL_COST_WEIGHT, action, precision);
        Ok(((x_velocity + healthy_reward) - cost, !healthy))
    }
}
