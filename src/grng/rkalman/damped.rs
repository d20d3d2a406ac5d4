//! Implicit GR of one Kronecker factor (grng spec §2.4 step 2): the damped covariance
//! `P̃ ≈ (P⁻¹ + δI)⁻¹`, kept as an operator on the layer's gradient instead of a k×k matrix.
//! The mean step needs only `P̃_G V P̃_A`, so each form is applied to V `(d_out, k)` directly:
//!
//! * first order `P − δP²` (§1.5) while δ·‖P‖ ≤ [`GUARD`]: `xP − δ(xP)P`, two products of x's
//!   size where forming P² costs k³;
//! * exact `(P⁻¹ + δI)⁻¹ = P(I + δP)⁻¹` past the guard: one Cholesky factorization of the SPD
//!   `M = I + δP` (k³/3) and a triangular solve against `(xP)ᵀ`, where forming `M⁻¹P` solved
//!   against all k columns of P (2k³: for the 513-wide input factor of cnn-shapes' FC(512→64)
//!   that was most of an R-Kalman step);
//! * Newton (§1.4, [`implicit_gr`]) only if that factorization fails, as a matrix.
use super::dense::{implicit_gr, GUARD};
use super::kron::Factor;
use tch::Tensor;

/// The damped factor `P̃` as an operator (see the module doc). P̃ is symmetric, so `P̃x =
/// (xᵀP̃)ᵀ`.
pub enum Damped {
    /// P̃ as a matrix: P itself (δ = 0) or the Newton result.
    Matrix(Tensor),
    /// `P − δP²`.
    FirstOrder { p: Tensor, delta: f64 },
    /// `P (I + δP)⁻¹`, with `l` the lower Cholesky factor of `I + δP`.
    Exact { p: Tensor, l: Tensor },
}

impl Damped {
    /// `x P̃` for x `(r, k)`.
    pub fn right(&self, x: &Tensor) -> Tensor {
        match self {
            Damped::Matrix(p) => x.matmul(p),
            Damped::FirstOrder { p, delta } => {
                let xp = x.matmul(p); // (r, k)
                &xp - xp.matmul(p) * *delta
            }
            Damped::Exact { p, l } => {
                // (xP) M⁻¹ = (M⁻¹ (xP)ᵀ)ᵀ, M symmetric and commuting with P.
                let xp_t = x.matmul(p).transpose(0, 1); // (k, r)
                xp_t.cholesky_solve(l, false).transpose(0, 1)
            }
        }
    }

    /// `P̃ x` for x `(k, c)`.
    pub fn left(&self, x: &Tensor) -> Tensor {
        self.right(&x.transpose(0, 1)).transpose(0, 1)
    }

    /// P̃ as a `(k, k)` matrix (tests and diagnostics; the step never forms it).
    pub fn dense(&self) -> Tensor {
        let p = match self {
            Damped::Matrix(p) | Damped::FirstOrder { p, .. } | Damped::Exact { p, .. } => p,
        };
        self.right(&Tensor::eye(p.size()[0], (p.kind(), p.device())))
    }
}

/// What [`damp_factor`] did.
pub struct DampedFactor {
    pub op: Damped,
    /// The guard failed (exact form, or Newton).
    pub fallback: bool,
    /// Newton iterations and final residual (0 unless Newton ran).
    pub newton_iters: u32,
    pub newton_resid: f64,
}

/// Implicit GR of the factor `f` by δ (see the module doc).
pub fn damp_factor(f: &Factor, delta: f64) -> DampedFactor {
    let p = &f.p;
    let plain = |op| DampedFactor {
        op,
        fallback: false,
        newton_iters: 0,
        newton_resid: 0.0,
    };
    if delta == 0.0 {
        return plain(Damped::Matrix(p.shallow_clone()));
    }
    if delta * f.bound() <= GUARD {
        return plain(Damped::FirstOrder {
            p: p.shallow_clone(),
            delta,
        });
    }
    let k = p.size()[0];
    let m = Tensor::eye(k, (p.kind(), p.device())) + p * delta; // (k, k) SPD
    let (l, info) = m.linalg_cholesky_ex(false, false);
    if info.int64_value(&[]) == 0 {
        return DampedFactor {
            op: Damped::Exact {
                p: p.shallow_clone(),
                l,
            },
            fallback: true,
            newton_iters: 0,
            newton_resid: 0.0,
        };
    }
    let gr = implicit_gr(p, delta);
    DampedFactor {
        op: Damped::Matrix(gr.p),
        fallback: gr.fallback,
        newton_iters: gr.newton_iters,
        newton_resid: gr.newton_resid,
    }
}
