//! [`RKalman`], the dense R-Kalman [`Stepper`] (grng spec §2.4, pseudo-code §2.9): per step
//! predict, implicit GR, Woodbury measurement update with sampled scores (or the softmax
//! Jacobian), then the mean step θ ← θ − η·ν·m·P·v with v = g (or g_G in explicit mode).
use super::config::{CovForm, ObsMode, RKalmanConfig};
use super::dense::{self, GrStep};
use super::grads::loss_gradients;
use super::scores::{self, Layout};
use crate::nn::Captured;
use crate::optim::stepper::{mean_ce, sample_labels, Objective, StepReport, Stepper};
use anyhow::{bail, Context, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::time::Instant;
use tch::nn::VarStore;
use tch::{Kind, Tensor};

/// Name in state headers and reports.
pub const NAME: &str = "rkalman";
/// The dense form keeps a d×d covariance; larger models are refused.
pub const MAX_DENSE_PARAMS: i64 = 5000;
/// ε of the softmax output covariance `diag(p) − ppᵀ + εI` in the `jacobian` mode.
pub const JACOBIAN_EPS: f64 = 1e-6;

pub struct RKalman {
    pub(super) cfg: RKalmanConfig,
    pub(super) layout: Layout,
    /// The covariance P `(d, d)` f64.
    pub(super) p: Tensor,
    pub(super) rng: ChaCha8Rng,
    pub(super) step: u64,
    /// The check that captured layers explain the whole gradient has passed.
    checked: bool,
}

/// The gradients of one step, flat `(d,)` f64.
struct Grads {
    g: Tensor,
    /// ∇L_G (explicit and both modes).
    g_reg: Option<Tensor>,
}

impl RKalman {
    /// R-Kalman over the trainable variables of `vs`.
    pub fn new(vs: &VarStore, cfg: &RKalmanConfig) -> Result<RKalman> {
        let params = vs
            .variables()
            .into_iter()
            .filter(|(_, t)| t.requires_grad())
            .collect();
        RKalman::from_params(params, cfg)
    }

    /// R-Kalman over named parameters (any order; they are sorted by name).
    pub fn from_params(params: Vec<(String, Tensor)>, cfg: &RKalmanConfig) -> Result<RKalman> {
        cfg.validate()?;
        if cfg.cov != CovForm::Dense {
            bail!("rkalman: RKalman is the `cov: dense` form (use rkalman::build)");
        }
        let layout = Layout::new(params);
        if layout.params.is_empty() {
            bail!("rkalman: the model has no trainable parameters");
        }
        if layout.d > MAX_DENSE_PARAMS {
            return Err(crate::error::usage(format!(
                "optimizer.cov: `cov: dense` keeps a d×d covariance and is for models with at \
                 most {MAX_DENSE_PARAMS} parameters; this task's model has {} (use `cov: kron`)",
                layout.d
            )));
        }
        let device = layout.params[0].device();
        Ok(RKalman {
            p: dense::prior(layout.d, cfg.sigma0_sq, device),
            rng: ChaCha8Rng::seed_from_u64(cfg.seed),
            cfg: cfg.clone(),
            layout,
            step: 0,
            checked: false,
        })
    }

    /// The current covariance P `(d, d)` f64 (parameters in name order).
    pub fn covariance(&self) -> &Tensor {
        &self.p
    }

    /// Parameter names in the order of P's rows.
    pub fn param_names(&self) -> &[String] {
        &self.layout.names
    }

    /// Observation rows and noise (None = identity) of this batch.
    fn observation(
        &mut self,
        logits: &Tensor,
        captured: &[Captured],
        inputs: &[Tensor],
    ) -> Result<(Tensor, Option<Tensor>)> {
        let (n, c) = logits.size2()?;
        match self.cfg.obs {
            ObsMode::SampledScore => {
                let yhat = sample_labels(logits, &mut self.rng)?;
                let sampled_sum = mean_ce(logits, &yhat) * n as f64;
                let errors = scores::errors_of(&sampled_sum, captured)?;
                let s = scores::rows(&self.layout, captured, inputs, &errors)?;
                Ok((s.view([n, self.layout.d]), None))
            }
            ObsMode::Jacobian => {
                let mut per_class: Vec<Vec<Tensor>> = captured.iter().map(|_| Vec::new()).collect();
                for k in 0..c {
                    let errs =
                        scores::errors_of(&logits.select(1, k).sum(logits.kind()), captured)?;
                    for (acc, e) in per_class.iter_mut().zip(errs) {
                        acc.push(e);
                    }
                }
                let errors: Vec<Tensor> = per_class.iter().map(|e| Tensor::cat(e, 1)).collect();
                let jac = scores::rows(&self.layout, captured, inputs, &errors)?; // (n, C, d)
                let (h, r) = scores::softmax_observation(logits, &jac, JACOBIAN_EPS)?;
                Ok((h, Some(r)))
            }
        }
    }

    /// ∇L (and ∇L_G by double backprop, §1.6) w.r.t. the parameters; on the first step also
    /// checks that the captured layers account for the whole gradient.
    fn gradients(
        &mut self,
        loss: &Tensor,
        captured: &[Captured],
        inputs: &[Tensor],
    ) -> Result<Grads> {
        let explicit = self.cfg.gr_mode.explicit() && self.cfg.rho > 0.0;
        let outs: Vec<&Tensor> = if self.checked {
            Vec::new()
        } else {
            captured.iter().map(|c| &c.output).collect()
        };
        let lg = loss_gradients(loss, &self.layout.params, &outs, self.cfg.rho, explicit)?;
        let g = self.layout.flatten(&lg.g);
        if !self.checked {
            self.check_gradient(&g, captured, inputs, &lg.extra)?;
            self.checked = true;
        }
        let g_reg = lg.g_reg.map(|r| self.layout.flatten(&r));
        Ok(Grads { g, g_reg })
    }

    /// Σ_j e_j a_jᵀ over the captured layers must equal the autograd gradient: a parameter also
    /// used outside them (e.g. a tied embedding) would make the scores wrong.
    fn check_gradient(
        &self,
        g: &Tensor,
        captured: &[Captured],
        inputs: &[Tensor],
        outs: &[Tensor],
    ) -> Result<()> {
        let n = inputs[0].size()[0];
        let errors: Vec<Tensor> = outs
            .iter()
            .zip(captured)
            .map(|(e, c)| {
                let d_out = *c.output.size().last().unwrap_or(&1);
                e.detach().to_kind(Kind::Double).reshape([n, 1, d_out])
            })
            .collect();
        let from_layers = scores::rows(&self.layout, captured, inputs, &errors)?
            .sum_dim_intlist(0, false, Kind::Double)
            .view([-1]);
        let tol = if self.layout.params[0].kind() == Kind::Double {
            1e-9
        } else {
            1e-4
        };
        let scale = 1.0 + g.abs().max().double_value(&[]);
        for (i, name) in self.layout.names.iter().enumerate() {
            let (off, len) = (self.offset(i), self.layout.params[i].numel() as i64);
            let diff = (g.narrow(0, off, len) - from_layers.narrow(0, off, len))
                .abs()
                .max()
                .double_value(&[]);
            if diff > tol * scale {
                bail!(
                    "R-Kalman (dense): parameter `{name}` gets gradient from outside the captured \
                     linear layers (e.g. a tied embedding), so its per-example scores are wrong"
                );
            }
        }
        Ok(())
    }

    fn offset(&self, i: usize) -> i64 {
        self.layout.params[..i]
            .iter()
            .map(|p| p.numel() as i64)
            .sum()
    }

    /// Predict, implicit GR and measurement update; `None` when the result is not usable.
    fn new_covariance(
        &self,
        s: &Tensor,
        r: Option<&Tensor>,
        delta: f64,
    ) -> Result<Option<(Tensor, GrStep)>> {
        let _guard = tch::no_grad_guard();
        let p = dense::predict(&self.p, self.cfg.beta);
        let gr = dense::implicit_gr(&p, delta);
        let Some(p) = dense::measurement_update(&gr.p, s, r, self.cfg.tau)? else {
            return Ok(None);
        };
        Ok(dense::all_finite(&p).then_some((p, gr)))
    }
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

impl Stepper for RKalman {
    fn name(&self) -> &'static str {
        NAME
    }

    fn step(&mut self, obj: &mut dyn Objective) -> Result<StepReport> {
        let t0 = Instant::now();
        let (logits, captured) = obj.forward(true)?;
        let (n, _) = logits.size2().context("R-Kalman: logits must be (N, C)")?;
        self.layout.check_covered(&captured)?;
        let inputs = scores::layer_inputs(&captured, n)?;
        let loss = mean_ce(&logits, obj.targets());
        let (s, r) = self.observation(&logits, &captured, &inputs)?;
        let grads = self.gradients(&loss, &captured, &inputs)?;
        let g_sq = grads.g.square().sum(Kind::Double).double_value(&[]);
        let implicit = self.cfg.gr_mode.implicit();
        let delta = if implicit { self.cfg.rho * g_sq } else { 0.0 };
        let mut report = StepReport {
            loss: loss.double_value(&[]),
            grad_norm: g_sq.sqrt(),
            grad_norm_reg: grads.g_reg.as_ref().map(|g| g.norm().double_value(&[])),
            gr_penalty: Some(0.5 * self.cfg.rho * g_sq),
            damping_eff: implicit.then_some(delta),
            time_fwd_bwd_ms: ms_since(t0),
            ..StepReport::default()
        };
        drop((logits, captured, loss));
        let t1 = Instant::now();
        let next = self.new_covariance(&s, r.as_ref(), delta)?;
        report.time_curv_ms = ms_since(t1);
        self.step += 1;
        let Some((p, gr)) = next else {
            report.nonfinite_skipped = true;
            return Ok(report);
        };
        report.lazy_guard_fallbacks = u32::from(gr.fallback);
        if gr.fallback {
            report.newton_iters = Some(gr.newton_iters);
            report.newton_resid_max = Some(gr.newton_resid);
        }
        let t2 = Instant::now();
        let v = grads.g_reg.as_ref().unwrap_or(&grads.g);
        let u = tch::no_grad(|| dense::mean_direction(&p, v, n));
        let nu = match self.cfg.kl_clip_bound() {
            Some(kappa) => dense::kl_clip_scale(&u, v, self.cfg.lr, kappa),
            None => 1.0,
        };
        report.kl_clip_scale = self.cfg.kl_clip_bound().map(|_| nu);
        if !dense::all_finite(&u) {
            report.nonfinite_skipped = true;
            return Ok(report);
        }
        self.layout.subtract(&(u * (self.cfg.lr * nu)));
        self.p = p;
        report.time_precond_ms = ms_since(t2);
        Ok(report)
    }

    fn steps_done(&self) -> u64 {
        self.step
    }

    fn set_lr(&mut self, lr: f64) {
        self.cfg.lr = lr;
    }

    fn state_dict(&self) -> Result<crate::optim::StateDict> {
        super::state::save(self)
    }

    fn load_state_dict(&mut self, state: &crate::optim::StateDict) -> Result<()> {
        super::state::load(self, state)
    }
}
