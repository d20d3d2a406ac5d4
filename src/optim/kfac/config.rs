//! The one config of K-FAC, RENG and RING (grng spec §2.8, §3.3): serde with
//! `deny_unknown_fields`; [`KfacConfig::validate`] names the offending key.
//!
//! `Default` is [`KfacConfig::kfac`]. Missing keys take K-FAC's defaults, so a caller that wants
//! RENG's or RING's defaults starts from [`KfacConfig::variant`] and overlays the user's keys.
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

/// Which gradient regularization (spec §2.1) the K-FAC step carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrMode {
    /// Plain K-FAC (§3.3).
    None,
    /// RENG (§2.2): precondition ∇(L + ρ/2‖∇L‖²) = g + ρHg, by double backprop.
    Explicit,
    /// RING (§2.3): damping δ_k = λ0 + ρ‖g‖².
    Implicit,
}

/// Whose norm scales RING's damping (§2.1): all parameters, or each layer its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrNorm {
    Global,
    PerLayer,
}

/// How damping enters the Kronecker inverse (§1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DampingScheme {
    /// (A + π√δ I)⁻¹ and (G + √δ/π I)⁻¹.
    Factored,
    /// (G⊗A + δI)⁻¹ through both eigenbases.
    ExactEigen,
}

/// How factor inverses are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InverseMethod {
    /// Symmetric eigendecomposition in f64 every `t_inv` steps (eigenvalues < 1e-10 zeroed).
    Eigen,
    /// Newton–Schulz damped inverses (§1.4) every `t_inv` steps, matrix-differential updates
    /// when the damping changes in between (§1.5); `damping_scheme: factored` only.
    Newton,
}

/// The kind the per-step products `U = G⁻¹ v A⁻¹` run in. Factors and inverses are f64
/// either way (spec §1.4: factors up to 512 inverted in f64 even when training in f32).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrecondDtype {
    /// The parameters' kind (f32 models: f32 products on the f64 inverses cast once per
    /// refresh or damping), as the reference implementations apply their preconditioners.
    Model,
    /// f64 products on f64 gradients.
    F64,
}

/// Labels of the error backward (§1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FisherKind {
    /// Labels sampled from the model with the optimizer's own RNG.
    True,
    /// The batch's labels.
    Empirical,
}

/// The update of parameters outside K-FAC layers (§2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fallback {
    /// `optim::AdamW` (betas 0.9/0.999, eps 1e-8), decoupled decay of the parameter's group.
    Adamw,
    /// SGD with this config's momentum and coupled decay of the parameter's group.
    SgdMomentum,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KfacConfig {
    /// none (K-FAC) | explicit (RENG) | implicit (RING).
    pub gr: GrMode,
    /// Base learning rate η (a schedule may change it via `set_lr`).
    pub lr: f64,
    /// GR coefficient ρ (ignored when `gr: none`).
    pub rho: f64,
    /// λ: the damping of K-FAC and RENG; λ0, the floor of RING's δ_k = λ0 + ρ‖g‖².
    pub damping: f64,
    pub damping_scheme: DampingScheme,
    pub gr_norm: GrNorm,
    pub inverse: InverseMethod,
    pub precondition_dtype: PrecondDtype,
    /// Most Newton iterations of a warm-started refresh (`inverse: newton`, §1.4 n_newton warm).
    pub newton_warm: u32,
    /// Most Newton iterations from the cold start `I / tr M` (§1.4 n_newton cold).
    pub newton_cold: u32,
    /// EMA decay β_stat of the factors (init I).
    pub stat_decay: f64,
    /// Factor statistics every `t_stat` steps, inverses every `t_inv` steps (§2.5).
    pub t_stat: u64,
    pub t_inv: u64,
    /// KL clip κ (§2.2 step 5); null = off.
    pub kl_clip: Option<f64>,
    pub momentum: f64,
    /// Weight decay that [`super::kfac_groups`] gives the K-FAC group (groups carry the decay).
    pub weight_decay: f64,
    /// θ ← θ(1 − η·wd) instead of adding wd·θ to the preconditioned direction.
    pub decoupled_wd: bool,
    /// Decay only from this step on; null = 20·t_stat (the reference's warm-up, §3.3).
    pub wd_after_steps: Option<u64>,
    pub fisher: FisherKind,
    pub fallback: Fallback,
    /// Fallback learning rate = η·fallback_lr_mult·(group lr_mult).
    pub fallback_lr_mult: f64,
    /// Seed of the label-sampling RNG (ChaCha8).
    pub seed: u64,
}

impl Default for KfacConfig {
    fn default() -> Self {
        KfacConfig::kfac()
    }
}

impl KfacConfig {
    /// K-FAC (§3.3 with the project defaults of §2.8, ρ = 0).
    pub fn kfac() -> Self {
        KfacConfig {
            gr: GrMode::None,
            lr: 0.05,
            rho: 0.0,
            damping: 1e-3,
            damping_scheme: DampingScheme::Factored,
            gr_norm: GrNorm::Global,
            inverse: InverseMethod::Eigen,
            precondition_dtype: PrecondDtype::Model,
            newton_warm: 5,
            newton_cold: 40,
            stat_decay: 0.95,
            t_stat: 10,
            t_inv: 100,
            kl_clip: Some(1e-3),
            momentum: 0.9,
            weight_decay: 3e-3,
            decoupled_wd: false,
            wd_after_steps: None,
            fisher: FisherKind::True,
            fallback: Fallback::Adamw,
            fallback_lr_mult: 0.1,
            seed: 0,
        }
    }

    /// RENG (§2.2): ρ 0.05, λ 1e-3, Newton inverses.
    pub fn reng() -> Self {
        KfacConfig {
            gr: GrMode::Explicit,
            rho: 0.05,
            inverse: InverseMethod::Newton,
            ..KfacConfig::kfac()
        }
    }

    /// RING (§2.3): ρ 0.1, λ0 1e-4, Newton inverses.
    pub fn ring() -> Self {
        KfacConfig {
            gr: GrMode::Implicit,
            rho: 0.1,
            inverse: InverseMethod::Newton,
            damping: 1e-4,
            ..KfacConfig::kfac()
        }
    }

    /// The defaults of a Stepper name: `kfac`, `reng` or `ring`.
    pub fn variant(name: &str) -> Result<Self> {
        Ok(match name {
            "kfac" => KfacConfig::kfac(),
            "reng" => KfacConfig::reng(),
            "ring" => KfacConfig::ring(),
            _ => bail!("unknown K-FAC variant `{name}` (expected kfac, reng or ring)"),
        })
    }

    /// The Stepper name of this config's `gr`.
    pub fn name(&self) -> &'static str {
        match self.gr {
            GrMode::None => "kfac",
            GrMode::Explicit => "reng",
            GrMode::Implicit => "ring",
        }
    }

    /// The Newton–Schulz limits of `inverse: newton` (§1.4 default tolerance).
    pub fn newton_options(&self) -> crate::optim::curvature::NewtonOptions {
        crate::optim::curvature::NewtonOptions {
            max_warm: self.newton_warm,
            max_cold: self.newton_cold,
            tol: None,
        }
    }

    /// The step from which weight decay applies.
    pub fn wd_start(&self) -> u64 {
        // Saturating: t_stat = 2^62 wrapped 20·t_stat to 0, decay from the first step.
        self.wd_after_steps
            .unwrap_or(self.t_stat.saturating_mul(20))
    }

    pub fn validate(&self) -> Result<()> {
        let nonneg = [
            ("lr", self.lr),
            ("rho", self.rho),
            ("momentum", self.momentum),
            ("weight_decay", self.weight_decay),
            ("fallback_lr_mult", self.fallback_lr_mult),
            ("damping", self.damping),
        ];
        for (key, v) in nonneg {
            if !(v.is_finite() && v >= 0.0) {
                bail!("optimizer `{key}` must be a finite number ≥ 0, got {v}");
            }
        }
        if self.momentum >= 1.0 {
            bail!("optimizer `momentum` must be < 1, got {}", self.momentum);
        }
        if !(0.0..1.0).contains(&self.stat_decay) {
            bail!(
                "optimizer `stat_decay` must lie in [0, 1), got {}",
                self.stat_decay
            );
        }
        if self.t_stat == 0 {
            bail!("optimizer `t_stat` must be ≥ 1 (1 = statistics every step)");
        }
        if self.t_inv == 0 {
            bail!("optimizer `t_inv` must be ≥ 1 (1 = inverses every step)");
        }
        if let Some(k) = self.kl_clip {
            if !(k.is_finite() && k > 0.0) {
                bail!("optimizer `kl_clip` must be > 0 (or null for off), got {k}");
            }
        }
        if self.inverse == InverseMethod::Newton {
            if self.damping_scheme != DampingScheme::Factored {
                bail!(
                    "optimizer `inverse: newton` needs `damping_scheme: factored` (exact_eigen \
                     damping needs `inverse: eigen`)"
                );
            }
            if self.newton_cold == 0 {
                bail!("optimizer `newton_cold` must be ≥ 1");
            }
            if self.damping == 0.0 {
                bail!("optimizer `damping` must be > 0 with `inverse: newton`");
            }
        }
        if self.gr == GrMode::Implicit && self.damping == 0.0 && self.rho == 0.0 {
            bail!("optimizer `damping` (RING's floor λ0) must be > 0 when `rho` is 0");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_rejects_bad_keys() {
        let c: KfacConfig =
            serde_yaml_ng::from_str("gr: implicit\ngr_norm: per_layer\nkl_clip: null\n").unwrap();
        assert_eq!(c.gr, GrMode::Implicit);
        assert_eq!(c.gr_norm, GrNorm::PerLayer);
        assert_eq!(c.kl_clip, None);
        assert_eq!(c.name(), "ring");
        assert!(serde_yaml_ng::from_str::<KfacConfig>("t_cov: 3\n").is_err());
        let bad = KfacConfig {
            stat_decay: 1.0,
            ..KfacConfig::ring()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("stat_decay"));
        assert_eq!(KfacConfig::variant("reng").unwrap(), KfacConfig::reng());
        assert!(KfacConfig::variant("adam").is_err());
        assert_eq!(KfacConfig::kfac().wd_start(), 200);
    }

    #[test]
    fn a_huge_t_stat_does_not_wrap_the_weight_decay_start_to_zero() {
        let rare = KfacConfig {
            t_stat: 1 << 62,
            ..KfacConfig::kfac()
        };
        assert_eq!(rare.wd_start(), u64::MAX);
    }
}
