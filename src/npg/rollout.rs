//! Collect one iteration's batch (spec §1.9 step 1): `num_envs × rollout_len` transitions
//! with the current policy, values, final-observation values at truncations, and the
//! finished training episodes.
use super::backend::{Policy, ValueFn};
use crate::rl::normalize::{ObsNormalizer, RewardScaler};
use crate::rl::{EpisodeEnd, Space, VecEnv};
use rand_chacha::ChaCha8Rng;
use tch::{Device, Tensor};

/// Time-major arrays: index `t * num_envs + e`.
#[derive(Default)]
pub struct Batch {
    pub obs: Vec<f64>,
    pub actions: Vec<f64>,
    pub values: Vec<f64>,
    pub rewards: Vec<f64>,
    pub terminated: Vec<bool>,
    pub truncated: Vec<bool>,
    pub final_values: Vec<f64>,
    pub last_values: Vec<f64>,
}

/// The training environments and their wrappers' state.
pub struct Collector {
    pub venv: VecEnv,
    pub obs_norm: Option<ObsNormalizer>,
    pub reward_scale: Option<RewardScaler>,
}

/// Observation rows as the network sees them (normalised if enabled), in f64.
pub fn network_input(obs: &[f32], norm: &mut Option<ObsNormalizer>, update: bool) -> Vec<f64> {
    let mut rows = obs.to_vec();
    if let Some(n) = norm {
        n.apply(&mut rows, update);
    }
    rows.iter().map(|&x| x as f64).collect()
}

pub fn to_tensor(rows: &[f64], dim: usize, device: Device) -> Tensor {
    Tensor::from_slice(rows)
        .view([-1, dim as i64])
        .to_device(device)
}

impl Collector {
    /// Run `steps` vector steps; finished episodes go to `episodes` with their env_steps.
    pub fn collect<A: Policy, C: ValueFn>(
        &mut self,
        actor: &A,
        critic: &C,
        steps: usize,
        rng: &mut ChaCha8Rng,
        env_steps_before: usize,
        episodes: &mut Vec<(usize, EpisodeEnd)>,
    ) -> Batch {
        let n = self.venv.num_envs();
        let dim = self.venv.obs_dim();
        let mut b = Batch::default();
        for t in 0..steps {
            let rows = network_input(self.venv.obs(), &mut self.obs_norm, true);
            let (stored, sent) = actor.act(&rows, dim, rng, false);
            b.values.extend(critic.values(&rows, dim));
            b.obs.extend(rows);
            b.actions.extend(&stored);
            match self.venv.action_space() {
                Space::Discrete(_) => {
                    let idx: Vec<usize> = sent.iter().map(|&a| a as usize).collect();
                    self.venv.step_discrete(&idx);
                }
                Space::Box { .. } => self.venv.step_continuous(&sent),
            }
            let env_steps = env_steps_before + (t + 1) * n;
            episodes.extend(
                self.venv
                    .drain_finished()
                    .into_iter()
                    .map(|e| (env_steps, e)),
            );
            self.record_step(critic, dim, &mut b);
        }
        let rows = network_input(self.venv.obs(), &mut self.obs_norm, false);
        b.last_values = critic.values(&rows, dim);
        b
    }

    /// Rewards (scaled if enabled), flags, and `V(final obs)` where an episode was truncated.
    fn record_step<C: ValueFn>(&mut self, critic: &C, dim: usize, b: &mut Batch) {
        let trans = self.venv.transitions().to_vec();
        let mut rewards: Vec<f64> = trans.iter().map(|t| t.reward).collect();
        let term: Vec<bool> = trans.iter().map(|t| t.terminated).collect();
        let done: Vec<bool> = trans.iter().map(|t| t.done()).collect();
        if let Some(scaler) = &mut self.reward_scale {
            scaler.apply(&mut rewards, &term, &done);
        }
        for (i, t) in trans.iter().enumerate() {
            let final_value = if t.truncated && !t.terminated {
                let rows = network_input(self.venv.final_obs(i), &mut self.obs_norm, false);
                critic.values(&rows, dim)[0]
            } else {
                0.0
            };
            b.final_values.push(final_value);
        }
        b.rewards.extend(rewards);
        b.terminated.extend(term);
        b.truncated.extend(trans.iter().map(|t| t.truncated));
    }
}
