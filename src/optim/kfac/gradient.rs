//! Stages 1–2 of the step (grng spec §2.9): the factor statistics of one batch (errors of
//! sampled or data labels, by one backward to the pre-activations, §1.2) and the gradient that
//! is preconditioned, ∇L or RENG's ∇L + ρH∇L by double backprop (§1.6).
use super::config::{FisherKind, GrMode};
use super::factors::{batch_factors, Factors};
use super::step::{Grad, Kfac};
use crate::optim::capture::Captured;
use crate::optim::stepper::{grad_norm, sample_labels};
use anyhow::{Context, Result};
use tch::{Kind, Reduction, Tensor};

impl Kfac {
    /// Stage 1: each layer's batch A and G from errors of the sampled (or data) labels.
    pub(super) fn batch_statistics(
        &mut self,
        logits: &Tensor,
        captured: &[Captured],
        targets: &Tensor,
    ) -> Result<Vec<Factors>> {
        let n = logits.size2()?.0;
        let labels = match self.cfg.fisher {
            FisherKind::True => sample_labels(logits, &mut self.rng)?,
            FisherKind::Empirical => targets.shallow_clone(),
        };
        let sum_loss =
            logits.cross_entropy_loss::<Tensor>(&labels, None, Reduction::Sum, -100, 0.0);
        let layers = self.layers.as_ref().context("layers are set")?;
        let mut found = Vec::with_capacity(layers.len());
        for l in layers {
            let c = captured
                .iter()
                .find(|c| c.weight == l.plan.weight && c.layer == l.plan.layer);
            found.push(c.with_context(|| {
                format!(
                    "K-FAC layer `{}` was not captured by the forward pass",
                    l.plan.layer
                )
            })?);
        }
        if found.is_empty() {
            return Ok(Vec::new());
        }
        let outputs: Vec<&Tensor> = found.iter().map(|c| &c.output).collect();
        let errors = Tensor::f_run_backward(&[&sum_loss], &outputs, true, false)
            .context("K-FAC error backward")?;
        let mut out = Vec::with_capacity(layers.len());
        for ((l, c), e) in layers.iter().zip(&found).zip(&errors) {
            out.push(batch_factors(&l.plan, &c.input, e, n)?);
        }
        Ok(out)
    }

    /// Stage 2: the direction's gradient into `.grad()`: ∇L, or ∇L + ρH∇L (RENG).
    pub(super) fn gradient(&mut self, loss: &Tensor) -> Result<Grad> {
        self.zero_grads();
        let tensors: Vec<Tensor> = self
            .params
            .iter()
            .map(|p| p.tensor.shallow_clone())
            .collect();
        if self.cfg.gr == GrMode::Explicit {
            let sq = gr_backward(loss, &tensors, self.cfg.rho)?;
            return Ok(Grad {
                sq_norm: sq,
                reg_norm: Some(grad_norm(&tensors)),
            });
        }
        loss.f_backward().context("K-FAC gradient backward")?;
        Ok(Grad {
            sq_norm: grad_norm(&tensors).powi(2),
            reg_norm: None,
        })
    }

    pub(super) fn zero_grads(&mut self) {
        let _guard = tch::no_grad_guard();
        for p in &self.params {
            let mut g = p.tensor.grad();
            if g.defined() {
                let _ = g.zero_();
            }
        }
    }
}

/// ∇(L + ρ/2‖∇L‖²) = ∇L + ρH∇L by double backprop (spec §1.6), accumulated into `.grad()`
/// (which must be zero); returns ‖∇L‖².
fn gr_backward(loss: &Tensor, params: &[Tensor], rho: f64) -> Result<f64> {
    let g = Tensor::f_run_backward(&[loss], params, true, true)
        .context("RENG double backprop: first backward (create_graph)")?;
    let mut sq = Tensor::zeros([], (Kind::Double, loss.device()));
    for t in &g {
        sq += t.square().sum(Kind::Double);
    }
    let total = loss.to_kind(Kind::Double) + &sq * (0.5 * rho);
    total
        .f_backward()
        .context("RENG double backprop: second backward")?;
    Ok(sq.double_value(&[]))
}
