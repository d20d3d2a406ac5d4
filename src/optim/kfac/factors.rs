//! Which captured layers K-FAC preconditions, and their Kronecker factors (grng spec §1.2).
//!
//! A layer's A is `(cols, cols)` with `cols = d_in + 1` when it has a bias (a column of ones is
//! appended to its input rows), G is `(d_out, d_out)`; both are kept in f64 and start at I.
//! Input rows are the captured input flattened to `(rows, d_in)`. With N logits rows, a layer
//! with `rows = N·L`, L > 1, is a convolution written as a Linear on im2col patches (L spatial
//! positions per example); it gets the KFC scaling of the reference code: patches divided by L
//! for A, errors multiplied by L for G. A language model's layers have rows = N (each token is
//! an example of the flattened `(B·T, V)` logits), so L = 1 and the plain linear rule applies.
use crate::optim::capture::Captured;
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use tch::{Device, Kind, Tensor};

/// One preconditioned layer: its parameter names and sizes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerPlan {
    pub layer: String,
    pub weight: String,
    pub bias: Option<String>,
    pub d_in: i64,
    pub d_out: i64,
}

impl LayerPlan {
    /// Columns of the weight with the bias appended (the size of A).
    pub fn cols(&self) -> i64 {
        self.d_in + i64::from(self.bias.is_some())
    }
}

/// The K-FAC layers among `captured` (forward order). `kfac_params` maps the names of
/// parameters in K-FAC groups to their shapes. A layer is skipped (its parameters go to the
/// fallback) when its weight is not a 2-D K-FAC parameter, its bias is not a K-FAC parameter,
/// it is a tied head (its weight is named after another layer), or its weight is captured more
/// than once (a weight shared across calls).
pub fn plan_layers(
    captured: &[Captured],
    kfac_params: &BTreeMap<String, Vec<i64>>,
) -> Vec<LayerPlan> {
    let mut seen = BTreeMap::<&str, usize>::new();
    for c in captured {
        *seen.entry(c.weight.as_str()).or_default() += 1;
    }
    let mut plans = Vec::new();
    for c in captured {
        let own = c.weight == format!("{}.weight", c.layer);
        let Some(shape) = kfac_params.get(&c.weight) else {
            continue;
        };
        let bias_ok = c.bias.as_ref().is_none_or(|b| kfac_params.contains_key(b));
        if !own || shape.len() != 2 || !bias_ok || seen[c.weight.as_str()] > 1 {
            continue;
        }
        plans.push(LayerPlan {
            layer: c.layer.clone(),
            weight: c.weight.clone(),
            bias: c.bias.clone(),
            d_in: shape[1],
            d_out: shape[0],
        });
    }
    plans
}

/// Names of the parameters of `plans` (weights and biases).
pub fn planned_params(plans: &[LayerPlan]) -> BTreeSet<String> {
    plans
        .iter()
        .flat_map(|p| std::iter::once(p.weight.clone()).chain(p.bias.clone()))
        .collect()
}

/// A layer's running factors A `(cols, cols)` and G `(d_out, d_out)`, f64.
#[derive(Debug)]
pub struct Factors {
    pub a: Tensor,
    pub g: Tensor,
}

impl Factors {
    /// A = I, G = I (as alecwangcq/KFAC-Pytorch).
    pub fn identity(plan: &LayerPlan, device: Device) -> Factors {
        Factors {
            a: Tensor::eye(plan.cols(), (Kind::Double, device)),
            g: Tensor::eye(plan.d_out, (Kind::Double, device)),
        }
    }

    /// The EMA `β·self + (1 − β)·batch`, as new tensors.
    pub fn ema(&self, batch: &Factors, beta: f64) -> Factors {
        Factors {
            a: &self.a * beta + &batch.a * (1.0 - beta),
            g: &self.g * beta + &batch.g * (1.0 - beta),
        }
    }

    pub fn is_finite(&self) -> bool {
        [&self.a, &self.g]
            .iter()
            .all(|t| t.isfinite().all().int64_value(&[]) != 0)
    }
}

/// One batch's A and G from a layer's captured input and its errors
/// `e = ∂(Σ_j −log p(ŷ_j))/∂s` (per-example errors of the *summed* loss), for N logits rows.
pub fn batch_factors(plan: &LayerPlan, input: &Tensor, errors: &Tensor, n: i64) -> Result<Factors> {
    let _guard = tch::no_grad_guard();
    let a = input
        .detach()
        .to_kind(Kind::Double)
        .reshape([-1, plan.d_in]); // (rows, d_in)
    let e = errors.to_kind(Kind::Double).reshape([-1, plan.d_out]); // (rows, d_out)
    let rows = a.size()[0];
    if n < 1 || rows % n != 0 || e.size()[0] != rows {
        bail!(
            "K-FAC layer `{}`: {rows} input rows and {} error rows do not divide into the {n} \
             rows of the logits",
            plan.layer,
            e.size()[0]
        );
    }
    let a = match plan.bias {
        Some(_) => Tensor::cat(&[a.shallow_clone(), a.ones_like().narrow(1, 0, 1)], 1), // (rows, cols)
        None => a,
    };
    // KFC scaling (spec §1.2 "Convolutions"): A = Σ (a/L)(a/L)ᵀ / N, G = Σ (eL)(eL)ᵀ / (N·L).
    let l = (rows / n) as f64;
    let nf = n as f64;
    Ok(Factors {
        a: a.transpose(0, 1).matmul(&a) / (nf * l * l),
        g: e.transpose(0, 1).matmul(&e) * (l / nf),
    })
}

/// The layer's gradient with the bias as a last column: `(d_out, cols)` in `kind`, from
/// `.grad()`.
pub fn layer_grad(plan: &LayerPlan, weight: &Tensor, bias: Option<&Tensor>, kind: Kind) -> Tensor {
    let w = grad_or_zero(weight).to_kind(kind);
    match bias {
        Some(b) => Tensor::cat(&[w, grad_or_zero(b).to_kind(kind).view([plan.d_out, 1])], 1),
        None => w,
    }
}

fn grad_or_zero(p: &Tensor) -> Tensor {
    let g = p.grad();
    if g.defined() {
        g
    } else {
        p.zeros_like()
    }
}
