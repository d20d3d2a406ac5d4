//! Observation rows of the dense R-Kalman (grng spec §2.4 step 3, §6.12): the flat parameter
//! [`Layout`] and, from the captured linear layers, per-example score or Jacobian rows without a
//! per-example loop: for a layer with input a_j and output error e_j the row block is
//! vec_r(e_j a_jᵀ) = e_j ⊗ a_j (row-major, the order of `W.view(-1)`), plus e_j for the bias.
use crate::nn::Captured;
use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use tch::{Kind, Tensor};

/// The trainable parameters in a fixed order (sorted by name) and their offsets in θ `(d,)`.
#[derive(Debug)]
pub struct Layout {
    pub names: Vec<String>,
    pub params: Vec<Tensor>,
    offsets: Vec<i64>,
    index: HashMap<String, usize>,
    /// Total number of scalars d.
    pub d: i64,
}

impl Layout {
    pub fn new(mut params: Vec<(String, Tensor)>) -> Layout {
        params.sort_by(|a, b| a.0.cmp(&b.0));
        let mut offsets = Vec::with_capacity(params.len());
        let mut d = 0;
        for (_, t) in &params {
            offsets.push(d);
            d += t.numel() as i64;
        }
        let index = params
            .iter()
            .enumerate()
            .map(|(i, (n, _))| (n.clone(), i))
            .collect();
        let (names, params) = params.into_iter().unzip();
        Layout {
            names,
            params,
            offsets,
            index,
            d,
        }
    }

    /// One tensor per parameter (undefined = zero) concatenated to `(d,)` f64.
    pub fn flatten(&self, per_param: &[Tensor]) -> Tensor {
        let parts: Vec<Tensor> = per_param
            .iter()
            .zip(&self.params)
            .map(|(g, p)| {
                if g.defined() {
                    g.detach().to_kind(Kind::Double).reshape([-1])
                } else {
                    Tensor::zeros([p.numel() as i64], (Kind::Double, p.device()))
                }
            })
            .collect();
        Tensor::cat(&parts, 0)
    }

    /// `θ ← θ − step` for a flat `step` `(d,)` (converted to each parameter's kind), no grad.
    pub fn subtract(&self, step: &Tensor) {
        tch::no_grad(|| {
            for (i, p) in self.params.iter().enumerate() {
                let n = p.numel() as i64;
                let part = step.narrow(0, self.offsets[i], n).view(p.size().as_slice());
                let part = part.to_kind(p.kind());
                let _ = p.shallow_clone().g_sub_(&part);
            }
        });
    }

    fn slot(&self, name: &str) -> Option<(i64, i64)> {
        self.index
            .get(name)
            .map(|&i| (self.offsets[i], self.params[i].numel() as i64))
    }

    /// Every parameter must belong to a captured layer (weight or bias); the error names the
    /// first that does not.
    pub fn check_covered(&self, captured: &[Captured]) -> Result<()> {
        let covered: Vec<&str> = captured
            .iter()
            .flat_map(|c| std::iter::once(c.weight.as_str()).chain(c.bias.as_deref()))
            .collect();
        if let Some(name) = self.names.iter().find(|n| !covered.contains(&n.as_str())) {
            bail!(
                "R-Kalman (dense) needs every trainable parameter inside a captured linear \
                 layer; `{name}` is not (the per-example scores would miss it)"
            );
        }
        Ok(())
    }
}

/// Layer inputs `(n, d_in)` with leading axes flattened; each must have `n` rows.
pub fn layer_inputs(captured: &[Captured], n: i64) -> Result<Vec<Tensor>> {
    captured
        .iter()
        .map(|c| {
            let d_in = *c
                .input
                .size()
                .last()
                .context("captured input has no axes")?;
            let a = c.input.detach().to_kind(Kind::Double).reshape([-1, d_in]);
            if a.size()[0] != n {
                bail!(
                    "R-Kalman (dense) needs one captured row per example: layer `{}` has {} \
                     rows for {n} examples",
                    c.layer,
                    a.size()[0]
                );
            }
            Ok(a)
        })
        .collect()
}

/// Observation rows `(n, k, d)` from per-layer inputs `a` `(n, d_in)` and errors `e`
/// `(n, k, d_out)` (k outputs per example: 1 for a score, C for a logit Jacobian). A parameter
/// used by several layers (tied) gets the sum of their blocks.
pub fn rows(
    layout: &Layout,
    captured: &[Captured],
    inputs: &[Tensor],
    errors: &[Tensor],
) -> Result<Tensor> {
    let (n, k, _) = errors.first().context("no captured layers")?.size3()?;
    let out = Tensor::zeros([n, k, layout.d], (Kind::Double, inputs[0].device()));
    tch::no_grad(|| -> Result<()> {
        for ((c, a), e) in captured.iter().zip(inputs).zip(errors) {
            let (off, len) = layout.slot(&c.weight).context("checked by check_covered")?;
            let block = e.unsqueeze(3) * a.view([n, 1, 1, -1]); // (n, k, d_out, d_in)
            let _ = out.narrow(2, off, len).g_add_(&block.reshape([n, k, len]));
            if let Some(b) = &c.bias {
                let (off, len) = layout.slot(b).context("checked by check_covered")?;
                let _ = out.narrow(2, off, len).g_add_(e);
            }
        }
        Ok(())
    })?;
    Ok(out)
}

/// ∂(Σ_j f_j)/∂s for every captured pre-activation s, as `(n, 1, d_out)` f64 (graph kept).
pub fn errors_of(f: &Tensor, captured: &[Captured]) -> Result<Vec<Tensor>> {
    let outs: Vec<&Tensor> = captured.iter().map(|c| &c.output).collect();
    let grads = Tensor::f_run_backward(&[f], &outs, true, false)?;
    Ok(grads
        .iter()
        .zip(&outs)
        .map(|(g, s)| {
            let d_out = *s.size().last().unwrap_or(&1);
            let g = if g.defined() {
                g.detach()
            } else {
                s.zeros_like()
            };
            g.to_kind(Kind::Double).reshape([-1, 1, d_out])
        })
        .collect())
}

/// Softmax observation of the `jacobian` mode (§2.4, as probml/rebayes' EKF): rows
/// `H = M J` `(n·C, d)` of the Jacobian of p = softmax(z), with `J` the logit Jacobian
/// `(n, C, d)` and `M = diag(p) − p pᵀ`, and the block-diagonal noise `R = M + εI`
/// `(n·C, n·C)`. Then `Hᵀ R⁻¹ H ≈ Jᵀ M J`, the exact Fisher, up to O(ε).
pub fn softmax_observation(logits: &Tensor, jac: &Tensor, eps: f64) -> Result<(Tensor, Tensor)> {
    let (n, c, d) = jac.size3()?;
    let p = logits
        .detach()
        .to_kind(Kind::Double)
        .softmax(-1, Kind::Double); // (n, C)
    let m = p.diag_embed(0, -2, -1) - p.unsqueeze(2) * p.unsqueeze(1); // (n, C, C)
    let h = m.bmm(jac).reshape([n * c, d]);
    let eye_c = Tensor::eye(c, (Kind::Double, p.device()));
    let blocks = (m + eye_c * eps).view([n, c, 1, c]); // (n, C, 1, C)
    let eye_n = Tensor::eye(n, (Kind::Double, p.device())).view([n, 1, n, 1]);
    let r = (blocks * eye_n).reshape([n * c, n * c]); // δ_jk (M_j + εI)[a, b]
    Ok((h, r))
}
