//! Diagnostic `cos_to_exact` (spec §3.8): for tiny categorical actors, the exact damped
//! Fisher over a batch, `(1/N) Σᵢ Σₐ π(a|sᵢ) u(sᵢ,a)u(sᵢ,a)ᵀ + λI`, factorised by Cholesky;
//! SMAC's `d` is compared by cosine with the exact natural direction `(F + λI)⁻¹ g`.
use super::backend::Policy;
use super::config::{Algo, NpgConfig};
use super::policy::{Actor, DistKind};
use super::rank1::{dot, norm};
use crate::error::usage;
use crate::rl::Space;
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

/// The config key that bounds the actors an exact Fisher is formed for, and its value.
#[derive(Clone, Copy, Debug)]
pub struct FisherLimit {
    pub key: &'static str,
    pub max_params: usize,
}

/// Bytes an exact Fisher takes at its peak: the weighted score matrix (`rows · actions × n`)
/// and `F` itself (`n × n`), f64.
fn fisher_bytes(score_rows: usize, n: usize) -> f64 {
    8.0 * (score_rows as f64 * n as f64 + (n as f64) * (n as f64))
}

/// Refuses (exit 2) what no exact Fisher can serve: a continuous action space, an actor above
/// the key's parameter limit, or a Fisher larger than the memory this process may still take.
pub fn check(n: usize, score_rows: usize, limit: FisherLimit, what: &str) -> Result<()> {
    let FisherLimit { key, max_params } = limit;
    if n > max_params {
        return Err(usage(format!(
            "{what}: the actor has {n} parameters, more than {key} = {max_params}; shrink \
             `hidden` or raise `{key}` (the exact Fisher is n × n)"
        )));
    }
    let need = fisher_bytes(score_rows, n);
    match crate::device::memory::available() {
        Some(avail) if need > avail => Err(usage(format!(
            "{what}: the exact Fisher of the {n}-parameter actor over {score_rows} score rows \
             needs about {} but only {} is available; shrink `hidden` or lower `{key}` below {n}",
            crate::study::memory::show(need),
            crate::study::memory::show(avail)
        ))),
        _ => Ok(()),
    }
}

/// Checked when the trainer is built, before the first rollout: `algo.kind: npg-exact` forms
/// the exact Fisher of every minibatch, `cos_to_exact_every` that of the whole batch.
pub fn preflight(cfg: &NpgConfig, n: usize, space: &Space) -> Result<()> {
    let (rows, limit, what) = match &cfg.algo {
        Algo::NpgExact { max_params, .. } => (
            cfg.batch_size().div_ceil(cfg.minibatches),
            FisherLimit {
                key: "algo.max_params",
                max_params: *max_params,
            },
            "algo.kind = npg-exact",
        ),
        _ if cfg.cos_to_exact_every > 0 => (
            cfg.batch_size(),
            FisherLimit {
                key: "cos_to_exact_max_params",
                max_params: cfg.cos_to_exact_max_params,
            },
            "cos_to_exact_every",
        ),
        _ => return Ok(()),
    };
    let Space::Discrete(actions) = space else {
        return Err(usage(format!(
            "{what} needs a discrete action space (the exact Fisher sums over actions, spec \
             §3.8); `{}` has a continuous one",
            cfg.env.id
        )));
    };
    check(n, rows * actions, limit, what)
}

impl ExactNatural {
    /// The torch actor's exact Fisher over the states `obs`.
    pub fn new(actor: &Actor, obs: &Tensor, damping: f64, limit: FisherLimit) -> Result<Self> {
        let rows = obs.size()[0] as usize * actor.mlp.sizes.last().map_or(1, |&a| a as usize);
        Self::with_fisher(actor.params.numel(), rows, damping, limit, || {
            exact_fisher(actor, obs)
        })
    }

    /// Either backend's exact Fisher over a batch's states.
    pub fn of<P: Policy>(
        actor: &P,
        b: &P::Batch,
        damping: f64,
        limit: FisherLimit,
    ) -> Result<Self> {
        let rows = P::rows(b) * actor.mlp_sizes().last().copied().unwrap_or(1);
        Self::with_fisher(actor.numel(), rows, damping, limit, || {
            actor.exact_fisher(b)
        })
    }

    /// Checks the size first: the Fisher of a large actor is never formed.
    fn with_fisher(
        n: usize,
        score_rows: usize,
        damping: f64,
        limit: FisherLimit,
        fisher: impl FnOnce() -> Result<Array2<f64>>,
    ) -> Result<Self> {
        check(n, score_rows, limit, "the exact Fisher")?;
        let mut f = fisher()?;
        let top = f.diag().iter().fold(0.0f64, |m, &x| m.max(x));
        f.diag_mut().iter_mut().for_each(|x| *x += damping);
        let factor = f.factorizec(UPLO::Lower).map_err(|e| {
            let why = match f.iter().all(|x| x.is_finite()) {
                false => "it holds non-finite entries (the policy's scores overflowed)".to_string(),
                true => format!(
                    "the Fisher of {n} parameters from {score_rows} score rows has rank at most \
                     {}, and algo.damping = {damping:e} does not make it positive definite in \
                     f64 next to its largest diagonal entry {top:.3e}: raise algo.damping (at \
                     least about 1e-10 × that entry)",
                    n.min(score_rows)
                ),
            };
            anyhow!("Cholesky of the exact Fisher + algo.damping·I failed ({e}): {why}")
        })?;
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
