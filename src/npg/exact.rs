//! Diagnostic `cos_to_exact` (spec §3.8): for tiny categorical actors, the exact damped
//! Fisher over a batch, `(1/N) Σᵢ Σₐ π(a|sᵢ) u(sᵢ,a)u(sᵢ,a)ᵀ + λI`, factorised by Cholesky;
//! SMAC's `d` is compared by cosine with the exact natural direction `(F + λI)⁻¹ g`.
use super::backend::Policy;
use super::policy::{Actor, DistKind};
use super::rank1::{dot, norm};
use crate::error::usage;
use anyhow::{anyhow, Result};
use ndarray::{Array1, Array2};
use ndarray_linalg::{CholeskyFactorized, FactorizeC, SolveC, UPLO};
use tch::{Kind, Tensor};

/// The exact Fisher `(1/N) Σᵢ Σₐ π(a|sᵢ) u uᵀ` (expectation over actions, no sampling).
pub fn exact_fisher(actor: &Actor, obs: &Tensor) -> Result<Array2<f64>> {
    let DistKind::Categorical { n: actions } = actor.dist else {
        return Err(usage("cos_to_exact needs a discrete action space"));
    };
    let n = actor.params.numel();
    let rows = obs.size()[0];
    let mut scores = Array2::<f64>::zeros((rows as usize * actions, n));
    for i in 0..rows {
        let row = obs.narrow(0, i, 1);
        let probs = tch::no_grad(|| actor.head(&row).softmax(-1, Kind::Double));
        for a in 0..actions {
            let logp = actor
                .head(&row)
                .log_softmax(-1, Kind::Double)
                .select(1, a as i64)
                .sum(Kind::Double);
            let u = actor.params.grad(&logp);
            let w = (probs.double_value(&[0, a as i64]) / rows as f64).sqrt();
            let mut dst = scores.row_mut(i as usize * actions + a);
            dst.iter_mut().zip(&u).for_each(|(s, x)| *s = w * x);
        }
    }
    Ok(scores.t().dot(&scores))
}

/// `(F + λI)` factorised once per diagnostic iteration.
pub struct ExactNatural {
    factor: CholeskyFactorized<ndarray::OwnedRepr<f64>>,
}

impl ExactNatural {
    /// The torch actor's exact Fisher over the states `obs`.
    pub fn new(actor: &Actor, obs: &Tensor, damping: f64, max_params: usize) -> Result<Self> {
        Self::with_fisher(actor.params.numel(), damping, max_params, || {
            exact_fisher(actor, obs)
        })
    }

    /// Either backend's exact Fisher over a batch's states.
    pub fn of<P: Policy>(actor: &P, b: &P::Batch, damping: f64, max_params: usize) -> Result<Self> {
        Self::with_fisher(actor.numel(), damping, max_params, || actor.exact_fisher(b))
    }

    /// Checks the size first: the Fisher of a large actor is never formed.
    fn with_fisher(
        n: usize,
        damping: f64,
        max_params: usize,
        fisher: impl FnOnce() -> Result<Array2<f64>>,
    ) -> Result<Self> {
        if n > max_params {
            return Err(usage(format!(
                "cos_to_exact: the actor has {n} parameters, more than cos_to_exact_max_params = {max_params}"
            )));
        }
        let mut f = fisher()?;
        f.diag_mut().iter_mut().for_each(|x| *x += damping);
        let factor = f
            .factorizec(UPLO::Lower)
            .map_err(|e| anyhow!("Cholesky of the exact Fisher: {e}"))?;
        Ok(ExactNatural { factor })
    }

    /// `(F + λI)⁻¹ g`.
    pub fn direction(&self, g: &[f64]) -> Result<Vec<f64>> {
        let x = self
            .factor
            .solvec(&Array1::from(g.to_vec()))
            .map_err(|e| anyhow!("exact solve: {e}"))?;
        Ok(x.to_vec())
    }

    /// Cosine between `d` and the exact natural direction for `g`.
    pub fn cosine(&self, g: &[f64], d: &[f64]) -> Result<f64> {
        let x = self.direction(g)?;
        let denom = norm(&x) * norm(d);
        Ok(if denom > 0.0 { dot(&x, d) / denom } else { 0.0 })
    }
}
