//! The parameter update after preconditioning (grng spec §2.2 step 6, §3.3): momentum on the
//! KL-clipped direction with coupled weight decay `b ← μb + νU + wd·θ; θ ← θ − η·b`, or with
//! `decoupled_wd` `θ ← θ(1 − η·wd)` first; decay only from step `wd_after_steps` on. The
//! parameters outside K-FAC layers take the fallback (§2.6): `optim::AdamW` at
//! η·`fallback_lr_mult`, or SGD with momentum on their plain gradient.
use super::config::Fallback;
use super::step::Kfac;
use crate::optim::{AdamW, AdamWConfig, Optimizer, ParamGroup};
use anyhow::{Context, Result};
use std::collections::BTreeSet;
use tch::Tensor;

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
        for (l, u) in self.layers.iter().flatten().zip(us) {
            // (d_out, cols), in the weight's kind once for the whole layer.
            let u = (u * nu).to_kind(self.params[l.weight].tensor.kind());
            moves.push((l.weight, u.narrow(1, 0, l.plan.d_in), 1.0));
            if let Some(b) = l.bias {
                moves.push((b, u.select(1, l.plan.d_in), 1.0));
            }
        }
        if self.cfg.fallback == Fallback::SgdMomentum {
            let planned: BTreeSet<usize> = moves.iter().map(|m| m.0).collect();
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
