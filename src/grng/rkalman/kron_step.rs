//! [`RKalmanKron`], the Kronecker-form R-Kalman [`Stepper`] (grng spec §2.4, `cov = kron`):
//! per layer, P_A and P_G track the inverses of the EMA factors of the inputs and of the
//! sampled-label errors; the mean step is W ← W − η·ν·P̃_G ∇W P̃_A with the GR-damped copies
//! P̃ and the KL clip ν (on by default). The layers are the captured linear layers that own
//! their weight, found on the first step; every other parameter takes the fallback (§2.6).
use super::config::{CovForm, RKalmanConfig};
use super::dense::all_finite;
use super::fallback::{build_fallback, FallbackOpt};
use super::kron::{
    layer_of, plan_layers, rows_into, Factor, KronLayer, LayerNames, LayerStep, Stats,
};
use super::step::NAME;
use crate::optim::stepper::{mean_ce, sample_labels, Objective, StepReport, Stepper};
use crate::optim::{Captured, StateDict};
use anyhow::{bail, Context, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::rc::Rc;
use std::time::Instant;
use tch::nn::VarStore;
use tch::{Kind, Tensor};

/// What [`RKalmanKron::layer_steps`] proposes, applied only if everything is finite.
struct Proposal {
    steps: Vec<LayerStep>,
    /// P̃_G V P̃_A per layer `(d_out, d_in [+1])`.
    directions: Vec<Tensor>,
    /// Σ⟨U, V⟩ over the layers.
    uv: f64,
}

pub struct RKalmanKron {
    pub(super) cfg: RKalmanConfig,
    /// η₀, the configured `lr`: the fallback's rate is fallback_lr·η/η₀.
    pub(super) lr0: f64,
    /// All trainable parameters, sorted by name.
    pub(super) params: Vec<(String, Tensor)>,
    /// The preconditioned layers (None before the first step).
    pub(super) layers: Option<Vec<KronLayer>>,
    /// The optimizer of the other parameters (None when there are none).
    pub(super) fallback: Option<FallbackOpt>,
    pub(super) rng: ChaCha8Rng,
    pub(super) step: u64,
    /// Per layer, reused f64 buffers of A's rows and of G's rows (not state).
    rows: Vec<RowBuffers>,
    /// Per layer, its current (P_A, P_G) with their cached damping inputs, reused on the
    /// steps without statistics (not state: empty = rebuilt from the layers).
    pub(super) factors: Vec<(Rc<Factor>, Rc<Factor>)>,
}

/// One layer's row buffers (see [`super::kron::rows_into`]).
#[derive(Default)]
struct RowBuffers {
    a: Option<Tensor>,
    e: Option<Tensor>,
}

impl RKalmanKron {
    pub fn new(vs: &VarStore, cfg: &RKalmanConfig) -> Result<RKalmanKron> {
        let params = vs
            .variables()
            .into_iter()
            .filter(|(_, t)| t.requires_grad())
            .collect();
        RKalmanKron::from_params(params, cfg)
    }

    pub fn from_params(
        mut params: Vec<(String, Tensor)>,
        cfg: &RKalmanConfig,
    ) -> Result<RKalmanKron> {
        cfg.validate()?;
        if cfg.cov != CovForm::Kron {
            bail!("rkalman: RKalmanKron is the `cov: kron` form (use rkalman::build)");
        }
        if params.is_empty() {
            bail!("rkalman: the model has no trainable parameters");
        }
        params.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(RKalmanKron {
            lr0: cfg.lr,
            cfg: cfg.clone(),
            params,
            layers: None,
            fallback: None,
            rng: ChaCha8Rng::seed_from_u64(cfg.seed),
            step: 0,
            rows: Vec::new(),
            factors: Vec::new(),
        })
    }

    /// The preconditioned layers with their current P_A, P_G (empty before the first step).
    pub fn layers(&self) -> &[KronLayer] {
        self.layers.as_deref().unwrap_or_default()
    }

    /// Names of the parameters the fallback updates (empty before the first step).
    pub fn fallback_params(&self) -> Vec<String> {
        let Some(layers) = &self.layers else {
            return Vec::new();
        };
        let owned: Vec<&str> = layers
            .iter()
            .flat_map(|l| std::iter::once(l.weight.as_str()).chain(l.bias.as_deref()))
            .collect();
        self.params
            .iter()
            .map(|(n, _)| n.clone())
            .filter(|n| !owned.contains(&n.as_str()))
            .collect()
    }

    /// Layers `names` with prior covariances and a fresh fallback for the other parameters.
    pub(super) fn new_layers(
        &self,
        names: &[LayerNames],
    ) -> Result<(Vec<KronLayer>, Option<FallbackOpt>)> {
        if names.is_empty() {
            bail!("rkalman: the model has no captured linear layers to precondition");
        }
        let layers = names
            .iter()
            .map(|n| layer_of(n, &self.params, self.cfg.sigma0_sq))
            .collect::<Result<Vec<_>>>()?;
        let owned: Vec<&str> = names
            .iter()
            .flat_map(|n| std::iter::once(n.weight.as_str()).chain(n.bias.as_deref()))
            .collect();
        let rest = self
            .params
            .iter()
            .filter(|(n, _)| !owned.contains(&n.as_str()))
            .map(|(n, t)| (n.clone(), t.shallow_clone()))
            .collect();
        Ok((layers, build_fallback(&self.cfg, rest)?))
    }

    /// The captured layer of each of our layers.
    fn match_layers<'a>(&self, captured: &'a [Captured]) -> Result<Vec<&'a Captured>> {
        self.layers()
            .iter()
            .map(|l| {
                captured
                    .iter()
                    .find(|c| c.weight == l.weight)
                    .with_context(|| {
                        format!(
                            "rkalman: layer `{}` was not captured in the forward pass",
                            l.weight
                        )
                    })
            })
            .collect()
    }

    /// The row buffers, one per layer.
    fn row_buffers(&mut self) -> &mut [RowBuffers] {
        let n = self.layers().len();
        if self.rows.len() != n {
            self.rows = (0..n).map(|_| RowBuffers::default()).collect();
        }
        &mut self.rows
    }

    /// Per-layer errors `(rows, d_out)` of the summed loss on labels sampled from the model (f64,
    /// or the model's kind, see [`rows_into`]).
    fn sampled_errors(&mut self, logits: &Tensor, caps: &[&Captured]) -> Result<Vec<Tensor>> {
        let n = logits.size2()?.0;
        let yhat = sample_labels(logits, &mut self.rng)?;
        let sampled_sum = mean_ce(logits, &yhat) * n as f64;
        let outs: Vec<&Tensor> = caps.iter().map(|c| &c.output).collect();
        let grads = Tensor::f_run_backward(&[sampled_sum], &outs, true, false)?;
        let stats = self.cfg.stats_dtype;
        Ok(grads
            .iter()
            .zip(&outs)
            .zip(self.row_buffers())
            .map(|((e, s), buf)| {
                let d_out = *s.size().last().unwrap_or(&1);
                let e = if e.defined() {
                    e.shallow_clone()
                } else {
                    s.zeros_like()
                };
                rows_into(&mut buf.e, &e, d_out, false, stats)
            })
            .collect())
    }

    /// Per-layer rows `(rows, d_in [+1])` of A's observation (f64, or the model's kind, see
    /// [`rows_into`]).
    fn input_rows(&mut self, caps: &[&Captured]) -> Vec<Tensor> {
        self.row_buffers();
        let stats = self.cfg.stats_dtype;
        let layers = self.layers.as_deref().unwrap_or_default();
        (layers.iter().zip(caps).zip(&mut self.rows))
            .map(|((l, c), buf)| l.a_rows(&c.input, &mut buf.a, stats))
            .collect()
    }

    /// The direction's gradient into every parameter's `.grad()`: ∇L, or in explicit GR mode
    /// ∇L_G = ∇(L + ρ/2‖∇L‖²) by double backprop (§1.6). Returns ‖∇L‖² and ‖∇L_G‖.
    fn gradient(&self, loss: &Tensor) -> Result<(f64, Option<f64>)> {
        tch::no_grad(|| {
            for (_, p) in &self.params {
                let mut g = p.grad();
                if g.defined() {
                    let _ = g.zero_();
                }
            }
        });
        let params: Vec<&Tensor> = self.params.iter().map(|(_, t)| t).collect();
        if !(self.cfg.gr_mode.explicit() && self.cfg.rho > 0.0) {
            loss.f_backward().context("rkalman: gradient backward")?;
            return Ok((self.grad_sq()?, None));
        }
        let g = Tensor::f_run_backward(&[loss], &params, true, true)?;
        let sq: Vec<Tensor> = g.iter().map(|t| t.square().sum(Kind::Double)).collect();
        let sq = Tensor::stack(&sq, 0).sum(Kind::Double);
        let total = loss.to_kind(Kind::Double) + &sq * (0.5 * self.cfg.rho);
        total.f_backward().context("rkalman: double backprop")?;
        Ok((sq.double_value(&[]), Some(self.grad_sq()?.sqrt())))
    }

    /// Σ‖.grad()‖² over the parameters (undefined = 0), one read-back.
    fn grad_sq(&self) -> Result<f64> {
        let sq: Vec<Tensor> = self
            .params
            .iter()
            .map(|(_, p)| p.grad())
            .filter(|g| g.defined())
            .map(|g| g.square().sum(Kind::Double))
            .collect();
        if sq.is_empty() {
            return Ok(0.0);
        }
        Ok(Tensor::stack(&sq, 0).sum(Kind::Double).double_value(&[]))
    }

    /// Per layer: the new factors (the current ones when `stats` is None, a step between two
    /// statistics steps) and their damped copies, and the direction P̃_G V P̃_A for the layer's
    /// gradient V; with Σ⟨U, V⟩ for the KL clip. `None` when a system failed.
    fn layer_steps(
        &self,
        stats: Option<(&[Tensor], &[Tensor])>,
        delta: f64,
        report: &mut StepReport,
    ) -> Result<Option<Proposal>> {
        let _guard = tch::no_grad_guard();
        let (mut steps, mut directions, mut uvs) = (Vec::new(), Vec::new(), Vec::new());
        for (i, l) in self.layers().iter().enumerate() {
            let stats = match (stats, self.factors.get(i)) {
                (Some((a, e)), _) => Stats::Batch(&a[i], &e[i]),
                (None, Some((fa, fg))) => Stats::Current(fa.clone(), fg.clone()),
                (None, None) => Stats::Current(
                    Rc::new(Factor::new(l.p_a.shallow_clone())),
                    Rc::new(Factor::new(l.p_g.shallow_clone())),
                ),
            };
            let Some(s) = l.covariance_step(stats, self.cfg.beta, delta)? else {
                return Ok(None);
            };
            let gb = l.b.as_ref().map(Tensor::grad);
            let grad = l.joint_gradient(&l.w.grad(), gb.as_ref());
            let u = s.gr_g.op.left(&s.gr_a.op.right(&grad)); // P̃_G V P̃_A (d_out, d_in [+1])
            uvs.push((&u * &grad).sum(Kind::Double));
            for gr in [&s.gr_a, &s.gr_g] {
                report.lazy_guard_fallbacks += u32::from(gr.fallback);
                if gr.fallback {
                    *report.newton_iters.get_or_insert(0) += gr.newton_iters;
                    let r = report.newton_resid_max.get_or_insert(0.0);
                    *r = r.max(gr.newton_resid);
                }
            }
            directions.push(u);
            steps.push(s);
        }
        let uv = Tensor::stack(&uvs, 0).sum(Kind::Double).double_value(&[]);
        Ok(Some(Proposal {
            steps,
            directions,
            uv,
        }))
    }
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

impl Stepper for RKalmanKron {
    fn name(&self) -> &'static str {
        NAME
    }

    fn step(&mut self, obj: &mut dyn Objective) -> Result<StepReport> {
        let t0 = Instant::now();
        let (logits, captured) = obj.forward(true)?;
        logits.size2().context("R-Kalman: logits must be (N, C)")?;
        if self.layers.is_none() {
            let (layers, fallback) = self.new_layers(&plan_layers(&captured, &self.params))?;
            self.layers = Some(layers);
            self.fallback = fallback;
        }
        let caps = self.match_layers(&captured)?;
        let loss = mean_ce(&logits, obj.targets());
        // §2.5: the factors take this batch's statistics every t_stat steps (k ≡ 0 mod t_stat).
        let refresh = self.step.is_multiple_of(self.cfg.t_stat);
        let errors = if refresh {
            self.sampled_errors(&logits, &caps)?
        } else {
            Vec::new()
        };
        let (g_sq, reg_norm) = self.gradient(&loss)?;
        let implicit = self.cfg.gr_mode.implicit();
        let delta = if implicit { self.cfg.rho * g_sq } else { 0.0 };
        let mut report = StepReport {
            loss: loss.double_value(&[]),
            grad_norm: g_sq.sqrt(),
            grad_norm_reg: reg_norm,
            gr_penalty: Some(0.5 * self.cfg.rho * g_sq),
            damping_eff: implicit.then_some(delta),
            time_fwd_bwd_ms: ms_since(t0),
            ..StepReport::default()
        };
        let t1 = Instant::now();
        let inputs = if refresh {
            self.input_rows(&caps)
        } else {
            Vec::new()
        };
        self.step += 1;
        let stats = refresh.then_some((&inputs[..], &errors[..]));
        let Some(Proposal {
            steps,
            directions,
            uv,
        }) = self.layer_steps(stats, delta, &mut report)?
        else {
            report.nonfinite_skipped = true;
            return Ok(report);
        };
        report.time_curv_ms = ms_since(t1);
        let lr = self.cfg.lr;
        let nu = match self.cfg.kl_clip_bound() {
            Some(kappa) if uv > 0.0 => (kappa / (lr * lr * uv)).sqrt().min(1.0),
            _ => 1.0,
        };
        report.kl_clip_scale = self.cfg.kl_clip_bound().map(|_| nu);
        // Factors reused from an earlier step were checked when they were made.
        let made = steps.iter().filter(|_| refresh);
        let news: Vec<Tensor> = directions
            .iter()
            .chain(made.flat_map(|s: &LayerStep| [&s.p_a.p, &s.p_g.p]))
            .map(|t| t.isfinite().all())
            .collect();
        if !uv.is_finite() || !all_finite(&Tensor::stack(&news, 0)) {
            report.nonfinite_skipped = true;
            return Ok(report);
        }
        let mut factors = Vec::new();
        let layers = self.layers.as_mut().context("layers are set")?;
        for ((l, u), s) in layers.iter_mut().zip(&directions).zip(steps) {
            l.subtract(&(u * (lr * nu)));
            l.p_a = s.p_a.p.shallow_clone();
            l.p_g = s.p_g.p.shallow_clone();
            factors.push((s.p_a, s.p_g));
        }
        self.factors = factors;
        if let Some(fb) = &mut self.fallback {
            fb.set_lr(self.cfg.fallback_base_lr() * lr / self.lr0);
            fb.step()?;
        }
        report.time_precond_ms = ms_since(t1) - report.time_curv_ms;
        Ok(report)
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
