//! A K-FAC stepper's construction and its layer layout: the parameters and groups it is built
//! over, the layers the first captured forward (or a loaded state) names, and what the layers
//! expose to the state file and the diagnostics.
use super::config::KfacConfig;
use super::factors::{plan_layers, planned_params, Factors, LayerPlan};
use super::precondition::Inverses;
use super::step::{Kfac, Layer, Param};
use crate::optim::capture::Captured;
use crate::optim::state::GroupState;
use crate::optim::ParamGroup;
use anyhow::{bail, Context, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use tch::Tensor;

impl Kfac {
    /// A stepper over `groups` (parameters of groups flagged `kfac` are candidates for
    /// preconditioning; see [`super::kfac_groups`]).
    pub fn new(groups: Vec<ParamGroup>, cfg: KfacConfig) -> Result<Kfac> {
        cfg.validate()?;
        let mut params = Vec::new();
        let mut states = Vec::new();
        for g in groups {
            states.push(GroupState {
                name: g.name.clone(),
                lr: cfg.lr * g.lr_mult,
                lr_mult: g.lr_mult,
                weight_decay: g.weight_decay,
                flags: g.flags,
                params: g.params.iter().map(|(n, _)| n.clone()).collect(),
            });
            for (name, tensor) in g.params {
                if params.iter().any(|p: &Param| p.name == name) {
                    bail!("parameter `{name}` is listed twice");
                }
                params.push(Param {
                    name,
                    tensor,
                    lr_mult: g.lr_mult,
                    weight_decay: g.weight_decay,
                    kfac: g.flags.kfac,
                });
            }
        }
        if params.is_empty() {
            bail!("{}: no parameters to optimize", cfg.name());
        }
        Ok(Kfac {
            rng: ChaCha8Rng::seed_from_u64(cfg.seed),
            cfg,
            params,
            groups: states,
            layers: None,
            fallback: None,
            momentum: BTreeMap::new(),
            step: 0,
            damping_boost: 1.0,
            flat_update: None,
        })
    }

    pub fn config(&self) -> &KfacConfig {
        &self.cfg
    }

    /// The preconditioned layers (empty before the first step).
    pub fn layer_plans(&self) -> Vec<LayerPlan> {
        self.layers
            .iter()
            .flatten()
            .map(|l| l.plan.clone())
            .collect()
    }

    /// Each layer's running factors (layer name, A, G), copies.
    pub fn layer_factors(&self) -> Vec<(String, Tensor, Tensor)> {
        let layers = self.layers.iter().flatten();
        layers
            .map(|l| (l.plan.layer.clone(), l.factors.a.copy(), l.factors.g.copy()))
            .collect()
    }

    /// Each layer's current factor inverses (None before its first refresh), in plan order.
    pub fn layer_inverses(&self) -> Vec<Option<&Inverses>> {
        self.layers
            .iter()
            .flatten()
            .map(|l| l.inv.as_ref())
            .collect()
    }

    pub(super) fn index(&self, name: &str) -> Result<usize> {
        self.params
            .iter()
            .position(|p| p.name == name)
            .with_context(|| format!("{}: no parameter `{name}`", self.cfg.name()))
    }

    /// Layers from the first captured forward; builds the fallback for the other parameters.
    pub(super) fn init_layers(&mut self, captured: &[Captured]) -> Result<()> {
        let kfac: BTreeMap<String, Vec<i64>> = self
            .params
            .iter()
            .filter(|p| p.kfac)
            .map(|p| (p.name.clone(), p.tensor.size()))
            .collect();
        self.set_layers(plan_layers(captured, &kfac))
    }

    /// Install `plans` with identity factors, zero momentum and a fresh fallback.
    pub(super) fn set_layers(&mut self, plans: Vec<LayerPlan>) -> Result<()> {
        let mut layers = Vec::new();
        for plan in plans {
            let weight = self.index(&plan.weight)?;
            let bias = plan.bias.as_deref().map(|b| self.index(b)).transpose()?;
            let w = &self.params[weight].tensor;
            if w.size() != [plan.d_out, plan.d_in] {
                bail!(
                    "K-FAC layer `{}`: weight shape {:?} is not ({}, {})",
                    plan.layer,
                    w.size(),
                    plan.d_out,
                    plan.d_in
                );
            }
            let factors = Factors::identity(&plan, w.device());
            layers.push(Layer {
                plan,
                factors,
                inv: None,
                weight,
                bias,
            });
        }
        let planned = planned_params(&layers.iter().map(|l| l.plan.clone()).collect::<Vec<_>>());
        let indices = super::update::planned_indices(self, &planned);
        self.flat_update = super::update::FlatUpdate::new(&self.params, &indices)?;
        self.momentum.clear();
        for (i, p) in self.params.iter().enumerate() {
            if planned.contains(&p.name) || self.cfg.fallback == super::Fallback::SgdMomentum {
                let flat = self.flat_update.as_ref().and_then(|f| f.momentum_of(i));
                let zero = flat.unwrap_or_else(|| tch::no_grad(|| p.tensor.zeros_like()));
                self.momentum.insert(p.name.clone(), zero);
            }
        }
        self.fallback = super::update::build_fallback(self, &planned)?;
        self.layers = Some(layers);
        Ok(())
    }
}
