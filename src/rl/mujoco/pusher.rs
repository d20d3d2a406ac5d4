//! Pusher-v5 (Gymnasium `pusher_v5.py`, spec §4.7): obs (23) = qpos[:7] + qvel[:7] + the
//! positions of the fingertip, the object and the goal; reward (after the step in v5) =
//! −‖object − goal‖ − 0.1·‖a‖² − 0.5·‖object − tip‖; never terminates; time limit 100.
use super::base::Task;
use super::np::{control_cost, norm};
use super::sim::{Sim, Unstable};
use super::ResetNoise;
use crate::rl::env::Precision;
use anyhow::Result;

const NEAR_WEIGHT: f64 = 0.5;
const DIST_WEIGHT: f64 = 1.0;
const CTRL_WEIGHT: f64 = 0.1;
/// The object starts farther than this from the goal (strictly).
const MIN_GOAL_DISTANCE: f64 = 0.17;

pub struct Pusher {
    tip: usize,
    object: usize,
    goal: usize,
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

impl Task for Pusher {
    const ID: &'static str = "Pusher-v5";
    const MODEL_FILE: &'static str = "pusher_v5.xml";
    const FRAME_SKIP: usize = 5;
    const MIN_NQ_NV: (usize, usize) = (7, 7);
    /// The velocity noise (the positions of object and goal are drawn as below).
    const RESET_NOISE: f64 = 5e-3;
    fn new(sim: &Sim) -> Result<Self> {
        Ok(Pusher {
            tip: sim.body_id("tips_arm")?,
            object: sim.body_id("object")?,
            goal: sim.body_id("goal")?,
        })
    }
    fn obs_dim(&self, _: &Sim) -> usize {
        23
    }
    fn observe(&self, sim: &Sim, obs: &mut [f64]) {
        obs[..7].copy_from_slice(&sim.qpos()[..7]);
        obs[7..14].copy_from_slice(&sim.qvel()[..7]);
        for (k, body) in [self.tip, self.object, self.goal].into_iter().enumerate() {
            obs[14 + 3 * k..17 + 3 * k].copy_from_slice(&sim.body_xpos(body));
        }
    }
    /// The object's (x, y) is drawn until farther than 0.17 from the goal at (0, 0); qvel
    /// gets U(±0.005) noise except the object's and goal's four slide joints.
    fn initial_state(&self, sim: &Sim, rng: &mut dyn ResetNoise) -> (Vec<f64>, Vec<f64>) {
        let mut qpos = sim.init_qpos.clone();
        let cylinder = loop {
            let c = [rng.uniform(-0.3, 0.0), rng.uniform(-0.2, 0.2)];
            if norm(&c) > MIN_GOAL_DISTANCE {
                break c;
            }
        };
        let nq = qpos.len();
        qpos[nq - 4..nq - 2].copy_from_slice(&cylinder);
        qpos[nq - 2..].fill(0.0);
        let mut qvel: Vec<f64> = super::add_uniform(&sim.init_qvel, Self::RESET_NOISE, rng);
        let nv = qvel.len();
        qvel[nv - 4..].fill(0.0);
        (qpos, qvel)
    }
    fn step(
        &mut self,
        sim: &mut Sim,
        action: &[f64],
        precision: Precision,
    ) -> Result<(f64, bool), Unstable> {
        sim.simulate(action)?;
        let object = sim.body_xpos(self.object);
        let reward_near = -norm(&sub(object, sim.body_xpos(self.tip))) * NEAR_WEIGHT;
        let reward_dist = -norm(&sub(object, sim.body_xpos(self.goal))) * DIST_WEIGHT;
        let reward_ctrl = -control_cost(CTRL_WEIGHT, action, precision);
        Ok(((reward_dist + reward_ctrl) + reward_near, false))
    }
}
