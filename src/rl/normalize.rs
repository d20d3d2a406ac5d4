//! Observation and reward normalisation (spec §1.10, §7.4), as Gymnasium's vector
//! `NormalizeObservation` / `NormalizeReward` (same-step autoreset) plus clipping. The state
//! is serialisable so checkpoints can save it; evaluation uses it frozen (`update = false`).
use serde::{Deserialize, Serialize};

/// Running mean/variance with Gymnasium's parallel update (initial count 1e-4).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunningMeanStd {
    pub mean: Vec<f64>,
    pub var: Vec<f64>,
    pub count: f64,
}

impl RunningMeanStd {
    pub fn new(dim: usize) -> Self {
        RunningMeanStd {
            mean: vec![0.0; dim],
            var: vec![1.0; dim],
            count: 1e-4,
        }
    }

    /// Merge a batch of rows (`rows.len()` a multiple of the dimension).
    pub fn update(&mut self, rows: &[f64]) {
        let dim = self.mean.len();
        let n = rows.len() / dim;
        if n == 0 {
            return;
        }
        let mut batch_mean = vec![0.0; dim];
        let mut batch_var = vec![0.0; dim];
        for row in rows.chunks(dim) {
            for (m, x) in batch_mean.iter_mut().zip(row) {
                *m += x;
            }
        }
        batch_mean.iter_mut().for_each(|m| *m /= n as f64);
        for row in rows.chunks(dim) {
            for ((v, m), x) in batch_var.iter_mut().zip(&batch_mean).zip(row) {
                *v += (x - m) * (x - m);
            }
        }
        batch_var.iter_mut().for_each(|v| *v /= n as f64);
        self.merge(&batch_mean, &batch_var, n as f64);
    }

    fn merge(&mut self, batch_mean: &[f64], batch_var: &[f64], batch_count: f64) {
        let tot = self.count + batch_count;
        for j in 0..self.mean.len() {
            let delta = batch_mean[j] - self.mean[j];
            let m2 = self.var[j] * self.count
                + batch_var[j] * batch_count
                + delta * delta * self.count * batch_count / tot;
            self.mean[j] += delta * batch_count / tot;
            self.var[j] = m2 / tot;
        }
        self.count = tot;
    }
}

/// `(obs − mean)/√(var + ε)`, clipped to ±clip.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObsNormalizer {
    pub rms: RunningMeanStd,
    pub clip: f64,
    pub epsilon: f64,
}

impl ObsNormalizer {
    pub fn new(dim: usize, clip: f64) -> Self {
        ObsNormalizer {
            rms: RunningMeanStd::new(dim),
            clip,
            epsilon: 1e-8,
        }
    }

    /// Normalise a batch of observation rows in place, first updating the statistics
    /// with it unless frozen (`update = false`, e.g. during evaluation).
    pub fn apply(&mut self, obs: &mut [f32], update: bool) {
        if update {
            let rows: Vec<f64> = obs.iter().map(|&x| x as f64).collect();
            self.rms.update(&rows);
        }
        let dim = self.rms.mean.len();
        for row in obs.chunks_mut(dim) {
            for (j, x) in row.iter_mut().enumerate() {
                let z = (*x as f64 - self.rms.mean[j]) / (self.rms.var[j] + self.epsilon).sqrt();
                *x = z.clamp(-self.clip, self.clip) as f32;
            }
        }
    }
}

/// Divide rewards by the running std of the discounted return, clipped to ±clip.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RewardScaler {
    pub rms: RunningMeanStd,
    /// Discounted return accumulated per env.
    pub accumulated: Vec<f64>,
    pub gamma: f64,
    pub clip: f64,
    pub epsilon: f64,
}

impl RewardScaler {
    pub fn new(num_envs: usize, gamma: f64, clip: f64) -> Self {
        RewardScaler {
            rms: RunningMeanStd::new(1),
            accumulated: vec![0.0; num_envs],
            gamma,
            clip,
            epsilon: 1e-8,
        }
    }

    /// Scale one vector step's rewards in place; `done[i]` (terminated or truncated)
    /// restarts env i's accumulated return after the update (same-step autoreset).
    pub fn apply(&mut self, rewards: &mut [f64], terminated: &[bool], done: &[bool]) {
        for i in 0..rewards.len() {
            let keep = if terminated[i] { 0.0 } else { 1.0 };
            self.accumulated[i] = self.accumulated[i] * self.gamma * keep + rewards[i];
        }
        self.rms.update(&self.accumulated);
        let scale = (self.rms.var[0] + self.epsilon).sqrt();
        for i in 0..rewards.len() {
            rewards[i] = (rewards[i] / scale).clamp(-self.clip, self.clip);
            if done[i] {
                self.accumulated[i] = 0.0;
            }
        }
    }
}
