//! SGD with momentum, dampening, Nesterov and coupled (L2) weight decay: the update of PyTorch's
//! `torch.optim.SGD` (grng spec §3.1), per group on flat buffers (see [`super::flat`]):
//!
//! ```text
//! d ← g + wd·p                               coupled decay (group's weight_decay)
//! b ← d                                      first step (no buffer yet)
//! b ← μ·b + (1 − dampening)·d                later steps
//! d ← d + μ·b  (Nesterov)   or   d ← b        (μ = 0: no buffer, d stays)
//! p ← p − lr·d
//! ```
//!
//! State key: `momentum_buffer/<param>` (only with μ ≠ 0 and after the first step, as in
//! PyTorch); the header's `hyper` holds momentum, dampening and nesterov. A state without any
//! buffer (saved before the first step) loads as "no buffer yet": the next step sets b = d.
//! Loading restores each group's lr and decay, as AdamW does. The helpers [`group_states`] and
//! [`restore_groups`] are shared with [`super::sophia`].
use super::config::{check_decays_and_groups, group_rule, GroupOverride};
use super::flat::Flat;
use super::groups::{default_no_decay_patterns, param_groups, GroupRule, ParamGroup};
use super::state::{
    check_shape, copy_checked, key, GroupState, StateDict, StateHeader, FORMAT_VERSION,
};
use super::{Optimizer, StepInfo};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tch::nn::VarStore;
use tch::Tensor;

/// Optimizer name in state headers.
pub const NAME: &str = "sgd";
/// Tensor slot of the momentum buffers.
pub const SLOT: &str = "momentum_buffer";

/// SGD's config (serde, `deny_unknown_fields`); group keys as in [`super::AdamWConfig`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SgdConfig {
    /// Base learning rate η.
    pub lr: f64,
    /// Momentum μ ∈ [0, 1).
    pub momentum: f64,
    /// Dampening ∈ [0, 1]: the new gradient enters the buffer with weight 1 − dampening.
    pub dampening: f64,
    pub nesterov: bool,
    /// Coupled (L2) weight decay of the `decay` group.
    pub weight_decay: f64,
    /// Name substrings that mark embeddings (no weight decay).
    pub no_decay_patterns: Vec<String>,
    pub groups: Vec<GroupOverride>,
}

impl Default for SgdConfig {
    fn default() -> Self {
        SgdConfig {
            lr: 0.05,
            momentum: 0.9,
            dampening: 0.0,
            nesterov: false,
            weight_decay: 5e-4,
            no_decay_patterns: default_no_decay_patterns(),
            groups: Vec::new(),
        }
    }
}

impl SgdConfig {
    pub fn validate(&self) -> Result<()> {
        if !(self.lr.is_finite() && self.lr >= 0.0) {
            bail!("sgd: `lr` must be ≥ 0, got {}", self.lr);
        }
        if !(0.0..1.0).contains(&self.momentum) {
            bail!("sgd: `momentum` must lie in [0, 1), got {}", self.momentum);
        }
        if !(0.0..=1.0).contains(&self.dampening) {
            bail!(
                "sgd: `dampening` must lie in [0, 1], got {}",
                self.dampening
            );
        }
        if self.nesterov && (self.momentum == 0.0 || self.dampening != 0.0) {
            bail!("sgd: `nesterov: true` needs `momentum` > 0 and `dampening` 0 (as in PyTorch)");
        }
        check_decays_and_groups("sgd", self.weight_decay, &self.groups)
    }

    /// The grouping rule this config implies.
    pub fn rule(&self) -> GroupRule {
        group_rule(self.weight_decay, &self.no_decay_patterns, &self.groups)
    }
}

/// The part of the config saved in the header's `hyper`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Hyper {
    momentum: f64,
    dampening: f64,
    nesterov: bool,
}

#[derive(Debug)]
struct Buffers {
    flat: Flat,
    momentum_buffer: Tensor,
    /// The step direction d, and a product.
    scratch: [Tensor; 2],
}

impl Buffers {
    /// One step of the module doc's update with learning rate `lr` and decay `wd`.
    fn update(&mut self, h: &Hyper, lr: f64, wd: f64, first: bool) {
        let (p, g) = (&mut self.flat.params, &self.flat.grads);
        let buf = &mut self.momentum_buffer;
        let [d, s] = &mut self.scratch;
        if wd != 0.0 {
            let _ = p.mul_scalar_out(d, wd);
            let _ = d.g_add_(g);
        } else {
            d.copy_(g);
        }
        let mu = h.momentum;
        if mu != 0.0 {
            if first {
                buf.copy_(d);
            } else {
                let _ = buf.g_mul_scalar_(mu);
                if h.dampening == 0.0 {
                    let _ = buf.g_add_(d);
                } else {
                    let _ = d.mul_scalar_out(s, 1.0 - h.dampening);
                    let _ = buf.g_add_(s);
                }
            }
            if h.nesterov {
                let _ = buf.mul_scalar_out(s, mu);
                let _ = d.g_add_(s);
            } else {
                d.copy_(buf);
            }
        }
        let _ = d.mul_scalar_out(s, -lr);
        let _ = p.g_add_(s);
    }
}

#[derive(Debug)]
pub struct Sgd {
    hyper: Hyper,
    groups: Vec<ParamGroup>,
    lrs: Vec<f64>,
    bufs: Vec<Buffers>,
    /// The momentum buffers hold values (false before the first step).
    has_buffer: bool,
    step: u64,
}

impl Sgd {
    /// SGD over the trainable variables of `vs`, grouped by `cfg.rule()`.
    pub fn new(vs: &VarStore, cfg: &SgdConfig) -> Result<Sgd> {
        cfg.validate()?;
        Sgd::from_groups(param_groups(vs, &cfg.rule())?, cfg)
    }

    /// SGD over explicit groups (their `params` are re-pointed into flat buffers).
    pub fn from_groups(groups: Vec<ParamGroup>, cfg: &SgdConfig) -> Result<Sgd> {
        cfg.validate()?;
        let mut bufs = Vec::with_capacity(groups.len());
        for g in &groups {
            let flat =
                Flat::new(&g.params).with_context(|| format!("optimizer group `{}`", g.name))?;
            let z = || flat.params.zeros_like();
            bufs.push(Buffers {
                momentum_buffer: z(),
                scratch: [z(), z()],
                flat,
            });
        }
        Ok(Sgd {
            hyper: Hyper {
                momentum: cfg.momentum,
                dampening: cfg.dampening,
                nesterov: cfg.nesterov,
            },
            lrs: groups.iter().map(|g| cfg.lr * g.lr_mult).collect(),
            groups,
            bufs,
            has_buffer: false,
            step: 0,
        })
    }

    fn slot_keys(&self) -> Vec<String> {
        let names = self.groups.iter().flat_map(|g| g.params.iter());
        names.map(|(n, _)| key(SLOT, n)).collect()
    }
}

/// The header's group list (effective lr, multiplier, decay, flags, parameter names).
pub fn group_states(groups: &[ParamGroup], lrs: &[f64]) -> Vec<GroupState> {
    let states = groups.iter().zip(lrs).map(|(g, &lr)| GroupState {
        name: g.name.clone(),
        lr,
        lr_mult: g.lr_mult,
        weight_decay: g.weight_decay,
        flags: g.flags,
        params: g.params.iter().map(|(n, _)| n.clone()).collect(),
    });
    states.collect()
}

/// The saved groups must be ours by name (any order).
pub fn check_group_names(groups: &[ParamGroup], saved: &[GroupState]) -> Result<()> {
    let mut ours: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
    let mut theirs: Vec<&str> = saved.iter().map(|g| g.name.as_str()).collect();
    ours.sort_unstable();
    theirs.sort_unstable();
    if ours != theirs {
        bail!("optimizer state has groups {theirs:?}, this model's parameters form {ours:?}");
    }
    Ok(())
}

/// Restore each group's lr, multiplier, decay and flags (names checked by [`check_group_names`]).
pub fn restore_groups(groups: &mut [ParamGroup], lrs: &mut [f64], saved: &[GroupState]) {
    for gs in saved {
        if let Some(i) = groups.iter().position(|g| g.name == gs.name) {
            lrs[i] = gs.lr;
            groups[i].lr_mult = gs.lr_mult;
            groups[i].weight_decay = gs.weight_decay;
            groups[i].flags = gs.flags;
        }
    }
}

impl Optimizer for Sgd {
    fn name(&self) -> &'static str {
        NAME
    }

    fn step(&mut self) -> Result<StepInfo> {
        for b in &mut self.bufs {
            b.flat.sync()?;
        }
        let first = !self.has_buffer;
        tch::no_grad(|| {
            for (i, b) in self.bufs.iter_mut().enumerate() {
                b.update(&self.hyper, self.lrs[i], self.groups[i].weight_decay, first);
            }
        });
        self.has_buffer = self.hyper.momentum != 0.0;
        self.step += 1;
        Ok(StepInfo { grad_norm: None })
    }

    fn zero_grad(&mut self) {
        for b in &mut self.bufs {
            b.flat.zero_grad();
        }
    }

    fn steps_done(&self) -> u64 {
        self.step
    }

    fn groups(&self) -> &[ParamGroup] {
        &self.groups
    }

    fn lr(&self, group: usize) -> f64 {
        self.lrs[group]
    }

    fn set_lr(&mut self, base: f64) {
        super::groups::set_base_lr(&mut self.lrs, &self.groups, base)
    }

    fn set_group_lr(&mut self, group: usize, lr: f64) -> Result<()> {
        super::groups::set_group_lr(&mut self.lrs, group, lr)
    }

    fn state_dict(&self) -> Result<StateDict> {
        let mut tensors = Vec::new();
        if self.has_buffer {
            for (g, b) in self.groups.iter().zip(&self.bufs) {
                for (i, (name, _)) in g.params.iter().enumerate() {
                    let t = b.flat.view(&b.momentum_buffer, i).copy();
                    tensors.push((key(SLOT, name), t));
                }
            }
        }
        let header = StateHeader {
            format: FORMAT_VERSION,
            optimizer: NAME.into(),
            step: self.step,
            groups: group_states(&self.groups, &self.lrs),
            hyper: serde_json::to_value(self.hyper)?,
        };
        Ok(StateDict { header, tensors })
    }

    /// Checks everything before changing anything: a refused state leaves `self` as it was.
    fn load_state_dict(&mut self, state: &StateDict) -> Result<()> {
        state.check_header(NAME)?;
        let h = &state.header;
        check_group_names(&self.groups, &h.groups)?;
        let hyper: Hyper = match &h.hyper {
            serde_json::Value::Null => self.hyper,
            v => serde_json::from_value(v.clone())
                .context("optimizer state header: `hyper` is not SGD's")?,
        };
        // No tensors at all = no buffer yet (saved before the first step); else all of them.
        let has_buffer = !state.tensors.is_empty();
        let expected = if has_buffer && hyper.momentum != 0.0 {
            self.slot_keys()
        } else {
            Vec::new()
        };
        state.check_keys(&expected)?;
        let saved: BTreeMap<&str, &Tensor> =
            state.tensors.iter().map(|(k, t)| (k.as_str(), t)).collect();
        let mut copies = Vec::new();
        for (g, b) in self.groups.iter().zip(&self.bufs) {
            for (i, (name, _)) in g.params.iter().enumerate() {
                let k = key(SLOT, name);
                if let Some(src) = saved.get(k.as_str()) {
                    let dst = b.flat.view(&b.momentum_buffer, i);
                    check_shape(&dst, src, &k)?;
                    copies.push((dst, *src, k));
                }
            }
        }
        for (dst, src, k) in copies {
            copy_checked(&dst, src, &k)?;
        }
        restore_groups(&mut self.groups, &mut self.lrs, &h.groups);
        self.hyper = hyper;
        self.has_buffer = has_buffer;
        self.step = h.step;
        Ok(())
    }
}
