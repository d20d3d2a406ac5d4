//! [`MujocoEnv`]: the [`Env`] every MuJoCo task shares (Gymnasium's `MujocoEnv` plus the
//! task's `reset_model`/`step`, given by a [`Task`]).
use super::sim::{Sim, Unstable};
use super::ResetNoise;
use crate::rl::env::{check_state_len, Action, Env, EnvState, Precision, Space};
use crate::rl::np_random::NpRng;
use crate::rl::Transition;
use anyhow::Result;
use std::path::Path;

/// One v5 task: its model, observation, reset distribution and reward (spec §4.7).
pub trait Task: Send + Sized + 'static {
    const ID: &'static str;
    const MODEL_FILE: &'static str;
    const FRAME_SKIP: usize;
    /// Whether the observation or reward reads `cacc`, `cfrc_int` or `cfrc_ext` (the outputs of
    /// `mj_rnePostConstraint`, which is skipped otherwise: [`Sim::rne_post_constraint`]).
    const READS_CONSTRAINT_FORCES: bool = false;
    /// The fewest position and velocity coordinates (nq, nv) the task's observation, reward
    /// and reset index into; a model file with fewer (`env.model_dir`) is refused on loading.
    const MIN_NQ_NV: (usize, usize) = (0, 0);
    /// Look up what the task needs from the loaded model (body ids).
    fn new(sim: &Sim) -> Result<Self>;
    fn obs_dim(&self, sim: &Sim) -> usize;
    /// Write `_get_obs()` into `obs` (length [`Task::obs_dim`]).
    fn observe(&self, sim: &Sim, obs: &mut [f64]);
    /// Gymnasium's `reset_noise_scale`.
    const RESET_NOISE: f64;
    /// `reset_model()`'s initial (qpos, qvel), drawing from `rng` in Gymnasium's order: by
    /// default both uniform within ±[`Task::RESET_NOISE`] of the model's, qpos first.
    fn initial_state(&self, sim: &Sim, rng: &mut dyn ResetNoise) -> (Vec<f64>, Vec<f64>) {
        let qpos = super::add_uniform(&sim.init_qpos, Self::RESET_NOISE, rng);
        let qvel = super::add_uniform(&sim.init_qvel, Self::RESET_NOISE, rng);
        (qpos, qvel)
    }
    /// `step(action)` minus the observation: simulate and return (reward, terminated).
    fn step(
        &mut self,
        sim: &mut Sim,
        action: &[f64],
        precision: Precision,
    ) -> std::result::Result<(f64, bool), Unstable>;
}

/// A MuJoCo task as an [`Env`]; the last observation is kept in f64 (Gymnasium's dtype).
pub struct MujocoEnv<T: Task> {
    task: T,
    sim: Sim,
    /// Gymnasium's `np_random`: `reset(Some(seed))` = `default_rng(seed)`; never seeded: OS entropy.
    rng: NpRng,
    precision: Precision,
    obs: Vec<f64>,
    /// The action as the task sees it (float32-rounded with Gymnasium precision).
    action: Vec<f64>,
    /// Unstable steps so far; the first one is reported (stderr and the run's log).
    unstable_steps: usize,
}

impl<T: Task> MujocoEnv<T> {
    pub fn new(model_dir: &Path, precision: Precision) -> Result<Self> {
        let mut sim = Sim::load(model_dir, T::MODEL_FILE, T::FRAME_SKIP)?;
        check_fits::<T>(&sim, model_dir)?;
        sim.rne_post_constraint = T::READS_CONSTRAINT_FORCES;
        let task = T::new(&sim)?;
        super::mark_used();
        let obs = vec![0.0; task.obs_dim(&sim)];
        let mut env = MujocoEnv {
            task,
            sim,
            rng: NpRng::from_os_entropy(),
            precision,
            obs,
            action: Vec::new(),
            unstable_steps: 0,
        };
        env.refresh_obs();
        Ok(env)
    }

    /// The last observation in f64 (what Gymnasium returns; `obs` gets it as f32).
    pub fn observation(&self) -> &[f64] {
        &self.obs
    }
    pub fn sim(&self) -> &Sim {
        &self.sim
    }
    /// Steps that ended an episode because the simulation went unstable.
    pub fn unstable_steps(&self) -> usize {
        self.unstable_steps
    }

    fn refresh_obs(&mut self) {
        self.task.observe(&self.sim, &mut self.obs);
    }

    /// A finite reward and observation pass; anything else is an unstable step.
    fn finite(
        &self,
        (reward, terminated): (f64, bool),
    ) -> std::result::Result<(f64, bool), Unstable> {
        match (reward.is_finite(), self.obs.iter().find(|o| !o.is_finite())) {
            (true, None) => Ok((reward, terminated)),
            (false, _) => Err(Unstable(format!("non-finite reward {reward}"))),
            (true, Some(o)) => Err(Unstable(format!("non-finite observation component {o}"))),
        }
    }

    fn emit(&self, obs: &mut [f32]) {
        for (o, v) in obs.iter_mut().zip(&self.obs) {
            *o = *v as f32;
        }
    }

    /// An unstable step ends the episode (terminated, reward 0) instead of handing NaN or a
    /// state MuJoCo silently reset to the learner; the first one per env is reported on stderr
    /// and in the run's log ([`crate::rl::run_log`]).
    fn unstable(&mut self, why: Unstable) -> Transition {
        self.unstable_steps += 1;
        if self.unstable_steps == 1 {
            crate::rl::run_log::warn(&format!(
                "{}: {}; the episode ends here (terminated, reward 0). Further unstable steps \
                 of this env are not reported.",
                T::ID,
                why.0
            ));
        }
        Transition {
            reward: 0.0,
            terminated: true,
            truncated: false,
        }
    }
}

/// A model file that the task cannot run on (no actuator to act with, fewer coordinates than
/// its observation, reward and reset read) is an error naming the file and the counts; it
/// panicked on an index or an empty action (exit 101) once the run had started.
fn check_fits<T: Task>(sim: &Sim, model_dir: &Path) -> Result<()> {
    let (nq, nv) = (sim.nq(), sim.nv());
    let nu = sim.model().actuator_ctrlrange().len();
    let (min_nq, min_nv) = T::MIN_NQ_NV;
    if nu == 0 || nq < min_nq || nv < min_nv {
        anyhow::bail!(
            "MuJoCo model {} has nq = {nq}, nv = {nv} and {nu} actuators; {} needs nq >= \
             {min_nq}, nv >= {min_nv} and at least one actuator",
            model_dir.join(T::MODEL_FILE).display(),
            T::ID
        );
    }
    Ok(())
}

impl<T: Task> Env for MujocoEnv<T> {
    fn id(&self) -> &'static str {
        T::ID
    }
    fn observation_space(&self) -> Space {
        let n = self.obs.len();
        Space::Box {
            low: vec![f64::NEG_INFINITY; n],
            high: vec![f64::INFINITY; n],
        }
    }
    /// The actuators' control ranges as float32 (Gymnasium's `_set_action_space`).
    fn action_space(&self) -> Space {
        let range = self.sim.model().actuator_ctrlrange();
        Space::Box {
            low: range.iter().map(|r| r[0] as f32 as f64).collect(),
            high: range.iter().map(|r| r[1] as f32 as f64).collect(),
        }
    }
    fn obs_dim(&self) -> usize {
        self.obs.len()
    }
    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) {
        if let Some(s) = seed {
            self.rng = NpRng::from_seed(s);
        }
        let (qpos, qvel) = self.task.initial_state(&self.sim, &mut self.rng);
        self.sim.reset_to(&qpos, &qvel);
        self.refresh_obs();
        self.emit(obs);
    }
    fn step(&mut self, action: Action, obs: &mut [f32]) -> Transition {
        let values = action.values();
        let nu = self.sim.model().actuator_ctrlrange().len();
        assert_eq!(values.len(), nu, "{}: action length", T::ID);
        self.action.clear();
        self.action
            .extend(values.iter().map(|&a| match self.precision {
                Precision::Gymnasium => a as f32 as f64,
                Precision::F64 => a,
            }));
        let stepped = self.task.step(&mut self.sim, &self.action, self.precision);
        self.refresh_obs();
        let t = match stepped.and_then(|r| self.finite(r)) {
            Ok((reward, terminated)) => Transition {
                reward,
                terminated,
                truncated: false,
            },
            Err(why) => {
                // The state may hold NaN that MuJoCo did not flag: restart from the model's
                // initial state so that the observation handed on is finite.
                if self.obs.iter().any(|o| !o.is_finite()) {
                    let (qpos, qvel) = (self.sim.init_qpos.clone(), self.sim.init_qvel.clone());
                    self.sim.reset_to(&qpos, &qvel);
                    self.refresh_obs();
                }
                self.unstable(why)
            }
        };
        self.emit(obs);
        t
    }
    /// `state_vector()`: qpos then qvel.
    fn state(&self) -> Vec<f64> {
        let mut s = self.sim.qpos().to_vec();
        s.extend_from_slice(self.sim.qvel());
        s
    }
    /// Start an episode from (qpos, qvel) as Gymnasium's `reset` + `set_state` does.
    fn set_state(&mut self, state: &[f64], obs: &mut [f32]) -> Result<()> {
        let nq = self.sim.nq();
        check_state_len(T::ID, state, nq + self.sim.nv())?;
        self.sim.reset_to(&state[..nq], &state[nq..]);
        self.refresh_obs();
        self.emit(obs);
        Ok(())
    }
    fn save(&self) -> EnvState {
        EnvState {
            state: self.sim.full_state(),
            state_is_f32: false,
            rng: self.rng.save(),
            elapsed: 0,
        }
    }
    fn load(&mut self, saved: &EnvState) -> Result<()> {
        check_state_len(T::ID, &saved.state, self.sim.full_state_len())?;
        self.rng = saved.rng.restore()?;
        self.sim.set_full_state(&saved.state);
        self.refresh_obs();
        Ok(())
    }
}
