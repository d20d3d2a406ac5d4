//! The four update rules as spectral filters of K = J Jᵀ (spec §4, §6.10).
//!
//! Every method steps Δw = −Jᵀ v with v = η Q diag(φ(σ_i)) Qᵀ r, where K = Q diag(σ) Qᵀ and
//! r = u − y. In the linearized dynamics u_{k+1} − y ≈ r + J Δw = (I − η K Q φ Qᵀ) r, so the
//! residual's i-th eigen-component contracts by c_i = 1 − η σ_i φ(σ_i):
//!
//! | method | φ(σ)                 | c_i                                |
//! |--------|----------------------|------------------------------------|
//! | gd     | 1                    | 1 − η σ_i                          |
//! | ngd    | 1/(σ + λ0)           | 1 − η σ_i/(σ_i + λ0)               |
//! | ring   | 1/(σ + λ_k)          | 1 − η σ_i/(σ_i + λ_k), λ_k = λ0 + ρ rᵀKr |
//! | reng   | (1 + ρσ)/(σ + λ0)    | 1 − η (1 + ρσ_i) σ_i/(σ_i + λ0)    |
use super::config::ToyMethod;
use anyhow::Result;
use ndarray::{Array1, Array2};
use ndarray_linalg::{Eigh, UPLO};

/// Eigen-decomposition of the symmetric K = J Jᵀ: `sigma` ascending, `q` (n, n) columns.
#[derive(Debug, Clone)]
pub struct Spectrum {
    pub sigma: Array1<f64>,
    pub q: Array2<f64>,
}

impl Spectrum {
    pub fn of(k: &Array2<f64>) -> Result<Spectrum> {
        let (sigma, q) = k.eigh(UPLO::Lower)?;
        Ok(Spectrum { sigma, q })
    }

    pub fn max(&self) -> f64 {
        self.sigma[self.sigma.len() - 1]
    }

    pub fn min(&self) -> f64 {
        self.sigma[0]
    }

    /// Components Qᵀ v of a vector in this eigenbasis.
    pub fn project(&self, v: &Array1<f64>) -> Array1<f64> {
        self.q.t().dot(v)
    }
}

/// One step's filter: the damping λ_k it used and φ(σ_i) for every eigenvalue.
#[derive(Debug, Clone)]
pub struct Filter {
    pub lambda: f64,
    pub phi: Array1<f64>,
}

/// The damping of step k: λ0 for ngd/reng, λ0 + ρ‖∇L‖² for ring (§2.3), 0 for gd.
pub fn damping(method: ToyMethod, lambda0: f64, rho: f64, grad_norm_sq: f64) -> f64 {
    match method {
        ToyMethod::Gd => 0.0,
        ToyMethod::Ngd | ToyMethod::Reng => lambda0,
        ToyMethod::Ring => lambda0 + rho * grad_norm_sq,
    }
}

/// A preconditioned step met a (numerically) singular J Jᵀ + λI.
#[derive(Debug, Clone, PartialEq)]
pub struct Singular {
    pub sigma_min: f64,
    pub sigma_max: f64,
    pub lambda: f64,
}

impl std::fmt::Display for Singular {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "twolayer-toy: J Jᵀ is singular (σ_min = {:.3e}, σ_max = {:.3e}) and the damping is \
             {:.3e}; the minimum-norm step needs n ≤ width·d inputs, no two parallel, or set \
             `lambda0` > 0",
            self.sigma_min, self.sigma_max, self.lambda
        )
    }
}
impl std::error::Error for Singular {}

/// φ(σ_i) for `method` at damping `lambda` (table in the module doc), or [`Singular`] when a
/// preconditioned method would divide by a (numerically) zero σ_i + λ.
pub fn filter(
    method: ToyMethod,
    spec: &Spectrum,
    lambda: f64,
    rho: f64,
) -> Result<Filter, Singular> {
    if method != ToyMethod::Gd && spec.min() + lambda <= 1e-12 * spec.max().max(1.0) {
        let (sigma_min, sigma_max) = (spec.min(), spec.max());
        return Err(Singular {
            sigma_min,
            sigma_max,
            lambda,
        });
    }
    let phi = spec.sigma.mapv(|s| match method {
        ToyMethod::Gd => 1.0,
        ToyMethod::Ngd | ToyMethod::Ring => 1.0 / (s + lambda),
        ToyMethod::Reng => (1.0 + rho * s) / (s + lambda),
    });
    Ok(Filter { lambda, phi })
}

/// The linearized per-component contraction c_i = 1 − η σ_i φ(σ_i).
pub fn contraction(spec: &Spectrum, filter: &Filter, eta: f64) -> Array1<f64> {
    1.0 - eta * &spec.sigma * &filter.phi
}

/// The coefficients v (n) of the step Δw = −Jᵀ v: v = η Q diag(φ) Qᵀ r.
pub fn step_coefficients(
    spec: &Spectrum,
    filter: &Filter,
    eta: f64,
    r: &Array1<f64>,
) -> Array1<f64> {
    let comps = spec.project(r) * &filter.phi * eta;
    spec.q.dot(&comps)
}
