//! State save/load of both R-Kalman forms in the optimizer-state format of
//! [`crate::optim::state`]: the covariance tensors (`cov/dense` `(d, d)`, or per layer
//! `cov_a/<weight>` and `cov_g/<weight>`), the parameter order in the single group `all`, and
//! in `hyper` the label-sampling RNG and the config (the Kronecker form adds its layers and its
//! fallback's header, see [`super::kron_state`]). θ itself is the model.
use super::config::RKalmanConfig;
use super::kron::LayerNames;
use super::step::{RKalman, NAME};
use crate::optim::state::{copy_checked, GroupState, StateDict, StateHeader, FORMAT_VERSION};
use crate::optim::stepper::RngState;
use anyhow::{bail, Context, Result};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::Tensor;

/// Tensor key of the dense covariance.
pub const COV_KEY: &str = "cov/dense";

#[derive(Debug, Serialize, Deserialize)]
struct Hyper {
    rng: RngState,
    config: RKalmanConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kron: Option<KronHyper>,
}

/// What the Kronecker form saves besides its covariances.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct KronHyper {
    /// The preconditioned layers (None before the first step).
    pub layers: Option<Vec<LayerNames>>,
    /// The fallback optimizer's own header (its tensors are saved as `fallback.<key>`).
    pub fallback: Option<StateHeader>,
}

/// What a checked state restores.
pub(super) struct Restored {
    pub rng: ChaCha8Rng,
    pub step: u64,
    pub lr: f64,
    pub config: RKalmanConfig,
    pub kron: Option<KronHyper>,
}

/// What both forms save besides their covariance tensors.
pub(super) struct Common<'a> {
    pub cfg: &'a RKalmanConfig,
    pub rng: &'a ChaCha8Rng,
    pub step: u64,
    pub names: &'a [String],
    pub kron: Option<KronHyper>,
}

pub(super) fn save_with(c: Common, tensors: Vec<(String, Tensor)>) -> Result<StateDict> {
    let group = GroupState {
        name: "all".into(),
        lr: c.cfg.lr,
        lr_mult: 1.0,
        weight_decay: 0.0,
        flags: Default::default(),
        params: c.names.to_vec(),
    };
    let hyper = Hyper {
        rng: RngState::of(c.rng),
        config: c.cfg.clone(),
        kron: c.kron,
    };
    Ok(StateDict {
        header: StateHeader {
            format: FORMAT_VERSION,
            optimizer: NAME.into(),
            step: c.step,
            groups: vec![group],
            hyper: serde_json::to_value(hyper)?,
        },
        tensors,
    })
}

/// Checks the header and the parameter names; returns what to restore (η is restored, the
/// other hyperparameters stay those of the current config). Tensor keys are the caller's.
pub(super) fn check(state: &StateDict, names: &[String]) -> Result<Restored> {
    state.check_header(NAME)?;
    let h = &state.header;
    let [group] = h.groups.as_slice() else {
        bail!(
            "rkalman state: expected one parameter group, found {}",
            h.groups.len()
        );
    };
    if group.params != names {
        bail!(
            "rkalman state is for parameters {:?}, this model has {names:?}",
            group.params
        );
    }
    let hyper: Hyper = serde_json::from_value(h.hyper.clone())
        .context("rkalman state: `hyper` is not R-Kalman's")?;
    Ok(Restored {
        rng: hyper.rng.restore()?,
        step: h.step,
        lr: group.lr,
        config: hyper.config,
        kron: hyper.kron,
    })
}

/// Copy the saved tensors into `dst` (key, destination) after checking every shape.
pub(super) fn copy_all(state: &StateDict, dst: &[(String, &Tensor)]) -> Result<()> {
    for (key, t) in dst {
        let src = state.tensor(key).context("checked by check_keys")?;
        crate::optim::state::check_shape(t, src, key)?;
    }
    for (key, t) in dst {
        copy_checked(t, state.tensor(key).context("checked by check_keys")?, key)?;
    }
    Ok(())
}

pub(super) fn save(k: &RKalman) -> Result<StateDict> {
    let common = Common {
        cfg: &k.cfg,
        rng: &k.rng,
        step: k.step,
        names: &k.layout.names,
        kron: None,
    };
    save_with(common, vec![(COV_KEY.into(), k.p.copy())])
}

/// Refuses a mismatching state before changing anything.
pub(super) fn load(k: &mut RKalman, state: &StateDict) -> Result<()> {
    let r = check(state, &k.layout.names)?;
    state.check_keys(&[COV_KEY.to_string()])?;
    copy_all(state, &[(COV_KEY.to_string(), &k.p)])?;
    k.rng = r.rng;
    k.step = r.step;
    k.cfg.lr = r.lr;
    Ok(())
}
