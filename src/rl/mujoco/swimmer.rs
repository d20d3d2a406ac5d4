//! Swimmer-v5 (Gymnasium `swimmer_v5.py`, spec §4.7): obs = qpos[2:] (3) + qvel (5);
//! reward = Δx/dt − 1e-4·‖a‖²; never terminates; reset noise U(±0.1) on qpos and qvel.
use super::base::Task;
use super::hopper::positions_velocities;
use super::np::control_cost;
use super::sim::{Sim, Unstable};
use crate::rl::env::Precision;
use anyhow::Result;

const CTRL_COST_WEIGHT: f64 = 1e-4;

pub struct Swimmer;

impl Task for Swimmer {
    const ID: &'static str = "Swimmer-v5";
    const MODEL_FILE: &'static str = "swimmer.xml";
    const FRAME_SKIP: usize = 4;
    const MIN_NQ_NV: (usize, usize) = (2, 0);
    const RESET_NOISE: f64 = 0.1;
    fn new(_: &Sim) -> Result<Self> {
        Ok(Swimmer)
    }
    fn obs_dim(&self, sim: &Sim) -> usize {
        sim.nq() + sim.nv() - 2
    }
    fn observe(&self, sim: &Sim, obs: &mut [f64]) {
        positions_velocities(sim, 2, None, obs);
    }
    fn step(
        &mut self,
        sim: &mut Sim,
        action: &[f64],
        precision: Precision,
    ) -> Result<(f64, bool), Unstable> {
        let x_velocity = sim.simulate_velocity(action, |s| s.qpos()[0])?;
        Ok((
            x_velocity - control_cost(CTRL_COST_WEIGHT, action, precision),
            false,
        ))
    }
}
