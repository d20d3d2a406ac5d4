//! Time-limit truncation (spec §4.2): counts `step` calls since reset; on the step where the
//! count reaches the cap `truncated = true` (together with `terminated` if both happen).
use super::env::{Action, Env, EnvState, Space, Transition};
use anyhow::Result;

pub struct TimeLimit {
    inner: Box<dyn Env>,
    max_episode_steps: usize,
    elapsed: usize,
}

impl TimeLimit {
    pub fn new(inner: Box<dyn Env>, max_episode_steps: usize) -> Self {
        TimeLimit {
            inner,
            max_episode_steps,
            elapsed: 0,
        }
    }
    pub fn max_episode_steps(&self) -> usize {
        self.max_episode_steps
    }
    pub fn elapsed(&self) -> usize {
        self.elapsed
    }
}

impl Env for TimeLimit {
    fn id(&self) -> &'static str {
        self.inner.id()
    }
    fn observation_space(&self) -> Space {
        self.inner.observation_space()
    }
    fn action_space(&self) -> Space {
        self.inner.action_space()
    }
    fn obs_dim(&self) -> usize {
        self.inner.obs_dim()
    }
    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) {
        self.elapsed = 0;
        self.inner.reset(seed, obs);
    }
    fn step(&mut self, action: Action, obs: &mut [f32]) -> Transition {
        let mut t = self.inner.step(action, obs);
        self.elapsed += 1;
        if self.elapsed >= self.max_episode_steps {
            t.truncated = true;
        }
        t
    }
    fn state(&self) -> Vec<f64> {
        self.inner.state()
    }
    fn set_state(&mut self, state: &[f64], obs: &mut [f32]) -> Result<()> {
        self.elapsed = 0;
        self.inner.set_state(state, obs)
    }
    fn save(&self) -> EnvState {
        EnvState {
            elapsed: self.elapsed,
            ..self.inner.save()
        }
    }
    /// A step count at or past the cap is no state a run saves (the step that reaches it
    /// truncates, and the episode restarts at 0): with it the next episode ended at once,
    /// written as truncated by the time limit at whatever length it had.
    fn load(&mut self, saved: &EnvState) -> Result<()> {
        anyhow::ensure!(
            saved.elapsed < self.max_episode_steps,
            "{} steps elapsed in the episode, but {} episodes end at step {} \
             (env.max_episode_steps)",
            saved.elapsed,
            self.inner.id(),
            self.max_episode_steps
        );
        self.elapsed = saved.elapsed;
        self.inner.load(saved)
    }
}
