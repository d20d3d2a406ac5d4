//! Factor inverses and the preconditioned direction U = G⁻¹ ∇W A⁻¹ (grng spec §1.2, §1.3).
//!
//! [`Inverses`] is what a refresh every `t_inv` steps produces; its variant is the inverse
//! method. `Eigen` keeps both factors' eigenpairs (f64, eigenvalues < 1e-10 zeroed), so the
//! damped inverse `(M + δI)⁻¹ = Q diag(1/(d + δ)) Qᵀ` is exact for *any* δ at the cost of two
//! products: RING's per-step damping needs no re-inversion.
use super::config::{DampingScheme, InverseMethod};
use anyhow::{Context, Result};
use tch::{Kind, Tensor};

/// Eigenvalues below this are set to 0 (alecwangcq/KFAC-Pytorch).
pub const EIG_FLOOR: f64 = 1e-10;

/// A symmetric matrix's eigenpairs: `M = Q diag(d) Qᵀ`, f64.
#[derive(Debug)]
pub struct Eigh {
    pub q: Tensor,
    pub d: Tensor,
}

impl Eigh {
    /// Eigendecomposition of ½(M + Mᵀ) in f64; eigenvalues below [`EIG_FLOOR`] become 0.
    pub fn of(m: &Tensor) -> Result<Eigh> {
        let m = m.to_kind(Kind::Double);
        let sym = (&m + m.transpose(0, 1)) * 0.5;
        let (d, q) = sym
            .f_linalg_eigh("L")
            .context("K-FAC factor eigendecomposition")?;
        let d = &d * d.ge(EIG_FLOOR).to_kind(Kind::Double);
        Ok(Eigh { q, d })
    }

    /// tr(M) / dim, from the (floored) eigenvalues.
    pub fn mean_eigenvalue(&self) -> f64 {
        self.d.mean(Kind::Double).double_value(&[])
    }
}

/// A layer's factor inverses, by method.
#[derive(Debug)]
pub enum Inverses {
    Eigen { a: Eigh, g: Eigh },
}

impl Inverses {
    /// Refresh from the current factors A `(cols, cols)` and G `(d_out, d_out)`.
    pub fn compute(method: InverseMethod, a: &Tensor, g: &Tensor) -> Result<Inverses> {
        match method {
            InverseMethod::Eigen => Ok(Inverses::Eigen {
                a: Eigh::of(a)?,
                g: Eigh::of(g)?,
            }),
        }
    }

    /// π = sqrt((tr A / dim A) / (tr G / dim G)), 1 when either trace is ~0 (§1.3).
    pub fn pi(&self) -> f64 {
        match self {
            Inverses::Eigen { a, g } => split_ratio(a.mean_eigenvalue(), g.mean_eigenvalue()),
        }
    }

    /// U for the layer gradient `v` `(d_out, cols)` f64 and damping δ:
    /// factored: (G + √δ/π I)⁻¹ v (A + π√δ I)⁻¹; exact_eigen: (G⊗A + δI)⁻¹ vec_r(v).
    pub fn precondition(&self, v: &Tensor, delta: f64, scheme: DampingScheme) -> Tensor {
        match self {
            Inverses::Eigen { a, g } => {
                let inner = g.q.transpose(0, 1).matmul(v).matmul(&a.q); // (d_out, cols)
                let denom = match scheme {
                    DampingScheme::Factored => {
                        let (da, dg) = factored_split(delta, self.pi());
                        (&g.d + dg).unsqueeze(1) * (&a.d + da).unsqueeze(0)
                    }
                    DampingScheme::ExactEigen => g.d.unsqueeze(1) * a.d.unsqueeze(0) + delta,
                };
                g.q.matmul(&(inner / denom)).matmul(&a.q.transpose(0, 1))
            }
        }
    }

    /// Named tensors for the optimizer state (slot, tensor).
    pub fn tensors(&self) -> Vec<(&'static str, Tensor)> {
        match self {
            Inverses::Eigen { a, g } => vec![
                ("kfac.a_vecs", a.q.copy()),
                ("kfac.a_vals", a.d.copy()),
                ("kfac.g_vecs", g.q.copy()),
                ("kfac.g_vals", g.d.copy()),
            ],
        }
    }

    /// The slots [`Inverses::tensors`] writes for `method`.
    pub fn slots(method: InverseMethod) -> &'static [&'static str] {
        match method {
            InverseMethod::Eigen => &["kfac.a_vecs", "kfac.a_vals", "kfac.g_vecs", "kfac.g_vals"],
        }
    }

    /// Rebuild from tensors in the order of [`Inverses::slots`] (f64 on `like`'s device).
    pub fn from_tensors(method: InverseMethod, t: &[&Tensor], like: &Tensor) -> Inverses {
        let f = |x: &Tensor| x.to_device(like.device()).to_kind(Kind::Double);
        match method {
            InverseMethod::Eigen => Inverses::Eigen {
                a: Eigh {
                    q: f(t[0]),
                    d: f(t[1]),
                },
                g: Eigh {
                    q: f(t[2]),
                    d: f(t[3]),
                },
            },
        }
    }
}

/// π from the mean eigenvalues (traces over dims) of A and G; 1 if either is ~0.
pub fn split_ratio(mean_a: f64, mean_g: f64) -> f64 {
    if mean_a <= 1e-30 || mean_g <= 1e-30 {
        1.0
    } else {
        (mean_a / mean_g).sqrt()
    }
}

/// (δ_A, δ_G) = (π√δ, √δ/π) (§1.3 factored).
pub fn factored_split(delta: f64, pi: f64) -> (f64, f64) {
    let s = delta.sqrt();
    (pi * s, s / pi)
}
