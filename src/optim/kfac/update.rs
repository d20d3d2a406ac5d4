//! The parameter update after preconditioning (grng spec §2.2 step 6, §3.3): momentum on the
//! KL-clipped direction with coupled weight decay `b ← μb + νU + wd·θ; θ ← θ − η·b`, or with
//! `decoupled_wd` `θ ← θ(1 − η·wd)` first; decay only from step `wd_after_steps` on. The
//! parameters outside K-FAC layers take the fallback (§2.6): `optim::AdamW` at
//! η·`fallback_lr_mult`, or SGD with momentum on their plain gradient.
use super::config::Fallback;
use super::step::{Kfac, Param};
use crate::optim::flat::Flat;
use crate::optim::{AdamW, AdamWConfig, Optimizer, ParamGroup};
use anyhow::{Context, Result};
use std::collections::{BTreeMap, BTreeSet};
use tch::Tensor;

/// The K-FAC layers' parameters on one flat buffer ([`crate::optim::flat`]; gradients stay
/// separate), when they share dtype, device, lr multiplier and weight decay (one `kfac` group,
/// the usual case): the momentum update is then a handful of whole-buffer ops instead of eight
/// per parameter, with the same arithmetic per element as [`Kfac::momentum_step`].
#[derive(Debug)]
pub(super) struct FlatUpdate {
    flat: Flat,
    /// Momentum `(numel,)`; the stepper's per-name momentum tensors are views of it.
    momentum: Tensor,
    /// This step's direction νU `(numel,)` in the parameters' dtype (scratch).
    dir: Tensor,
    /// Parameter index → slot of `flat`.
    slots: BTreeMap<usize, usize>,
    lr_mult: f64,
    weight_decay: f64,
}

impl FlatUpdate {
    /// Over the parameters `planned` (indices into `params`); None when they differ in dtype,
    /// device, lr multiplier or weight decay (or there are none).
    pub(super) fn new(params: &[Param], planned: &[usize]) -> Result<Option<FlatUpdate>> {
        let Some(&first) = planned.first() else {
            return Ok(None);
        };
        let p0 = &params[first];
        let same = |p: &Param| {
            p.tensor.kind() == p0.tensor.kind()
                && p.tensor.device() == p0.tensor.device()
                && p.lr_mult == p0.lr_mult
                && p.weight_decay == p0.weight_decay
        };
        if !planned.iter().all(|&i| same(&params[i])) {
            return Ok(None);
        }
        let named: Vec<(String, Tensor)> = (planned.iter())
            .map(|&i| (params[i].name.clone(), params[i].tensor.shallow_clone()))
            .collect();
        let flat = Flat::new(&named)?;
        let momentum = flat.params.zeros_like();
        let dir = flat.params.zeros_like();
        Ok(Some(FlatUpdate {
            slots: planned.iter().enumerate().map(|(s, &i)| (i, s)).collect(),
            lr_mult: p0.lr_mult,
            weight_decay: p0.weight_decay,
            flat,
            momentum,
            dir,
        }))
    }

    /// Parameter `i`'s momentum, a view of the flat buffer.
    pub(super) fn momentum_of(&self, i: usize) -> Option<Tensor> {
        self.slots
            .get(&i)
            .map(|&s| self.flat.view(&self.momentum, s))
    }

    /// Parameter `i`'s slot of the direction buffer.
    fn dir_of(&self, i: usize) -> Result<Tensor> {
        let s = self
            .slots
            .get(&i)
            .context("parameter is not in the flat update")?;
        Ok(self.flat.view(&self.dir, *s))
    }
}

/// Parameters of the planned layers (weights and biases), by index, in parameter order.
pub(super) fn planned_indices(k: &Kfac, planned: &BTreeSet<String>) -> Vec<usize> {
    (k.params.iter().enumerate())
        .filter(|(_, p)| planned.contains(&p.name))
        .map(|(i, _)| i)
        .collect()
}

/// The AdamW over every parameter not in `planned` (None without such parameters or with
/// the `sgd_momentum` fallback). Groups keep their lr multiplier and weight decay.
pub(super) fn build_fallback(k: &Kfac, planned: &BTreeSet<String>) -> Result<Option<AdamW>> {
    if k.cfg.fallback != Fallback::Adamw {
        return Ok(None);
    }
    let mut groups = Vec::new();
    for g in &k.groups {
        let params: Vec<(String, Tensor)> = g
            .params
            .iter()
            .filter(|n| !planned.contains(*n))
            .map(|n| Ok((n.clone(), k.params[k.index(n)?].tensor.shallow_clone())))
            .collect::<Result<_>>()?;
        if !params.is_empty() {
            groups.push(ParamGroup {
                name: g.name.clone(),
                params,
                lr_mult: g.lr_mult,
                weight_decay: g.weight_decay,
                flags: g.flags,
            });
        }
    }
    if groups.is_empty() {
        return Ok(None);
    }
    let cfg = AdamWConfig {
        lr: k.cfg.lr * k.cfg.fallback_lr_mult,
        ..AdamWConfig::default()
    };
    Ok(Some(AdamW::from_groups(groups, &cfg)?))
}

impl Kfac {
    /// Update every parameter: K-FAC layers from their U (scaled by ν), the rest by the fallback.
    pub(super) fn apply(&mut self, us: &[Tensor], nu: f64) -> Result<()> {
        let wd_on = self.step >= self.cfg.wd_start();
        let mut moves = Vec::new(); // (param index, direction, lr multiplier)
        let per_param = if self.flat_update.is_some() {
            self.flat_step(us, nu, wd_on)?;
            &[]
        } else {
            us
        };
        for (l, u) in self.layers.iter().flatten().zip(per_param) {
            // νU (d_out, cols), in the weight's kind once for the whole layer (then scaled, as
            // the flat update does).
            let u = u.to_kind(self.params[l.weight].tensor.kind()) * nu;
            moves.push((l.weight, u.narrow(1, 0, l.plan.d_in), 1.0));
            if let Some(b) = l.bias {
                moves.push((b, u.select(1, l.plan.d_in), 1.0));
            }
        }
        if self.cfg.fallback == Fallback::SgdMomentum {
            let planned: BTreeSet<usize> = (self.layers.iter().flatten())
                .flat_map(|l| std::iter::once(l.weight).chain(l.bias))
                .collect();
            for (i, p) in self.params.iter().enumerate() {
                let g = p.tensor.grad();
                if !planned.contains(&i) && g.defined() {
                    moves.push((i, g.copy(), self.cfg.fallback_lr_mult));
                }
            }
        }
        for (i, dir, mult) in moves {
            self.momentum_step(i, &dir, mult, wd_on)?;
        }
        if let Some(fb) = &mut self.fallback {
            fb.set_lr(self.cfg.lr * self.cfg.fallback_lr_mult);
            fb.step()?;
        }
        Ok(())
    }

    /// [`Kfac::momentum_step`] of every K-FAC layer parameter at once on the flat buffers:
    /// U is written into the direction buffer (in the parameters' dtype) and scaled by ν
    /// there, then the update runs on whole buffers.
    fn flat_step(&mut self, us: &[Tensor], nu: f64, wd_on: bool) -> Result<()> {
        let _guard = tch::no_grad_guard();
        let fu = self.flat_update.as_mut().context("flat update is set")?;
        fu.flat.sync_params()?;
        for (l, u) in self.layers.iter().flatten().zip(us) {
            fu.dir_of(l.weight)?.copy_(&u.narrow(1, 0, l.plan.d_in)); // U (d_out, cols)
            if let Some(b) = l.bias {
                fu.dir_of(b)?.copy_(&u.select(1, l.plan.d_in));
            }
        }
        let _ = fu.dir.g_mul_scalar_(nu); // νU, once on the whole buffer
        let lr = self.cfg.lr * fu.lr_mult;
        let wd = if wd_on { fu.weight_decay } else { 0.0 };
        let mut theta = fu.flat.params.shallow_clone();
        let mut d = fu.dir.shallow_clone();
        if wd > 0.0 && self.cfg.decoupled_wd {
            let _ = theta.g_mul_scalar_(1.0 - lr * wd);
        } else if wd > 0.0 {
            d += &theta * wd;
        }
        let b = &mut fu.momentum;
        let _ = b.g_mul_scalar_(self.cfg.momentum);
        let _ = b.g_add_(&d);
        let _ = theta.g_add_(&(&*b * (-lr)));
        Ok(())
    }

    /// `b ← μb + dir (+ wd·θ)`, `θ ← θ − η·lr_mult·mult·b` for parameter `i`.
    fn momentum_step(&mut self, i: usize, dir: &Tensor, mult: f64, wd_on: bool) -> Result<()> {
        let _guard = tch::no_grad_guard();
        let p = &self.params[i];
        let lr = self.cfg.lr * p.lr_mult * mult;
        let wd = if wd_on { p.weight_decay } else { 0.0 };
        let mut theta = p.tensor.shallow_clone();
        let mut d = dir.to_kind(theta.kind()).reshape(theta.size().as_slice());
        if wd > 0.0 && self.cfg.decoupled_wd {
            let _ = theta.g_mul_scalar_(1.0 - lr * wd);
        } else if wd > 0.0 {
            d += &theta * wd;
        }
        let b = self
            .momentum
            .get_mut(&p.name)
            .with_context(|| format!("no momentum buffer for `{}`", p.name))?;
        let _ = b.g_mul_scalar_(self.cfg.momentum);
        let _ = b.g_add_(&d);
        let _ = theta.g_add_(&(&*b * (-lr)));
        Ok(())
    }
}
