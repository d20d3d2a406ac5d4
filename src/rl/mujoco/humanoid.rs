//! Humanoid-v5 (Gymnasium `humanoid_v5.py`, spec §4.7). The observation (348) is qpos[2:]
//! (22), qvel (23), cinert[1:] (130), cvel[1:] (78), qfrc_actuator[6:] (17) and cfrc_ext[1:]
//! (78). The reward is 1.25·Δx_com/dt + 5·[healthy] − 0.1·‖ctrl‖² − min(5e-7·‖cfrc_ext‖², 10),
//! where the control cost squares `data.ctrl` (f64). Terminates when torso z ∉ (1, 2).
use super::base::Task;
use super::np::{pairwise_sum, sum_of_squares};
use super::sim::{Sim, Unstable};
use crate::rl::env::Precision;
use anyhow::Result;

const FORWARD_REWARD_WEIGHT: f64 = 1.25;
const CTRL_COST_WEIGHT: f64 = 0.1;
const CONTACT_COST_WEIGHT: f64 = 5e-7;
const CONTACT_COST_MAX: f64 = 10.0;
const HEALTHY_REWARD: f64 = 5.0;

pub struct Humanoid;

/// x of the mass centre: `einsum('b,bj->j', body_mass, xipos) / body_mass.sum()`.
fn mass_center_x(sim: &Sim) -> f64 {
    let mass = sim.model().body_mass();
    let xipos = sim.data().xipos();
    let num = mass
        .iter()
        .zip(xipos)
        .fold(0.0, |acc, (m, p)| acc + m * p[0]);
    num / pairwise_sum(mass)
}

impl Task for Humanoid {
    const ID: &'static str = "Humanoid-v5";
    const MODEL_FILE: &'static str = "humanoid.xml";
    const FRAME_SKIP: usize = 5;
    const MIN_NQ_NV: (usize, usize) = (3, 6);
    /// The observation and the contact cost read `cfrc_ext`.
    const READS_CONSTRAINT_FORCES: bool = true;
    const RESET_NOISE: f64 = 1e-2;
    fn new(_: &Sim) -> Result<Self> {
        Ok(Humanoid)
    }
    fn obs_dim(&self, sim: &Sim) -> usize {
        let bodies = sim.model().body_mass().len() - 1;
        sim.nq() - 2 + sim.nv() + bodies * (10 + 6 + 6) + sim.nv() - 6
    }
    fn observe(&self, sim: &Sim, obs: &mut [f64]) {
        let d = sim.data();
        let parts = [
            &sim.qpos()[2..],
            sim.qvel(),
            d.cinert()[1..].as_flattened(),
            d.cvel()[1..].as_flattened(),
            &d.qfrc_actuator()[6..],
            d.cfrc_ext()[1..].as_flattened(),
        ];
        let mut at = 0;
        for part in parts {
            obs[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
    }
    fn step(
        &mut self,
        sim: &mut Sim,
        action: &[f64],
        _: Precision,
    ) -> Result<(f64, bool), Unstable> {
        let x_velocity = sim.simulate_velocity(action, mass_center_x)?;
        let z = sim.qpos()[2];
        let healthy = 1.0 < z && z < 2.0;
        let healthy_reward = if healthy { HEALTHY_REWARD } else { 0.0 };
        let ctrl_cost = CTRL_COST_WEIGHT * sum_of_squares(sim.data().ctrl());
        let contact = CONTACT_COST_WEIGHT * sum_of_squares(sim.data().cfrc_ext().as_flattened());
        let contact_cost = contact.min(CONTACT_COST_MAX);
        let rewards = FORWARD_REWARD_WEIGHT * x_velocity + healthy_reward;
        Ok((rewards - (ctrl_cost + contact_cost), !healthy))
    }
}
