//! The toy's config (serde, `deny_unknown_fields`): problem size, method and its step size,
//! GR coefficient, damping floor, seed and stopping rules (spec §6.2 `twolayer-toy`, §6.10).
use super::data::Targets;
use crate::error::usage;
use anyhow::Result;
use serde::{Deserialize, Serialize};

/// The update rule; every one is Δw = −Jᵀ v with v a spectral filter of JJᵀ applied to the
/// residual (see [`super::methods`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToyMethod {
    /// Gradient descent Δw = −η Jᵀ r (default η = 1/λ_max(JJᵀ) at the initial weights).
    Gd,
    /// Damped minimum-norm natural gradient Δw = −η Jᵀ (JJᵀ + λ0 I)⁻¹ r (§6.10).
    Ngd,
    /// RING: NGD with damping λ_k = λ0 + ρ‖∇L‖², ‖∇L‖² = rᵀJJᵀr (§2.3, §4).
    Ring,
    /// RENG with the exact preconditioner: Δw = −η Jᵀ (JJᵀ + λ0 I)⁻¹ (I + ρJJᵀ) r (§2.2, §4).
    Reng,
}

impl ToyMethod {
    pub fn name(self) -> &'static str {
        match self {
            ToyMethod::Gd => "gd",
            ToyMethod::Ngd => "ngd",
            ToyMethod::Ring => "ring",
            ToyMethod::Reng => "reng",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ToyConfig {
    /// Number of training inputs (on the unit sphere in R^d).
    pub n: usize,
    /// Input dimension.
    pub d: usize,
    /// Hidden width M (the trained weights are M × d).
    pub width: usize,
    /// Maximum number of update steps.
    pub steps: usize,
    pub method: ToyMethod,
    /// Step size; None: 1/λ_max(JJᵀ) at the initial weights for `gd`, 1 otherwise.
    pub eta: Option<f64>,
    /// GR coefficient ρ (`ring`, `reng`; ignored by `gd`, `ngd`).
    pub rho: f64,
    /// Damping floor λ0 (`ngd`, `ring`, `reng`). 0 gives the undamped minimum-norm step.
    pub lambda0: f64,
    /// Seed of the ChaCha8 RNG that draws inputs, targets, weights and output signs.
    pub seed: u64,
    /// Stop once the loss ½‖u − y‖² is at or below this.
    pub stop_loss: f64,
    /// Declare divergence (and stop) once the loss exceeds this multiple of the initial loss.
    pub divergence_factor: f64,
    /// N(0,1) targets (§6.10, the default) or a random teacher network's outputs (§6.1).
    pub targets: Targets,
    /// Hidden width of the teacher (`targets: teacher`).
    pub teacher_width: usize,
}

impl Default for ToyConfig {
    fn default() -> Self {
        ToyConfig {
            n: 16,
            d: 8,
            width: 2048,
            steps: 200,
            method: ToyMethod::Ngd,
            eta: None,
            rho: 0.0,
            lambda0: 0.0,
            seed: 0,
            stop_loss: 1e-8,
            divergence_factor: 1e6,
            targets: Targets::Gaussian,
            teacher_width: 256,
        }
    }
}

/// The toy's size limits, as the refusal states them: the Jacobian is n × width·d f64 entries
/// (2 GiB at 2^28) and every step eigendecomposes the n × n matrix JJᵀ.
const SIZES: &str = "n at most 4096, n·width·d and teacher_width·d at most 2^28";
const MAX_N: usize = 4096;
const MAX_ENTRIES: usize = 1 << 28;

impl ToyConfig {
    /// The first size past [`SIZES`]: (key, what it is), so a typo is refused instead of
    /// ending in a failed allocation.
    fn too_big(&self) -> Option<(&'static str, String)> {
        let entries = |a: usize, b: usize, c: usize| {
            a.checked_mul(b)
                .and_then(|x| x.checked_mul(c))
                .is_some_and(|x| x <= MAX_ENTRIES)
        };
        if self.n > MAX_N {
            return Some(("n", self.n.to_string()));
        }
        if !entries(self.n, self.width, self.d) {
            let got = format!("n {} x width {} x d {}", self.n, self.width, self.d);
            return Some(("width", got));
        }
        let teacher = self.targets == Targets::Teacher;
        if teacher && !entries(1, self.teacher_width, self.d) {
            let got = format!("teacher_width {} x d {}", self.teacher_width, self.d);
            return Some(("teacher_width", got));
        }
        None
    }

    /// Check every key; the error names the offending one (a usage error: exit code 2).
    pub fn validate(&self) -> Result<()> {
        let bad = |key: &str, want: &str, got: String| {
            Err(usage(format!(
                "twolayer-toy: `{key}` must be {want}, got {got}"
            )))
        };
        if self.n == 0 {
            return bad("n", "≥ 1", self.n.to_string());
        }
        if self.d < 2 {
            return bad(
                "d",
                "≥ 2 (inputs lie on the unit sphere)",
                self.d.to_string(),
            );
        }
        if self.width == 0 {
            return bad("width", "≥ 1", self.width.to_string());
        }
        if self.targets == Targets::Teacher && self.teacher_width == 0 {
            return bad("teacher_width", "≥ 1", "0".into());
        }
        if let Some((key, got)) = self.too_big() {
            return bad(key, &format!("within the toy's sizes ({SIZES})"), got);
        }
        if self.steps == 0 {
            return bad("steps", "≥ 1", self.steps.to_string());
        }
        if let Some(eta) = self.eta {
            if !(eta.is_finite() && eta > 0.0) {
                return bad("eta", "a finite number > 0 (or absent)", eta.to_string());
            }
        }
        let nonneg = [
            ("rho", self.rho),
            ("lambda0", self.lambda0),
            ("stop_loss", self.stop_loss),
        ];
        for (key, v) in nonneg {
            if !(v.is_finite() && v >= 0.0) {
                return bad(key, "a finite number ≥ 0", v.to_string());
            }
        }
        let f = self.divergence_factor;
        if !(f.is_finite() && f > 1.0) {
            return bad("divergence_factor", "a finite number > 1", f.to_string());
        }
        Ok(())
    }
}
