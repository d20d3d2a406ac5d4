//! `RKalmanConfig`: the hyperparameters of R-Kalman (grng spec §2.4, defaults §2.8).
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

/// The update of parameters outside the preconditioned linear layers (`cov: kron`, §2.6):
/// the same names as K-FAC's `fallback` key.
pub use crate::optim::kfac::Fallback;

/// KL-clip bound of `cov: kron` when `kl_clip` is unset (§2.8).
pub const DEFAULT_KL_CLIP: f64 = 1e-3;

/// Where the gradient regularization (GR) enters (§2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrMode {
    /// ρ‖g‖² I added to the precision (matrix-differential step on P).
    Implicit,
    /// Mean step along g_G = ∇(L + ρ/2‖∇L‖²) (double backprop).
    Explicit,
    /// Both of the above.
    Both,
}

impl GrMode {
    pub fn implicit(self) -> bool {
        matches!(self, GrMode::Implicit | GrMode::Both)
    }
    pub fn explicit(self) -> bool {
        matches!(self, GrMode::Explicit | GrMode::Both)
    }
}

/// What the measurement update adds to the precision (§2.4 step 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObsMode {
    /// Per-example scores of labels sampled from the model (one-sample true Fisher).
    SampledScore,
    /// Jacobian of the mean output with its covariance R (exact expected Fisher).
    Jacobian,
}

/// The kind the batch statistics of `cov: kron` are computed in: the rows of a layer's inputs
/// and errors and, when a batch has more rows than a factor has columns, their Gram xᵀx. The
/// factors P_A, P_G, their Woodbury systems (fewer rows than columns) and the mean step are f64
/// either way (spec §1.4, §7: factors and inverses in f64 even when training in f32).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatsDtype {
    /// The model's kind: an f32 model's Gram is an f32 product of its own f32 rows, then cast
    /// (as K-FAC implementations compute their factors' batch statistics); half-precision rows
    /// are widened to f32, f64 rows stay f64.
    Model,
    /// Rows cast to f64 and an f64 Gram.
    F64,
}

/// Structure of the covariance P.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CovForm {
    /// One d×d matrix over all parameters (models up to [`super::MAX_DENSE_PARAMS`]).
    Dense,
    /// Per-layer Kronecker factors P_G ⊗ P_A (any size).
    Kron,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RKalmanConfig {
    /// η, the mean-step scale (effective natural-gradient rate η·τ·(1−β)).
    pub lr: f64,
    /// ρ, the GR coefficient.
    pub rho: f64,
    /// β ∈ (0, 1], the forgetting factor (predict step P ← P/β).
    pub beta: f64,
    /// σ0², the prior variance (P_0 = σ0² I).
    pub sigma0_sq: f64,
    /// τ > 0, the observation noise scale.
    pub tau: f64,
    pub gr_mode: GrMode,
    pub obs: ObsMode,
    pub cov: CovForm,
    /// KL-clip bound κ on the mean step (§2.2 step 5); unset = off for dense and 1e-3 for
    /// kron; 0 = off.
    pub kl_clip: Option<f64>,
    /// Optimizer of the parameters outside the captured linear layers that own their weight
    /// (norms, embeddings, a tied head, positional tables; `cov: kron` only, §2.6):
    /// `adamw` (betas 0.9/0.999, eps 1e-8, no decay) or `sgd_momentum` (momentum 0.9).
    pub fallback: Fallback,
    /// The fallback's absolute learning rate (it follows η's schedule as fallback_lr·η/η₀);
    /// unset = 1e-3 for `adamw`, 0.05 for `sgd_momentum`. (K-FAC's is relative,
    /// `fallback_lr_mult`, but R-Kalman's η ≈ 1 is not on a first-order scale.)
    pub fallback_lr: Option<f64>,
    /// T_stat of `cov: kron` (§2.5: "every step (or every T_stat)"): the factors take the
    /// batch's statistics (and the sampled-label backward runs) on steps k ≡ 0 mod t_stat; the
    /// steps between reuse them, and the GR damping and the mean step still run every step.
    /// 1 (the spec's default) = every step; `cov: dense` takes 1 only.
    pub t_stat: u64,
    /// The kind of the batch statistics (`cov: kron`; see [`StatsDtype`]).
    pub stats_dtype: StatsDtype,
    /// Seed of the optimizer's own label-sampling RNG.
    pub seed: u64,
}

impl Default for RKalmanConfig {
    fn default() -> Self {
        RKalmanConfig {
            lr: 1.0,
            rho: 0.1,
            beta: 0.99,
            sigma0_sq: 1.0,
            tau: 1.0,
            gr_mode: GrMode::Implicit,
            obs: ObsMode::SampledScore,
            cov: CovForm::Dense,
            kl_clip: None,
            fallback: Fallback::Adamw,
            fallback_lr: None,
            t_stat: 1,
            stats_dtype: StatsDtype::Model,
            seed: 0,
        }
    }
}

impl RKalmanConfig {
    /// Refuse values outside their domain; errors name the key.
    pub fn validate(&self) -> Result<()> {
        let positive = [
            ("lr", self.lr),
            ("sigma0_sq", self.sigma0_sq),
            ("tau", self.tau),
        ];
        for (key, v) in positive {
            if !(v.is_finite() && v > 0.0) {
                bail!("rkalman: `{key}` must be a finite number > 0, got {v}");
            }
        }
        if !(self.rho.is_finite() && self.rho >= 0.0) {
            bail!(
                "rkalman: `rho` must be a finite number >= 0, got {}",
                self.rho
            );
        }
        if !(self.beta > 0.0 && self.beta <= 1.0) {
            bail!("rkalman: `beta` must be in (0, 1], got {}", self.beta);
        }
        if let Some(k) = self.kl_clip {
            if !(k.is_finite() && k >= 0.0) {
                bail!("rkalman: `kl_clip` must be a finite number >= 0 (0 = off), got {k}");
            }
        }
        if let Some(lr) = self.fallback_lr {
            if !(lr.is_finite() && lr > 0.0) {
                bail!("rkalman: `fallback_lr` must be a finite number > 0, got {lr}");
            }
        }
        if self.t_stat == 0 {
            bail!("rkalman: `t_stat` must be >= 1 (1 = the statistics of every step), got 0");
        }
        if self.cov == CovForm::Dense && self.t_stat != 1 {
            bail!(
                "rkalman: `t_stat: {}` exists for `cov: kron` only (the dense filter takes every \
                 step's measurement; set t_stat: 1 or cov: kron)",
                self.t_stat
            );
        }
        if self.cov == CovForm::Kron && self.obs == ObsMode::Jacobian {
            bail!("rkalman: `obs: jacobian` exists for `cov: dense` only");
        }
        Ok(())
    }

    /// The fallback's learning rate at η = η₀ (the configured `lr`).
    pub fn fallback_base_lr(&self) -> f64 {
        self.fallback_lr.unwrap_or(match self.fallback {
            Fallback::Adamw => 1e-3,
            Fallback::SgdMomentum => 0.05,
        })
    }

    /// The KL-clip bound in force: `None` when off.
    pub fn kl_clip_bound(&self) -> Option<f64> {
        match (self.kl_clip, self.cov) {
            (None, CovForm::Dense) => None,
            (None, CovForm::Kron) => Some(DEFAULT_KL_CLIP),
            (Some(k), _) => (k > 0.0).then_some(k),
        }
    }
}
