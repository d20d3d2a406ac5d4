//! Sophia-G (Liu et al.; the official implementation Liuhong99/Sophia), grng spec §3.4, as a
//! [`Stepper`]. Per group, on flat buffers (see [`super::flat`]):
//!
//! ```text
//! p ← p·(1 − lr·wd)                                   decoupled decay (group's weight_decay)
//! m ← β1·m + (1 − β1)·g
//! p ← p − lr · sign(m) · clamp(|m| / (ρ·bs·h + 1e-15), 0, 1)
//! ```
//!
//! so every coordinate moves at most `lr` beyond the decay, and where h = 0 the step is
//! −lr·sign(m). Every `k` steps, after the update, the Gauss–Newton–Bartlett estimate: a second
//! forward on the same batch (at the updated weights), labels ŷ drawn from the model with the
//! optimizer's own ChaCha8 RNG ([`sample_labels`]), ĝ = ∇ mean CE(logits, ŷ), and
//! h ← β2·h + (1 − β2)·ĝ⊙ĝ (never negative). `bs` is the batch size the estimate is scaled by (null: the step's rows):
//! examples for a classifier, **tokens** (batch × sequence length) for a language model, the
//! number of rows of the [`Objective`]'s logits.
//!
//! State keys `exp_avg/<param>` (m) and `hessian/<param>` (h); the header's `hyper` holds betas,
//! rho, k, bs and the RNG position, so a resumed run draws the same labels.
use super::config::{check_decays_and_groups, group_rule, GroupOverride};
use super::flat::Flat;
use super::groups::{default_no_decay_patterns, param_groups, GroupRule, ParamGroup};
use super::sgd::{check_group_names, group_states, restore_groups};
use super::state::{
    check_nonnegative, check_shape, copy_checked, key, StateDict, StateHeader, FORMAT_VERSION,
};
use super::stepper::{grad_norm, mean_ce, sample_labels, RngState};
use super::{Objective, StepReport, Stepper};
use anyhow::{bail, Context, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Instant;
use tch::nn::VarStore;
use tch::Tensor;

/// Optimizer name in state headers.
pub const NAME: &str = "sophia";

/// Sophia-G's config (serde, `deny_unknown_fields`); group keys as in [`super::AdamWConfig`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SophiaConfig {
    pub lr: f64,
    /// β1 (gradient EMA), β2 (Hessian-estimate EMA).
    pub betas: [f64; 2],
    /// ρ_s: the clipping scale.
    pub rho: f64,
    /// Decoupled weight decay of the `decay` group.
    pub weight_decay: f64,
    /// Refresh the Hessian estimate every `k` steps.
    pub k: u64,
    /// Batch size B in the step's denominator: examples, or tokens for a language model.
    /// `None` (default): the rows of each step's logits, which is exactly that.
    pub bs: Option<f64>,
    /// Seed of the label-sampling RNG.
    pub seed: u64,
    pub no_decay_patterns: Vec<String>,
    pub groups: Vec<GroupOverride>,
}

impl Default for SophiaConfig {
    fn default() -> Self {
        SophiaConfig {
            lr: 1e-4,
            betas: [0.965, 0.99],
            rho: 0.04,
            weight_decay: 0.1,
            k: 10,
            bs: None,
            seed: 0,
            no_decay_patterns: default_no_decay_patterns(),
            groups: Vec::new(),
        }
    }
}

impl SophiaConfig {
    pub fn validate(&self) -> Result<()> {
        let [b1, b2] = self.betas;
        if !(self.lr.is_finite() && self.lr >= 0.0) {
            bail!("sophia: `lr` must be ≥ 0, got {}", self.lr);
        }
        if !((0.0..1.0).contains(&b1) && (0.0..1.0).contains(&b2)) {
            bail!("sophia: `betas` must lie in [0, 1), got [{b1}, {b2}]");
        }
        if !(self.rho.is_finite() && self.rho > 0.0) {
            bail!("sophia: `rho` must be > 0, got {}", self.rho);
        }
        if self.k == 0 {
            bail!("sophia: `k` (steps between Hessian estimates) must be ≥ 1");
        }
        if let Some(bs) = self.bs.filter(|b| !(b.is_finite() && *b > 0.0)) {
            bail!("sophia: `bs` (batch size in examples or tokens) must be > 0 or null, got {bs}");
        }
        check_decays_and_groups("sophia", self.weight_decay, &self.groups)
    }

    pub fn rule(&self) -> GroupRule {
        group_rule(self.weight_decay, &self.no_decay_patterns, &self.groups)
    }
}

/// The part of the state saved in the header's `hyper`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Hyper {
    betas: [f64; 2],
    rho: f64,
    k: u64,
    bs: Option<f64>,
    rng: RngState,
}

#[derive(Debug)]
struct Buffers {
    flat: Flat,
    exp_avg: Tensor,
    hessian: Tensor,
    scratch: [Tensor; 2],
}

impl Buffers {
    /// The module doc's step: decay, m update, clipped sign step.
    fn update(&mut self, lr: f64, wd: f64, beta1: f64, scale: f64) {
        let (p, g) = (&mut self.flat.params, &self.flat.grads);
        let (m, h) = (&mut self.exp_avg, &self.hessian);
        let [ratio, sign] = &mut self.scratch;
        if wd != 0.0 {
            let _ = p.g_mul_scalar_(1.0 - lr * wd);
        }
        let _ = m.g_mul_scalar_(beta1);
        let _ = g.mul_scalar_out(sign, 1.0 - beta1);
        let _ = m.g_add_(sign);
        // ratio = clamp(|m| / (ρ·bs·h + 1e-15), 0, 1)
        let _ = h.mul_scalar_out(sign, scale);
        let _ = sign.g_add_scalar_(1e-15);
        let _ = m.abs_out(ratio);
        let _ = ratio.g_div_(sign);
        let _ = ratio.clamp_(0.0, 1.0);
        let _ = m.sign_out(sign);
        let _ = sign.g_mul_scalar_(-lr);
        let _ = p.addcmul_(sign, ratio);
    }

    /// h ← β2·h + (1 − β2)·ĝ⊙ĝ, ĝ in the gradient buffer.
    fn update_hessian(&mut self, beta2: f64) {
        let g = &self.flat.grads;
        let [sq, _] = &mut self.scratch;
        let _ = g.mul_out(sq, g);
        let _ = sq.g_mul_scalar_(1.0 - beta2);
        let _ = self.hessian.g_mul_scalar_(beta2);
        let _ = self.hessian.g_add_(sq);
    }
}

#[derive(Debug)]
pub struct Sophia {
    betas: [f64; 2],
    rho: f64,
    k: u64,
    bs: Option<f64>,
    rng: ChaCha8Rng,
    groups: Vec<ParamGroup>,
    lrs: Vec<f64>,
    bufs: Vec<Buffers>,
    /// Every trainable parameter (for the gradient norm).
    params: Vec<Tensor>,
    step: u64,
}

impl Sophia {
    /// Sophia over the trainable variables of `vs`, grouped by `cfg.rule()`.
    pub fn new(vs: &VarStore, cfg: &SophiaConfig) -> Result<Sophia> {
        cfg.validate()?;
        Sophia::from_groups(param_groups(vs, &cfg.rule())?, cfg)
    }

    /// Sophia over explicit groups (their `params` are re-pointed into flat buffers).
    pub fn from_groups(groups: Vec<ParamGroup>, cfg: &SophiaConfig) -> Result<Sophia> {
        cfg.validate()?;
        let mut bufs = Vec::with_capacity(groups.len());
        for g in &groups {
            let flat =
                Flat::new(&g.params).with_context(|| format!("optimizer group `{}`", g.name))?;
            let z = || flat.params.zeros_like();
            bufs.push(Buffers {
                exp_avg: z(),
                hessian: z(),
                scratch: [z(), z()],
                flat,
            });
        }
        let params = groups
            .iter()
            .flat_map(|g| g.params.iter().map(|(_, t)| t.shallow_clone()))
            .collect();
        Ok(Sophia {
            betas: cfg.betas,
            rho: cfg.rho,
            k: cfg.k,
            bs: cfg.bs,
            rng: ChaCha8Rng::seed_from_u64(cfg.seed),
            lrs: groups.iter().map(|g| cfg.lr * g.lr_mult).collect(),
            groups,
            bufs,
            params,
            step: 0,
        })
    }

    pub fn groups(&self) -> &[ParamGroup] {
        &self.groups
    }

    /// Effective learning rate of group `group`.
    pub fn lr(&self, group: usize) -> f64 {
        self.lrs[group]
    }

    fn zero_grad(&mut self) {
        for b in &mut self.bufs {
            b.flat.zero_grad();
        }
    }

    /// Backward of `loss` into the flat gradient buffers (zeroed first).
    fn backward(&mut self, loss: &Tensor) -> Result<()> {
        self.zero_grad();
        loss.backward();
        for b in &mut self.bufs {
            b.flat.sync()?;
        }
        Ok(())
    }

    /// The Gauss–Newton–Bartlett refresh of h on `obj`'s batch (module doc).
    fn refresh_hessian(&mut self, obj: &mut dyn Objective) -> Result<()> {
        let (logits, _) = obj.forward(false)?;
        let sampled = sample_labels(&logits, &mut self.rng)?;
        self.backward(&mean_ce(&logits, &sampled))?;
        let beta2 = self.betas[1];
        tch::no_grad(|| self.bufs.iter_mut().for_each(|b| b.update_hessian(beta2)));
        self.zero_grad();
        Ok(())
    }

    fn hyper(&self) -> Hyper {
        Hyper {
            betas: self.betas,
            rho: self.rho,
            k: self.k,
            bs: self.bs,
            rng: RngState::of(&self.rng),
        }
    }

    fn slot_keys(&self) -> Vec<String> {
        let names = self.groups.iter().flat_map(|g| g.params.iter());
        names
            .flat_map(|(n, _)| [key("exp_avg", n), key("hessian", n)])
            .collect()
    }
}

impl Stepper for Sophia {
    fn name(&self) -> &'static str {
        NAME
    }

    fn step(&mut self, obj: &mut dyn Objective) -> Result<StepReport> {
        let t0 = Instant::now();
        let (logits, _) = obj.forward(false)?;
        let loss = mean_ce(&logits, obj.targets());
        self.backward(&loss)?;
        let mut report = StepReport {
            loss: loss.double_value(&[]),
            grad_norm: grad_norm(&self.params),
            time_fwd_bwd_ms: t0.elapsed().as_secs_f64() * 1e3,
            ..StepReport::default()
        };
        let rows = obj.targets().size().first().copied().unwrap_or(1) as f64;
        let scale = self.rho * self.bs.unwrap_or(rows);
        let beta1 = self.betas[0];
        tch::no_grad(|| {
            for (i, b) in self.bufs.iter_mut().enumerate() {
                b.update(self.lrs[i], self.groups[i].weight_decay, beta1, scale);
            }
        });
        self.zero_grad();
        self.step += 1;
        if self.step.is_multiple_of(self.k) {
            let t1 = Instant::now();
            self.refresh_hessian(obj)?;
            report.time_curv_ms = t1.elapsed().as_secs_f64() * 1e3;
        }
        Ok(report)
    }

    fn steps_done(&self) -> u64 {
        self.step
    }

    fn set_lr(&mut self, base: f64) {
        super::groups::set_base_lr(&mut self.lrs, &self.groups, base)
    }

    fn state_dict(&self) -> Result<StateDict> {
        let mut tensors = Vec::new();
        for (g, b) in self.groups.iter().zip(&self.bufs) {
            for (i, (name, _)) in g.params.iter().enumerate() {
                tensors.push((key("exp_avg", name), b.flat.view(&b.exp_avg, i).copy()));
                tensors.push((key("hessian", name), b.flat.view(&b.hessian, i).copy()));
            }
        }
        let header = StateHeader {
            format: FORMAT_VERSION,
            optimizer: NAME.into(),
            step: self.step,
            groups: group_states(&self.groups, &self.lrs),
            hyper: serde_json::to_value(self.hyper())?,
        };
        Ok(StateDict { header, tensors })
    }

    /// Checks everything before changing anything: a refused state leaves `self` as it was.
    fn load_state_dict(&mut self, state: &StateDict) -> Result<()> {
        state.check_header(NAME)?;
        state.check_keys(&self.slot_keys())?;
        let h = &state.header;
        check_group_names(&self.groups, &h.groups)?;
        let hyper: Hyper = serde_json::from_value(h.hyper.clone())
            .context("optimizer state header: `hyper` is not Sophia's")?;
        if hyper.k == 0 || !(hyper.bs.unwrap_or(1.0) > 0.0 && hyper.rho > 0.0) {
            bail!("optimizer state header: Sophia's `k`, `bs` and `rho` must be positive");
        }
        let rng = hyper.rng.restore()?;
        let saved: BTreeMap<&str, &Tensor> =
            state.tensors.iter().map(|(k, t)| (k.as_str(), t)).collect();
        let mut copies = Vec::new();
        for (g, b) in self.groups.iter().zip(&self.bufs) {
            for (i, (name, _)) in g.params.iter().enumerate() {
                for (slot, buf) in [("exp_avg", &b.exp_avg), ("hessian", &b.hessian)] {
                    let k = key(slot, name);
                    let (dst, src) = (b.flat.view(buf, i), saved[k.as_str()]);
                    check_shape(&dst, src, &k)?;
                    if slot == "hessian" {
                        check_nonnegative(src, &k)?;
                    }
                    copies.push((dst, src, k));
                }
            }
        }
        for (dst, src, k) in copies {
            copy_checked(&dst, src, &k)?;
        }
        restore_groups(&mut self.groups, &mut self.lrs, &h.groups);
        (self.betas, self.rho, self.k, self.bs) = (hyper.betas, hyper.rho, hyper.k, hyper.bs);
        self.rng = rng;
        self.step = h.step;
        Ok(())
    }
}
