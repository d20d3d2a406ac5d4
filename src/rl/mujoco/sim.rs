//! The MuJoCo side shared by every task: load a model file, hold its `mjData`, set a state and
//! advance `frame_skip` physics steps exactly as Gymnasium's `MujocoEnv` does (`mujoco_env.py`:
//! `set_state` = write qpos/qvel then `mj_forward`; `do_simulation` = write ctrl, `mj_step`
//! × frame_skip, then `mj_rnePostConstraint`, which only tasks that read its outputs ask for).
use anyhow::{anyhow, Result};
use mujoco_rs::prelude::*;
use mujoco_rs::wrappers::mj_data::MjtWarning;
use std::path::Path;
use std::sync::Once;

/// The warnings after which MuJoCo has reset the state itself: the simulation went unstable.
const UNSTABLE: [(MjtWarning, &str); 4] = [
    (MjtWarning::mjWARN_BADQPOS, "NaN, Inf or huge value in qpos"),
    (MjtWarning::mjWARN_BADQVEL, "NaN, Inf or huge value in qvel"),
    (MjtWarning::mjWARN_BADQACC, "NaN, Inf or huge value in qacc"),
    (MjtWarning::mjWARN_BADCTRL, "NaN, Inf or huge value in ctrl"),
];

/// Why a step could not be simulated (the episode ends there, spec §4.2 bad input).
#[derive(Clone, Debug, PartialEq)]
pub struct Unstable(pub String);

/// One model and its simulation state.
pub struct Sim {
    data: MjData<Box<MjModel>>,
    pub frame_skip: usize,
    /// qpos/qvel right after loading (Gymnasium's `init_qpos`, `init_qvel`).
    pub init_qpos: Vec<f64>,
    pub init_qvel: Vec<f64>,
    /// Call `mj_rnePostConstraint` after the physics steps, as Gymnasium's `do_simulation`
    /// always does. Only `cacc`, `cfrc_int` and `cfrc_ext` depend on it and the next step
    /// reads none of them, so a task that observes none of them can skip it and still step
    /// through the same states (true after [`Sim::load`]).
    pub rne_post_constraint: bool,
}

static LOG_HANDLER: Once = Once::new();

/// MuJoCo's default handler prints warnings and appends them to `MUJOCO_LOG.TXT` in the
/// working directory. Warnings are read from `mjData.warning` instead (see [`Sim::simulate`]);
/// errors (which end the process) still reach stderr.
fn quiet_log(msg: &mujoco_rs::wrappers::mj_logging::MjLogMessage) {
    use mujoco_rs::wrappers::mj_logging::MjtLogLevel;
    if msg.level() == MjtLogLevel::mjLOG_ERROR {
        eprintln!("MuJoCo error: {}", msg.subject());
    }
}

impl Sim {
    /// Load `file` from `dir`; an error names the file and carries MuJoCo's message.
    pub fn load(dir: &Path, file: &str, frame_skip: usize) -> Result<Sim> {
        // SAFETY: every MuJoCo use in lab goes through `Sim::load` first, so no other thread
        // uses MuJoCo while the handler is installed (other callers wait on the `Once`).
        LOG_HANDLER.call_once(|| unsafe { mujoco_rs::logging::set_log_handler(quiet_log) });
        let path = dir.join(file);
        if !path.is_file() {
            return Err(anyhow!(
                "MuJoCo model file {} does not exist (run `make mujoco` to copy Gymnasium's \
                 models there, or set env.model_dir)",
                path.display()
            ));
        }
        let model = MjModel::from_xml(&path).map_err(|e| {
            anyhow!(
                "cannot load MuJoCo model {}: {}",
                path.display(),
                load_message(&e)
            )
        })?;
        let data = MjData::try_new(Box::new(model))
            .map_err(|e| anyhow!("MuJoCo model {}: {e}", path.display()))?;
        let init_qpos = data.qpos().to_vec();
        let init_qvel = data.qvel().to_vec();
        Ok(Sim {
            data,
            frame_skip,
            init_qpos,
            init_qvel,
            rne_post_constraint: true,
        })
    }

    pub fn model(&self) -> &MjModel {
        self.data.model()
    }
    pub fn data(&self) -> &MjData<Box<MjModel>> {
        &self.data
    }
    pub fn nq(&self) -> usize {
        self.init_qpos.len()
    }
    pub fn nv(&self) -> usize {
        self.init_qvel.len()
    }
    /// Gymnasium's `dt`: the model file's timestep × frame skip.
    pub fn dt(&self) -> f64 {
        self.model().opt().timestep * self.frame_skip as f64
    }
    pub fn qpos(&self) -> &[f64] {
        self.data.qpos()
    }
    pub fn qvel(&self) -> &[f64] {
        self.data.qvel()
    }

    /// The world position of body `id` (Gymnasium's `get_body_com`, i.e. `xpos`).
    pub fn body_xpos(&self, id: usize) -> [f64; 3] {
        self.data.xpos()[id]
    }
    /// The id of body `name`; an error names the model's missing body.
    pub fn body_id(&self, name: &str) -> Result<usize> {
        use mujoco_rs::wrappers::mj_model::MjtObjBase;
        self.model()
            .name_to_id(MjtObjBase::mjOBJ_BODY, name)
            .ok_or_else(|| anyhow!("MuJoCo model has no body named `{name}`"))
    }

    /// Gymnasium's `reset` then `set_state`: `mj_resetData`, write qpos/qvel, `mj_forward`.
    pub fn reset_to(&mut self, qpos: &[f64], qvel: &[f64]) {
        self.data.reset();
        self.data.qpos_mut().copy_from_slice(qpos);
        self.data.qvel_mut().copy_from_slice(qvel);
        self.data.forward();
    }

    /// [`Sim::simulate`], returning the velocity of the position `x` measures (Gymnasium's
    /// `(x_after - x_before) / dt`, e.g. `qpos[0]` or the mass centre's x).
    pub fn simulate_velocity(
        &mut self,
        ctrl: &[f64],
        x: impl Fn(&Sim) -> f64,
    ) -> std::result::Result<f64, Unstable> {
        let before = x(self);
        self.simulate(ctrl)?;
        Ok((x(self) - before) / self.dt())
    }

    /// One bare `mj_step` with the current controls (the physics ceiling of `make bench`).
    pub fn mj_step(&mut self) {
        self.data.step();
    }

    /// Set the controls without stepping (benchmarks).
    pub fn set_ctrl(&mut self, ctrl: &[f64]) {
        self.data.ctrl_mut().copy_from_slice(ctrl);
    }

    /// The frame skip the task steps with.
    pub fn frame_skip(&self) -> usize {
        self.frame_skip
    }

    /// `do_simulation(ctrl, frame_skip)`. Non-finite controls, or a step after which MuJoCo
    /// reported a NaN/Inf/huge state (and reset it), give [`Unstable`] with MuJoCo's reason.
    pub fn simulate(&mut self, ctrl: &[f64]) -> std::result::Result<(), Unstable> {
        if let Some(bad) = ctrl.iter().find(|c| !c.is_finite()) {
            return Err(Unstable(format!("non-finite action component {bad}")));
        }
        let before = self.warning_counts();
        self.data.ctrl_mut().copy_from_slice(ctrl);
        for _ in 0..self.frame_skip {
            self.data.step();
        }
        if self.rne_post_constraint {
            self.data.rne_post_constraint();
        }
        let after = self.warning_counts();
        for (i, (_, what)) in UNSTABLE.iter().enumerate() {
            if after[i] != before[i] {
                let time = self.data.time();
                return Err(Unstable(format!(
                    "MuJoCo: {what} (simulation unstable at time {time:.4}; MuJoCo reset the state)"
                )));
            }
        }
        Ok(())
    }

    fn warning_counts(&self) -> [i32; 4] {
        let w = self.data.warning();
        UNSTABLE.map(|(kind, _)| w[kind as usize].number)
    }

    /// Everything a checkpoint needs to continue bit for bit: qpos, qvel, the solver's warm
    /// start and the time.
    pub fn full_state(&self) -> Vec<f64> {
        let mut s = self.qpos().to_vec();
        s.extend_from_slice(self.qvel());
        s.extend_from_slice(self.data.qacc_warmstart());
        s.push(self.data.time());
        s
    }

    /// Restore what [`Sim::full_state`] returned (length checked by the caller).
    pub fn set_full_state(&mut self, s: &[f64]) {
        let (nq, nv) = (self.nq(), self.nv());
        self.data.reset();
        self.data.qpos_mut().copy_from_slice(&s[..nq]);
        self.data.qvel_mut().copy_from_slice(&s[nq..nq + nv]);
        self.data
            .qacc_warmstart_mut()
            .copy_from_slice(&s[nq + nv..nq + 2 * nv]);
        self.data.set_time(s[nq + 2 * nv]);
        self.data.forward();
    }

    pub fn full_state_len(&self) -> usize {
        self.nq() + 2 * self.nv() + 1
    }
}

fn load_message(e: &mujoco_rs::error::MjModelError) -> String {
    match e {
        mujoco_rs::error::MjModelError::LoadFailed(msg) => msg.trim().to_string(),
        other => other.to_string(),
    }
}
