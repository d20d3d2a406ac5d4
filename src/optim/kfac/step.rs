//! The K-FAC family's step, stage by stage as the pseudo-code of grng spec §2.9:
//! statistics → gradient → curvature (factor EMA, inverse refresh) → precondition with damping
//! → KL clip → update ([`super::update`]). A stage that meets a non-finite number makes the
//! step a no-op (nothing committed, damping ×10 from then on, `nonfinite_skipped`).
use super::config::{GrMode, GrNorm, KfacConfig, PrecondDtype};
use super::factors::{layer_grad, Factors, LayerPlan};
use super::newton::NewtonStats;
use super::precondition::Inverses;
use crate::optim::state::GroupState;
use crate::optim::stepper::{mean_ce, Objective, StepReport};
use crate::optim::AdamW;
use anyhow::{Context, Result};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::time::Instant;
use tch::{Kind, Tensor};

/// One trainable parameter with its group's settings.
#[derive(Debug)]
pub(super) struct Param {
    pub name: String,
    pub tensor: Tensor,
    pub lr_mult: f64,
    pub weight_decay: f64,
    /// In a group flagged `kfac` (a candidate; only planned layers are preconditioned).
    pub kfac: bool,
}

/// A preconditioned layer: plan, running factors, last inverses, indices into `params`.
#[derive(Debug)]
pub(super) struct Layer {
    pub plan: LayerPlan,
    pub factors: Factors,
    pub inv: Option<Inverses>,
    pub weight: usize,
    pub bias: Option<usize>,
}

/// K-FAC, RENG or RING (by `cfg.gr`) as a [`crate::optim::Stepper`].
#[derive(Debug)]
pub struct Kfac {
    pub(super) cfg: KfacConfig,
    pub(super) params: Vec<Param>,
    pub(super) groups: Vec<GroupState>,
    /// None until the first captured forward (or a loaded state) names the layers.
    pub(super) layers: Option<Vec<Layer>>,
    /// The AdamW of parameters outside K-FAC layers (`fallback: adamw`, when there are any).
    pub(super) fallback: Option<AdamW>,
    /// Momentum of K-FAC parameters (and of the fallback's with `sgd_momentum`), by name.
    pub(super) momentum: BTreeMap<String, Tensor>,
    pub(super) rng: ChaCha8Rng,
    pub(super) step: u64,
    /// Damping multiplier: ×10 after every non-finite skip (§7).
    pub(super) damping_boost: f64,
    /// The layers' parameters on flat buffers for the update (see [`super::update`]).
    pub(super) flat_update: Option<super::update::FlatUpdate>,
}

/// What the gradient stage measured (the direction itself is in `.grad()`).
pub(super) struct Grad {
    /// ‖∇L‖² of the unregularized loss.
    pub sq_norm: f64,
    /// ‖∇L_G‖ (RENG).
    pub reg_norm: Option<f64>,
}

/// New factors / inverses of this step, committed only if the whole step is finite.
struct Pending {
    factors: Vec<Option<Factors>>,
    /// Refreshed inverses, or (newton) the ones moved to this step's damping.
    inverses: Vec<Option<Inverses>>,
    newton: NewtonStats,
}

impl Kfac {
    /// Stage 3: factor EMA on statistics steps, inverse refresh every `t_inv` steps (or when a
    /// layer has none) — for `newton` at this step's damping, hence `grad`. None when something
    /// is not finite.
    fn curvature(&self, batch: Option<Vec<Factors>>, grad: &Grad) -> Result<Option<Pending>> {
        let layers = self.layers.as_ref().context("layers are set")?;
        let refresh_step = self.step.is_multiple_of(self.cfg.t_inv);
        let opts = self.cfg.newton_options();
        let mut pending = Pending {
            factors: Vec::new(),
            inverses: Vec::new(),
            newton: NewtonStats::default(),
        };
        let mut batch = batch.map(Vec::into_iter);
        for l in layers {
            let _guard = tch::no_grad_guard();
            let new = batch
                .as_mut()
                .and_then(Iterator::next)
                .map(|b| l.factors.ema(&b, self.cfg.stat_decay));
            if new.as_ref().is_some_and(|f| !f.is_finite()) {
                return Ok(None);
            }
            let inv = if refresh_step || l.inv.is_none() {
                let f = new.as_ref().unwrap_or(&l.factors);
                let delta = self.damping(grad, &self.layer_v(l));
                let prev = l.inv.as_ref();
                let stats = &mut pending.newton;
                match Inverses::refresh(self.cfg.inverse, &f.a, &f.g, delta, prev, &opts, stats) {
                    Ok(inv) if inv.is_finite() => Some(inv),
                    _ => return Ok(None),
                }
            } else {
                None
            };
            pending.factors.push(new);
            pending.inverses.push(inv);
        }
        Ok(Some(pending))
    }

    /// The layer's gradient `(d_out, cols)` (bias as the last column) in the kind the
    /// preconditioning runs in (`precondition_dtype`).
    fn layer_v(&self, l: &Layer) -> Tensor {
        let weight = &self.params[l.weight].tensor;
        let kind = match self.cfg.precondition_dtype {
            PrecondDtype::Model => weight.kind(),
            PrecondDtype::F64 => Kind::Double,
        };
        let bias = l.bias.map(|b| &self.params[b].tensor);
        layer_grad(&l.plan, weight, bias, kind)
    }

    /// Stage 4–6: per layer U = G⁻¹ v A⁻¹ with this step's damping (newton inverses moved to
    /// it first, §1.5, kept in `pending`), then the KL-clip scale.
    /// Returns (U per layer, ν, largest damping used); None when not finite.
    fn precondition(
        &self,
        pending: &mut Pending,
        grad: &Grad,
    ) -> Result<Option<(Vec<Tensor>, f64, f64)>> {
        let layers = self.layers.as_ref().context("layers are set")?;
        let _guard = tch::no_grad_guard();
        let opts = self.cfg.newton_options();
        let (mut us, mut damping_max) = (Vec::new(), 0.0_f64);
        // Σ⟨U, v⟩ over layers, summed in this order as f64 tensors (one read-back per step).
        let mut vu_sum: Option<Tensor> = None;
        for (i, l) in layers.iter().enumerate() {
            let v = self.layer_v(l); // (d_out, cols)
            let delta = self.damping(grad, &v);
            damping_max = damping_max.max(delta);
            let inv = pending.inverses[i]
                .as_ref()
                .or(l.inv.as_ref())
                .context("inverses exist")?;
            let f = pending.factors[i].as_ref().unwrap_or(&l.factors);
            let moved = inv.at_damping(delta, &f.a, &f.g, &opts, &mut pending.newton)?;
            if let Some(m) = moved {
                if !m.is_finite() {
                    return Ok(None);
                }
                pending.inverses[i] = Some(m);
            }
            let inv = pending.inverses[i]
                .as_ref()
                .or(l.inv.as_ref())
                .context("inverses exist")?;
            let moving = self.cfg.gr == GrMode::Implicit;
            let u = inv.precondition_with(&v, delta, self.cfg.damping_scheme, moving);
            let uv = (&u * &v).sum(Kind::Double);
            vu_sum = Some(match vu_sum {
                Some(s) => s + uv,
                None => uv,
            });
            us.push(u);
        }
        if layers.is_empty() {
            damping_max = self.damping(grad, &Tensor::zeros([1], (Kind::Double, tch::Device::Cpu)));
        }
        let vu = vu_sum.map_or(0.0, |s| s.double_value(&[]));
        let nu = self.kl_scale(vu);
        // A non-finite entry of any U makes its ⟨U, v⟩ (±∞·x, ∞·0 = NaN) and so Σ⟨U, v⟩
        // non-finite: the sum's test covers every U.
        let finite = nu.is_finite() && vu.is_finite();
        Ok(finite.then_some((us, nu, damping_max)))
    }

    /// δ of this step: λ, or RING's λ0 + ρ‖g‖² (global or this layer's), times the boost.
    fn damping(&self, grad: &Grad, layer_grad: &Tensor) -> f64 {
        let base = match (self.cfg.gr, self.cfg.gr_norm) {
            (GrMode::Implicit, GrNorm::Global) => self.cfg.damping + self.cfg.rho * grad.sq_norm,
            (GrMode::Implicit, GrNorm::PerLayer) => {
                let sq = layer_grad.square().sum(Kind::Double).double_value(&[]);
                self.cfg.damping + self.cfg.rho * sq
            }
            _ => self.cfg.damping,
        };
        base * self.damping_boost
    }

    /// ν of [`kl_clip_scale`] at this config's clip and learning rate.
    fn kl_scale(&self, vu: f64) -> f64 {
        kl_clip_scale(self.cfg.kl_clip, self.cfg.lr, vu)
    }

    /// Commit this step's factors and inverses.
    fn commit(&mut self, pending: Pending) {
        let layers = self.layers.iter_mut().flatten();
        for ((l, f), inv) in layers.zip(pending.factors).zip(pending.inverses) {
            if let Some(f) = f {
                l.factors = f;
            }
            if inv.is_some() {
                l.inv = inv;
            }
        }
    }

    /// The whole step (spec §2.9).
    pub(super) fn run_step(&mut self, obj: &mut dyn Objective) -> Result<StepReport> {
        let t0 = Instant::now();
        let stat_step = self.step.is_multiple_of(self.cfg.t_stat);
        let (logits, captured) = obj.forward(stat_step || self.layers.is_none())?;
        let loss = mean_ce(&logits, obj.targets());
        if self.layers.is_none() {
            self.init_layers(&captured)?;
        }
        let batch = if stat_step {
            Some(self.batch_statistics(&logits, &captured, obj.targets())?)
        } else {
            None
        };
        drop(captured);
        let grad = self.gradient(&loss)?;
        let mut report = self.base_report(&loss, &grad);
        report.time_fwd_bwd_ms = ms(t0);
        let t1 = Instant::now();
        let mut pending = self.curvature(batch, &grad)?;
        report.time_curv_ms = ms(t1);
        let t2 = Instant::now();
        let pre = match &mut pending {
            Some(p) => self.precondition(p, &grad)?,
            None => None,
        };
        if let Some(p) = &pending {
            report.newton_iters = p.newton.refreshed.then_some(p.newton.iters);
            report.newton_resid_max = p.newton.refreshed.then_some(p.newton.resid_max);
            report.lazy_guard_fallbacks = p.newton.guard_fallbacks;
        }
        match (pending, pre) {
            (Some(p), Some((us, nu, delta))) => {
                self.commit(p);
                self.apply(&us, nu)?;
                report.damping_eff = Some(delta);
                report.kl_clip_scale = self.cfg.kl_clip.map(|_| nu);
            }
            _ => {
                report.nonfinite_skipped = true;
                self.damping_boost *= 10.0;
            }
        }
        self.zero_grads();
        report.time_precond_ms = ms(t2);
        self.step += 1;
        Ok(report)
    }

    fn base_report(&self, loss: &Tensor, grad: &Grad) -> StepReport {
        let penalty = (self.cfg.gr != GrMode::None).then_some(0.5 * self.cfg.rho * grad.sq_norm);
        StepReport {
            loss: loss.double_value(&[]),
            grad_norm: grad.sq_norm.sqrt(),
            grad_norm_reg: grad.reg_norm,
            gr_penalty: penalty,
            ..StepReport::default()
        }
    }
}

/// The KL-clip scale ν = min(1, sqrt(κ / (η² Σ⟨U, v⟩))) (grng §2.2.5; ACKTR, npg §3.7), so
/// that (νη)²·Σ⟨U, v⟩ ≤ κ with equality when it clips; 1 when the sum is ≤ 0 or `kl_clip` is
/// None (off). Where `η² Σ⟨U, v⟩` overflows (a huge learning rate) ν is `sqrt(κ / Σ⟨U, v⟩) / η`,
/// so that νη stays the clipped step: the overflow made ν 0 and the run never moved.
pub fn kl_clip_scale(kl_clip: Option<f64>, lr: f64, vu: f64) -> f64 {
    match kl_clip {
        Some(kappa) if vu > 0.0 => {
            let scaled = lr * lr * vu;
            let nu = match scaled.is_finite() {
                true => (kappa / scaled).sqrt(),
                false => (kappa / vu).sqrt() / lr,
            };
            nu.min(1.0)
        }
        _ => 1.0,
    }
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}
