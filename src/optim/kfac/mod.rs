//! K-FAC (Martens & Grosse; the alecwangcq/KFAC-Pytorch reference) as a reusable
//! [`Stepper`], and the two gradient-regularized variants of grng that reuse it: RENG
//! (`gr: explicit`, spec §2.2) and RING (`gr: implicit`, §2.3). Paper-agnostic: any model
//! whose forward records its linear layers ([`crate::optim::Captured`]) can use it.
//!
//! Reading order:
//! 1. [`config`]: [`KfacConfig`] and its per-variant defaults (§2.8).
//! 2. [`factors`]: which captured layers are preconditioned ([`LayerPlan`]) and their Kronecker
//!    factors A, G from one batch (bias column, conv-as-unfold scaling, §1.2).
//! 3. [`precondition`]: factor inverses behind [`Inverses`] (eigen or newton), damping split
//!    (§1.3), U = G⁻¹ ∇W A⁻¹; [`newton`]: Newton–Schulz inverses tied to a damping, their
//!    refresh and the lazy matrix-differential update between refreshes (§1.4, §1.5, §2.3).
//! 4. [`gradient`]: statistics and the gradient (RENG's double backprop), stages 1–2 of §2.9.
//! 5. [`step`]: the [`Kfac`] struct and the step (§2.9): curvature, preconditioning with this
//!    step's damping, KL clip; non-finite skips.
//! 6. [`update`]: momentum and weight decay, the fallback for other parameters (§2.6).
//! 7. [`state`]: save / load by parameter name.
pub mod config;
pub mod factors;
pub mod gradient;
mod layout;
pub mod newton;
pub mod precondition;
pub mod state;
pub mod step;
pub mod update;

pub use config::{
    DampingScheme, Fallback, FisherKind, GrMode, GrNorm, InverseMethod, KfacConfig, PrecondDtype,
};
pub use factors::LayerPlan;
pub use newton::{NewtonInv, NewtonStats};
pub use precondition::{Eigh, Inverses};
pub use step::{kl_clip_scale, Kfac};

use super::groups::{groups_from, GroupFlags, GroupRule, ParamGroup};
use super::stepper::{Objective, StepReport, Stepper};
use super::StateDict;
use crate::optim::capture::Captured;
use anyhow::Result;
use tch::Tensor;

/// Groups for [`Kfac::new`]: a group `kfac` (flag `kfac`, decay `weight_decay`) with the
/// weight (≥ 2-D) and bias of every layer in `layers` that owns its weight (not a tied head),
/// and the default `decay` / `no_decay` groups (decay `weight_decay`) for everything else.
pub fn kfac_groups(
    vars: Vec<(String, Tensor)>,
    layers: &[Captured],
    weight_decay: f64,
) -> Result<Vec<ParamGroup>> {
    let is_kfac = |name: &str, t: &Tensor| {
        layers.iter().any(|c| {
            let own = c.weight == format!("{}.weight", c.layer);
            own && ((c.weight == name && t.dim() >= 2) || c.bias.as_deref() == Some(name))
        })
    };
    let (kfac, rest): (Vec<_>, Vec<_>) = vars.into_iter().partition(|(n, t)| is_kfac(n, t));
    let mut groups = Vec::new();
    if !kfac.is_empty() {
        groups.push(ParamGroup {
            name: "kfac".into(),
            params: kfac,
            lr_mult: 1.0,
            weight_decay,
            flags: GroupFlags { kfac: true },
        });
    }
    groups.extend(groups_from(rest, &GroupRule::new(weight_decay))?);
    Ok(groups)
}

impl Stepper for Kfac {
    fn name(&self) -> &'static str {
        self.config().name()
    }

    fn step(&mut self, obj: &mut dyn Objective) -> Result<StepReport> {
        self.run_step(obj)
    }

    fn steps_done(&self) -> u64 {
        self.step
    }

    fn set_lr(&mut self, lr: f64) {
        self.cfg.lr = lr;
    }

    fn state_dict(&self) -> Result<StateDict> {
        self.save()
    }

    fn load_state_dict(&mut self, state: &StateDict) -> Result<()> {
        self.load(state)
    }
}
