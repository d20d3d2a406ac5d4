//! Save and restore the whole K-FAC state (grng spec §7, §6.11), so that a resumed run continues
//! bit for bit, also on a step that does not refresh the inverses.
//!
//! Tensor keys (by parameter name, see [`crate::optim::state`]): `kfac.a/<weight>`,
//! `kfac.g/<weight>` (factors), the inverse method's slots (`kfac.a_vecs/<weight>`,
//! `kfac.a_vals/…`, `kfac.g_vecs/…`, `kfac.g_vals/…` for `eigen`; the eigenforms of X_A, X_G
//! `kfac.a_inv_vecs/…`, `kfac.a_inv_vals/…`, `kfac.g_inv_vecs/…`, `kfac.g_inv_vals/…` and
//! `kfac.inv_damping/…` = [δ_A, δ_G, π] for `newton`, where older states with `kfac.a_inv/…`,
//! `kfac.g_inv/…` (X itself) still load), `momentum/<param>`, and
//! the AdamW fallback's keys prefixed `fallback.`. The header's `hyper` holds the config, the
//! layer plan, which layers have inverses, the label RNG, the damping boost and the
//! fallback's own header. Loading keeps this stepper's config except the learning rate.
use super::config::KfacConfig;
use super::factors::LayerPlan;
use super::precondition::Inverses;
use super::step::Kfac;
use crate::optim::state::{
    check_shape, copy_checked, key, StateDict, StateHeader, FALLBACK, FORMAT_VERSION,
};
use crate::optim::stepper::RngState;
use crate::optim::Optimizer;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tch::{Kind, Tensor};

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Saved {
    config: KfacConfig,
    /// None before the first step.
    layers: Option<Vec<LayerPlan>>,
    inverses: Vec<bool>,
    rng: RngState,
    damping_boost: f64,
    fallback: Option<StateHeader>,
}

impl Kfac {
    pub(super) fn save(&self) -> Result<StateDict> {
        let mut tensors = Vec::new();
        let mut inverses = Vec::new();
        for l in self.layers.iter().flatten() {
            tensors.push((key("kfac.a", &l.plan.weight), l.factors.a.copy()));
            tensors.push((key("kfac.g", &l.plan.weight), l.factors.g.copy()));
            for (slot, t) in l.inv.iter().flat_map(Inverses::tensors) {
                tensors.push((key(slot, &l.plan.weight), t));
            }
            inverses.push(l.inv.is_some());
        }
        for (name, b) in &self.momentum {
            tensors.push((key("momentum", name), b.copy()));
        }
        let fallback = match &self.fallback {
            Some(fb) => {
                let (header, nested) = fb.state_dict()?.into_nested(FALLBACK);
                tensors.extend(nested);
                Some(header)
            }
            None => None,
        };
        let saved = Saved {
            config: self.cfg.clone(),
            layers: self.layers.as_ref().map(|_| self.layer_plans()),
            inverses,
            rng: RngState::of(&self.rng),
            damping_boost: self.damping_boost,
            fallback,
        };
        let mut groups = self.groups.clone();
        for g in &mut groups {
            g.lr = self.cfg.lr * g.lr_mult;
        }
        let header = StateHeader {
            format: FORMAT_VERSION,
            optimizer: self.cfg.name().into(),
            step: self.step,
            groups,
            hyper: serde_json::to_value(saved)?,
        };
        Ok(StateDict { header, tensors })
    }

    pub(super) fn load(&mut self, state: &StateDict) -> Result<()> {
        let name = self.cfg.name();
        state.check_header(name)?;
        let saved: Saved = serde_json::from_value(state.header.hyper.clone())
            .with_context(|| format!("optimizer state header: `hyper` is not {name}'s"))?;
        if saved.config.inverse != self.cfg.inverse {
            bail!(
                "optimizer state has `inverse: {:?}`, this run `inverse: {:?}` (set `inverse` \
                 to the saved method to resume)",
                saved.config.inverse,
                self.cfg.inverse
            );
        }
        if saved.config.fallback != self.cfg.fallback {
            bail!(
                "optimizer state has fallback {:?}, this run {:?}",
                saved.config.fallback,
                self.cfg.fallback
            );
        }
        if saved.damping_boost.is_nan() || saved.damping_boost < 1.0 {
            // 1 at the start, ×10 at each step skipped for a non-finite update.
            bail!(
                "optimizer state `hyper.damping_boost` is {}, it is at least 1",
                saved.damping_boost
            );
        }
        let (own, fallback) = state.split_nested(FALLBACK);
        let rng = saved.rng.restore()?;
        let Some(plans) = saved.layers else {
            own.check_keys(&[])?;
            return self.finish(saved.config.lr, state.header.step, rng, saved.damping_boost);
        };
        if saved.inverses.len() != plans.len() {
            bail!(
                "optimizer state lists {} layers but {} inverse flags",
                plans.len(),
                saved.inverses.len()
            );
        }
        if self.layers.is_none() || self.layer_plans() != plans {
            self.set_layers(plans)?;
        }
        let saved_key = |k: String| own.tensors.iter().any(|(n, _)| *n == k);
        own.check_keys(&self.expected_keys(&saved.inverses, &saved_key))?;
        let t: BTreeMap<&str, &Tensor> = own.tensors.iter().map(|(k, t)| (k.as_str(), t)).collect();
        self.check_shapes(&t)?;
        match (&mut self.fallback, saved.fallback) {
            (Some(fb), Some(header)) => {
                fb.load_state_dict(&StateDict {
                    header,
                    tensors: fallback,
                })?;
            }
            (None, None) => {}
            _ => bail!(
                "optimizer state and this model disagree on which parameters use the fallback"
            ),
        }
        self.copy_tensors(&t, &saved.inverses)?;
        self.finish(saved.config.lr, state.header.step, rng, saved.damping_boost)
    }

    fn finish(
        &mut self,
        lr: f64,
        step: u64,
        rng: rand_chacha::ChaCha8Rng,
        boost: f64,
    ) -> Result<()> {
        self.cfg.lr = lr;
        self.step = step;
        self.rng = rng;
        self.damping_boost = boost;
        Ok(())
    }

    /// The keys a state must hold; `saved` tells which inverse slots it has (see
    /// [`Inverses::saved_slots`]).
    fn expected_keys(&self, inverses: &[bool], saved: &dyn Fn(String) -> bool) -> Vec<String> {
        let mut keys = Vec::new();
        for (l, &has_inv) in self.layers.iter().flatten().zip(inverses) {
            let w = &l.plan.weight;
            keys.push(key("kfac.a", w));
            keys.push(key("kfac.g", w));
            if has_inv {
                let slots = Inverses::saved_slots(self.cfg.inverse, |s| saved(key(s, w)));
                keys.extend(slots.iter().map(|s| key(s, w)));
            }
        }
        keys.extend(self.momentum.keys().map(|n| key("momentum", n)));
        keys
    }

    fn check_shapes(&self, t: &BTreeMap<&str, &Tensor>) -> Result<()> {
        for l in self.layers.iter().flatten() {
            for (slot, dst) in [("kfac.a", &l.factors.a), ("kfac.g", &l.factors.g)] {
                let k = key(slot, &l.plan.weight);
                check_shape(dst, t[k.as_str()], &k)?;
            }
            // Inverse slots present: the shapes of the method's slots for this layer.
            let w = &l.plan.weight;
            let slots =
                Inverses::saved_slots(self.cfg.inverse, |s| t.contains_key(key(s, w).as_str()));
            let shapes = Inverses::slot_shapes(slots, l.plan.cols(), l.plan.d_out);
            for (slot, want) in slots.iter().zip(shapes) {
                let k = key(slot, &l.plan.weight);
                match t.get(k.as_str()) {
                    Some(src) if src.size() != want => {
                        bail!(
                            "optimizer state `{k}` has shape {:?}, expected {want:?}",
                            src.size()
                        )
                    }
                    // Every inverse slot is written in f64 (as the factors): another dtype
                    // was cast silently, a Float file losing half the digits it claims.
                    Some(src) if src.kind() != Kind::Double => {
                        bail!(
                            "optimizer state `{k}` is {:?}, the buffer it restores is Double",
                            src.kind()
                        )
                    }
                    _ => {}
                }
            }
        }
        for (n, b) in &self.momentum {
            let k = key("momentum", n);
            check_shape(b, t[k.as_str()], &k)?;
        }
        Ok(())
    }

    fn copy_tensors(&mut self, t: &BTreeMap<&str, &Tensor>, inverses: &[bool]) -> Result<()> {
        let method = self.cfg.inverse;
        for (l, &has_inv) in self.layers.iter_mut().flatten().zip(inverses) {
            let w = l.plan.weight.clone();
            copy_checked(&l.factors.a, t[key("kfac.a", &w).as_str()], &w)?;
            copy_checked(&l.factors.g, t[key("kfac.g", &w).as_str()], &w)?;
            l.inv = if has_inv {
                let slots = Inverses::saved_slots(method, |s| t.contains_key(key(s, &w).as_str()));
                let ts: Vec<&Tensor> = slots.iter().map(|s| t[key(s, &w).as_str()]).collect();
                Some(Inverses::from_tensors(method, slots, &ts, &l.factors.a)?)
            } else {
                None
            };
        }
        for (n, b) in &self.momentum {
            let k = key("momentum", n);
            copy_checked(b, t[k.as_str()], &k)?;
        }
        Ok(())
    }
}
