//! N environments stepped in a fixed order in one thread with same-step autoreset
//! (spec §4.2, §7.3): an instance that ends is reset at once; its final observation is kept
//! separately for bootstrapping, and episode statistics come from the final step.
//!
//! Seeding is Gymnasium's `SyncVectorEnv.reset(seed=s)`: env `i` is reset with seed `s + i`,
//! and every later reset (autoreset) is unseeded, continuing that env's generator, so a vector
//! env seeded `s` steps through the episodes Gymnasium's does (tests/it/rl_vec_seed.rs).
use super::env::{Action, Env, EnvState, Space, Transition};
use super::registry::{make, EnvOptions};
use anyhow::{ensure, Context, Result};
use serde::{Deserialize, Serialize};

/// A vector env's full state for checkpoints.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VecEnvState {
    pub envs: Vec<EnvState>,
    pub obs: Vec<f32>,
    pub ep_return: Vec<f64>,
    pub ep_len: Vec<usize>,
}

/// The largest magnitude a saved env state or observation may hold: MuJoCo's `mjMAXVAL`, past
/// which it calls a simulation unstable and resets it; the classic-control states stay far
/// below it (clipped velocities, terminated episodes).
pub const MAX_STATE_VALUE: f64 = 1e10;

impl VecEnvState {
    /// An error naming the first value no run saves: a state or observation value that is not
    /// finite or beyond [`MAX_STATE_VALUE`], a non-finite episode return, or an episode length
    /// other than the env's time-limit count (the envs are [`make`]'s, time-limited). An edited one was
    /// carried on: its physics overflowed into NaN observations, or its return into the rows.
    pub fn check_values(&self) -> Result<()> {
        let bounded = |v: f64| v.is_finite() && v.abs() <= MAX_STATE_VALUE;
        for (i, env) in self.envs.iter().enumerate() {
            if let Some((j, v)) = env.state.iter().enumerate().find(|(_, v)| !bounded(**v)) {
                anyhow::bail!(
                    "`venv.envs[{i}].state[{j}]` is {v:e}, but no env reaches a state value \
                     that is not finite or beyond ±{MAX_STATE_VALUE:e}"
                );
            }
        }
        if let Some((j, v)) = self
            .obs
            .iter()
            .enumerate()
            .find(|(_, v)| !bounded(**v as f64))
        {
            anyhow::bail!(
                "`venv.obs[{j}]` is {v:e}, but no env observes a value that is not finite or \
                 beyond ±{MAX_STATE_VALUE:e}"
            );
        }
        if let Some((j, v)) = self
            .ep_return
            .iter()
            .enumerate()
            .find(|(_, v)| !v.is_finite())
        {
            anyhow::bail!("`venv.ep_return[{j}]` is {v}, but a return is a finite sum of rewards");
        }
        // The episode's length and its time limit's step count both count the steps since the
        // env's last reset: an edited length was written to episodes.csv as is (1e15 steps).
        for (j, (len, env)) in self.ep_len.iter().zip(&self.envs).enumerate() {
            anyhow::ensure!(
                *len == env.elapsed,
                "`venv.ep_len[{j}]` is {len}, but `venv.envs[{j}].elapsed` counts {} steps \
                 since that env's reset (both count the same steps)",
                env.elapsed
            );
        }
        Ok(())
    }
}

/// A training episode that finished during the last `step`.
#[derive(Clone, Debug, PartialEq)]
pub struct EpisodeEnd {
    pub env: usize,
    pub ret: f64,
    pub len: usize,
    pub terminated: bool,
    pub truncated: bool,
}

pub struct VecEnv {
    envs: Vec<Box<dyn Env>>,
    obs_dim: usize,
    action_space: Space,
    /// Current observations, row per env (the reset observation where an episode ended).
    obs: Vec<f32>,
    /// Final observation of the episode that ended at the last step (valid where done).
    final_obs: Vec<f32>,
    transitions: Vec<Transition>,
    ep_return: Vec<f64>,
    ep_len: Vec<usize>,
    finished: Vec<EpisodeEnd>,
}

impl VecEnv {
    /// Reset every env, env `i` with seed `seed + i` (Gymnasium's `SyncVectorEnv.reset(seed)`;
    /// wrapping past `u64::MAX`, where Python's integers would grow instead).
    pub fn new(mut envs: Vec<Box<dyn Env>>, seed: u64) -> Result<Self> {
        ensure!(!envs.is_empty(), "a vector env needs at least one env");
        let obs_dim = envs[0].obs_dim();
        let action_space = envs[0].action_space();
        for e in &envs {
            ensure!(
                e.obs_dim() == obs_dim && e.action_space() == action_space,
                "all envs of a vector env must share observation and action spaces"
            );
        }
        let n = envs.len();
        let mut obs = vec![0.0f32; n * obs_dim];
        for (i, (e, row)) in envs.iter_mut().zip(obs.chunks_mut(obs_dim)).enumerate() {
            e.reset(Some(seed.wrapping_add(i as u64)), row);
        }
        Ok(VecEnv {
            envs,
            obs_dim,
            action_space,
            final_obs: obs.clone(),
            obs,
            transitions: vec![Transition::default(); n],
            ep_return: vec![0.0; n],
            ep_len: vec![0; n],
            finished: Vec::new(),
        })
    }

    /// `n` copies of `id` with its time limit.
    pub fn from_id(id: &str, opts: &EnvOptions, n: usize, seed: u64) -> Result<Self> {
        let envs = (0..n)
            .map(|_| make(id, opts).map(|e| Box::new(e) as Box<dyn Env>))
            .collect::<Result<Vec<_>>>()?;
        VecEnv::new(envs, seed)
    }

    pub fn num_envs(&self) -> usize {
        self.envs.len()
    }
    pub fn obs_dim(&self) -> usize {
        self.obs_dim
    }
    pub fn action_space(&self) -> &Space {
        &self.action_space
    }
    pub fn obs(&self) -> &[f32] {
        &self.obs
    }
    /// Final observation of env `i`'s episode if it ended at the last step.
    pub fn final_obs(&self, i: usize) -> &[f32] {
        &self.final_obs[i * self.obs_dim..(i + 1) * self.obs_dim]
    }
    pub fn transitions(&self) -> &[Transition] {
        &self.transitions
    }
    /// Episodes finished since the last call, in env order per step.
    pub fn drain_finished(&mut self) -> Vec<EpisodeEnd> {
        std::mem::take(&mut self.finished)
    }

    pub fn save(&self) -> VecEnvState {
        VecEnvState {
            envs: self.envs.iter().map(|e| e.save()).collect(),
            obs: self.obs.clone(),
            ep_return: self.ep_return.clone(),
            ep_len: self.ep_len.clone(),
        }
    }

    /// Continue exactly from `saved` (same env id and count).
    pub fn load(&mut self, saved: &VecEnvState) -> Result<()> {
        ensure!(
            saved.envs.len() == self.envs.len() && saved.obs.len() == self.obs.len(),
            "checkpoint holds {} envs, this run has {}",
            saved.envs.len(),
            self.envs.len()
        );
        saved.check_values()?;
        for (i, (e, s)) in self.envs.iter_mut().zip(&saved.envs).enumerate() {
            e.load(s).with_context(|| format!("venv.envs[{i}]"))?;
        }
        self.obs.clone_from(&saved.obs);
        self.ep_return.clone_from(&saved.ep_return);
        self.ep_len.clone_from(&saved.ep_len);
        Ok(())
    }

    /// Step every env with a discrete action each.
    pub fn step_discrete(&mut self, actions: &[usize]) {
        assert_eq!(actions.len(), self.num_envs(), "one action per env");
        for (i, &a) in actions.iter().enumerate() {
            self.step_one(i, Action::Discrete(a));
        }
    }

    /// Step every env with a continuous action each (`actions` row per env).
    pub fn step_continuous(&mut self, actions: &[f64]) {
        let dim = self.action_space.dim();
        assert_eq!(
            actions.len(),
            self.num_envs() * dim,
            "one action row per env"
        );
        for i in 0..self.num_envs() {
            self.step_one(i, Action::Continuous(&actions[i * dim..(i + 1) * dim]));
        }
    }

    fn step_one(&mut self, i: usize, action: Action) {
        let d = self.obs_dim;
        let row = &mut self.obs[i * d..(i + 1) * d];
        let t = self.envs[i].step(action, row);
        self.transitions[i] = t;
        self.ep_return[i] += t.reward;
        self.ep_len[i] += 1;
        if t.done() {
            self.final_obs[i * d..(i + 1) * d].copy_from_slice(row);
            self.finished.push(EpisodeEnd {
                env: i,
                ret: self.ep_return[i],
                len: self.ep_len[i],
                terminated: t.terminated,
                truncated: t.truncated,
            });
            self.ep_return[i] = 0.0;
            self.ep_len[i] = 0;
            self.envs[i].reset(None, row);
        }
    }
}
