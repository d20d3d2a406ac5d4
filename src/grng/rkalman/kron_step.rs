//! [`RKalmanKron`], the Kronecker-form R-Kalman [`Stepper`] (grng spec §2.4, `cov = kron`):
//! per layer, P_A and P_G track the inverses of the EMA factors of the inputs and of the
//! sampled-label errors; the mean step is W ← W − η·ν·P̃_G ∇W P̃_A with the GR-damped copies
//! P̃ and the KL clip ν (on by default).
use super::config::{CovForm, RKalmanConfig};
use super::dense::all_finite;
use super::grads::loss_gradients;
use super::kron::{layers_of, KronLayer, LayerStep};
use super::state::{check, copy_all, save_with, Common};
use super::step::NAME;
use crate::nn::Captured;
use crate::optim::stepper::{mean_ce, sample_labels, Objective, StepReport, Stepper};
use crate::optim::StateDict;
use anyhow::{bail, Context, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
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
    cfg: RKalmanConfig,
    layers: Vec<KronLayer>,
    /// Parameter names and tensors in gradient order: each layer's weight, then its bias.
    names: Vec<String>,
    params: Vec<Tensor>,
    rng: ChaCha8Rng,
    step: u64,
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
        params.sort_by(|a, b| a.0.cmp(&b.0));
        let layers = layers_of(&params, cfg.sigma0_sq)?;
        if layers.is_empty() {
            bail!("rkalman: the model has no linear layers to precondition");
        }
        let mut names = Vec::new();
        let mut tensors = Vec::new();
        for l in &layers {
            names.push(l.weight.clone());
            tensors.push(l.w.shallow_clone());
            if let (Some(n), Some(b)) = (&l.bias, &l.b) {
                names.push(n.clone());
                tensors.push(b.shallow_clone());
            }
        }
        Ok(RKalmanKron {
            cfg: cfg.clone(),
            layers,
            names,
            params: tensors,
            rng: ChaCha8Rng::seed_from_u64(cfg.seed),
            step: 0,
        })
    }

    /// The layers with their current P_A, P_G.
    pub fn layers(&self) -> &[KronLayer] {
        &self.layers
    }

    /// The captured layer of each of our layers (each exactly once).
    fn match_layers<'a>(&self, captured: &'a [Captured]) -> Result<Vec<&'a Captured>> {
        self.layers
            .iter()
            .map(|l| {
                let mut hits = captured.iter().filter(|c| c.weight == l.weight);
                match (hits.next(), hits.next()) {
                    (Some(c), None) => Ok(c),
                    (None, _) => bail!(
                        "rkalman: layer `{}` was not captured in the forward pass",
                        l.weight
                    ),
                    (Some(_), Some(_)) => bail!(
                        "rkalman (`cov: kron`): `{}` is used by two captured layers",
                        l.weight
                    ),
                }
            })
            .collect()
    }

    /// Per-layer errors `(rows, d_out)` f64 of the summed loss on labels sampled from the model.
    fn sampled_errors(&mut self, logits: &Tensor, caps: &[&Captured]) -> Result<Vec<Tensor>> {
        let n = logits.size2()?.0;
        let yhat = sample_labels(logits, &mut self.rng)?;
        let sampled_sum = mean_ce(logits, &yhat) * n as f64;
        let outs: Vec<&Tensor> = caps.iter().map(|c| &c.output).collect();
        let grads = Tensor::f_run_backward(&[sampled_sum], &outs, true, false)?;
        Ok(grads
            .iter()
            .zip(&outs)
            .map(|(e, s)| {
                let d_out = *s.size().last().unwrap_or(&1);
                let e = if e.defined() {
                    e.detach()
                } else {
                    s.zeros_like()
                };
                e.to_kind(Kind::Double).reshape([-1, d_out])
            })
            .collect())
    }

    /// Per layer: the new factors and their damped copies, and the direction P̃_G V P̃_A for
    /// the layer's part of `v`; with Σ⟨U, V⟩ for the KL clip. `None` when a system failed.
    fn layer_steps(
        &self,
        caps: &[&Captured],
        errors: &[Tensor],
        v: &[Tensor],
        delta: f64,
        report: &mut StepReport,
    ) -> Result<Option<Proposal>> {
        let _guard = tch::no_grad_guard();
        let (mut steps, mut directions, mut uv, mut vi) = (Vec::new(), Vec::new(), 0.0, 0);
        for ((l, c), e) in self.layers.iter().zip(caps).zip(errors) {
            let Some(s) = l.covariance_step(&l.a_rows(&c.input), e, self.cfg.beta, delta)? else {
                return Ok(None);
            };
            let gb = l.b.as_ref().map(|_| &v[vi + 1]);
            let grad = l.joint_gradient(&v[vi], gb);
            vi += 1 + usize::from(gb.is_some());
            let u = s.gr_g.p.matmul(&grad).matmul(&s.gr_a.p); // (d_out, d_in [+1])
            uv += (&u * &grad).sum(Kind::Double).double_value(&[]);
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
        let caps = self.match_layers(&captured)?;
        let loss = mean_ce(&logits, obj.targets());
        let errors = self.sampled_errors(&logits, &caps)?;
        let explicit = self.cfg.gr_mode.explicit() && self.cfg.rho > 0.0;
        let lg = loss_gradients(&loss, &self.params, &[], self.cfg.rho, explicit)?;
        let sq = |gs: &[Tensor]| {
            gs.iter()
                .map(|g| g.square().sum(Kind::Double).double_value(&[]))
                .sum::<f64>()
        };
        let g_sq = sq(&lg.g);
        let implicit = self.cfg.gr_mode.implicit();
        let delta = if implicit { self.cfg.rho * g_sq } else { 0.0 };
        let mut report = StepReport {
            loss: loss.double_value(&[]),
            grad_norm: g_sq.sqrt(),
            grad_norm_reg: lg.g_reg.as_deref().map(|g| sq(g).sqrt()),
            gr_penalty: Some(0.5 * self.cfg.rho * g_sq),
            damping_eff: implicit.then_some(delta),
            time_fwd_bwd_ms: ms_since(t0),
            ..StepReport::default()
        };
        let t1 = Instant::now();
        let v = lg.g_reg.as_ref().unwrap_or(&lg.g);
        let Some(Proposal {
            steps,
            directions,
            uv,
        }) = self.layer_steps(&caps, &errors, v, delta, &mut report)?
        else {
            self.step += 1;
            report.nonfinite_skipped = true;
            return Ok(report);
        };
        report.time_curv_ms = ms_since(t1);
        self.step += 1;
        let lr = self.cfg.lr;
        let nu = match self.cfg.kl_clip_bound() {
            Some(kappa) if uv > 0.0 => (kappa / (lr * lr * uv)).sqrt().min(1.0),
            _ => 1.0,
        };
        report.kl_clip_scale = self.cfg.kl_clip_bound().map(|_| nu);
        let finite = |s: &LayerStep| all_finite(&s.p_a) && all_finite(&s.p_g);
        if !directions.iter().all(all_finite) || !steps.iter().all(finite) {
            report.nonfinite_skipped = true;
            return Ok(report);
        }
        for ((l, u), s) in self.layers.iter_mut().zip(&directions).zip(steps) {
            l.subtract(&(u * (lr * nu)));
            l.p_a = s.p_a;
            l.p_g = s.p_g;
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
        let common = Common {
            cfg: &self.cfg,
            rng: &self.rng,
            step: self.step,
            names: &self.names,
        };
        let tensors = self.layers.iter().flat_map(|l| {
            [
                (format!("cov_a/{}", l.weight), l.p_a.copy()),
                (format!("cov_g/{}", l.weight), l.p_g.copy()),
            ]
        });
        save_with(common, tensors.collect())
    }

    fn load_state_dict(&mut self, state: &StateDict) -> Result<()> {
        let dst: Vec<(String, &Tensor)> = self
            .layers
            .iter()
            .flat_map(|l| {
                [
                    (format!("cov_a/{}", l.weight), &l.p_a),
                    (format!("cov_g/{}", l.weight), &l.p_g),
                ]
            })
            .collect();
        let keys: Vec<String> = dst.iter().map(|(k, _)| k.clone()).collect();
        let (rng, step, lr) = check(state, &keys, &self.names)?;
        copy_all(state, &dst)?;
        self.rng = rng;
        self.step = step;
        self.cfg.lr = lr;
        Ok(())
    }
}
