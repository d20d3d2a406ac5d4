//! HalfCheetah-v5 (Gymnasium `half_cheetah_v5.py`, spec §4.7): obs = qpos[1:] (8) + qvel (9);
//! reward = Δx/dt − 0.1·‖a‖²; never terminates; reset noise qpos + U(±0.1), qvel + 0.1·N(0, 1).
use super::base::Task;
use super::hopper::positions_velocities;
use super::np::control_cost;
use super::sim::{Sim, Unstable};
use super::{add_uniform, ResetNoise};
use crate::rl::env::Precision;
use anyhow::Result;

const CTRL_COST_WEIGHT: f64 = 0.1;

pub struct HalfCheetah;

impl Task for HalfCheetah {
    const ID: &'static str = "HalfCheetah-v5";
    const MODEL_FILE: &'static str = "half_cheetah.xml";
    const FRAME_SKIP: usize = 5;
    const MIN_NQ_NV: (usize, usize) = (1, 0);
    const RESET_NOISE: f64 = 0.1;
    fn new(_: &Sim) -> Result<Self> {
        Ok(HalfCheetah)
    }
    fn obs_dim(&self, sim: &Sim) -> usize {
        sim.nq() + sim.nv() - 1
    }
    fn observe(&self, sim: &Sim, obs: &mut [f64]) {
        positions_velocities(sim, 1, None, obs);
    }
    fn initial_state(&self, sim: &Sim, rng: &mut dyn ResetNoise) -> (Vec<f64>, Vec<f64>) {
        let qpos = add_uniform(&sim.init_qpos, Self::RESET_NOISE, rng);
        let qvel = sim
            .init_qvel
            .iter()
            .map(|v| v + Self::RESET_NOISE * rng.standard_normal())
            .collect();
        (qpos, qvel)
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
