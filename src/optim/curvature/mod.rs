//! Curvature linear algebra shared by the GRNG optimizers (grng spec §1.3–§1.5, §6.12): damped
//! inverses of Kronecker factors by Newton–Schulz iteration, their update when only the damping
//! changes (matrix differential), the two damping schemes, and a power-iteration norm estimate.
//! Pure tensor functions: no optimizer state lives here.
//!
//! Reading order:
//! 1. this file: [`symmetrize`], [`has_nonfinite`] and the f64 policy ([`work_kind`]).
//! 2. [`newton`]: [`damped_inverse`] — Newton–Schulz `X ← X(2I − MX)` with warm start,
//!    stagnation/divergence detection, one cold restart and a Cholesky fallback (§1.4).
//! 3. [`shift`]: [`shift_damping`] — `(M + δ'I)⁻¹` from `(M + δI)⁻¹` without re-inverting (§1.5),
//!    and the implicit first-order form applied to a gradient (§2.3 note).
//! 4. [`power`]: [`spectral_norm`], used by the §1.5 validity guard.
//! 5. [`damping`]: the factored split `(π√λ, √λ/π)` and exact-eigen preconditioning (§1.3).
//!
//! Convention (§1.2): weights are `(d_out, d_in)` and flattened row-major, so a layer's Fisher
//! block is `G ⊗ A` and the preconditioned gradient is `G⁻¹ ∇W A⁻¹`.
pub mod damping;
pub mod newton;
pub mod power;
pub mod shift;

pub use damping::{eigen_precondition, factored_precondition, factored_split};
pub use newton::{
    cholesky_fallbacks, damped_inverse, damped_inverse_in, newton_refine, Inverse, InverseRoute,
    NewtonOptions,
};
pub use power::spectral_norm;
pub use shift::{shift_damping, shift_guard, shifted_precondition, ShiftOrder};

use tch::{Kind, Tensor};

/// Factors up to this size are inverted in f64 even when they are stored in f32 (§1.4 [A]).
pub const F64_MAX_DIM: i64 = 512;

/// `½(M + Mᵀ)` of a square matrix `(d, d)`.
pub fn symmetrize(m: &Tensor) -> Tensor {
    (m + m.transpose(0, 1)) * 0.5
}

/// True when any entry of `t` is NaN or ±∞ (callers skip the step and raise damping, §7).
pub fn has_nonfinite(t: &Tensor) -> bool {
    if t.numel() == 0 {
        return false;
    }
    tch::no_grad(|| t.isfinite().all().int64_value(&[])) == 0
}

/// The kind in which a `(d, d)` factor of kind `kind` is inverted: f64 up to [`F64_MAX_DIM`],
/// else its own kind (f32 at least: half precision is never used for inverses).
pub fn work_kind(kind: Kind, d: i64) -> Kind {
    if d <= F64_MAX_DIM || kind == Kind::Double {
        Kind::Double
    } else {
        Kind::Float
    }
}

/// Machine epsilon of a floating kind (f64 unless `kind` is a 32-bit or smaller float).
pub(crate) fn epsilon(kind: Kind) -> f64 {
    match kind {
        Kind::Double => f64::EPSILON,
        _ => f32::EPSILON as f64,
    }
}
