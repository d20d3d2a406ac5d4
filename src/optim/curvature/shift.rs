//! Matrix-differential update of a damped inverse when only the damping changes (grng spec §1.5):
//! with `X(δ) = (M + δI)⁻¹` and `Δ = δ' − δ`, `d/dδ X = −X²`, so
//! `X(δ') ≈ X − ΔX²` (first order) or `X − ΔX² + Δ²X³` (second order), valid while
//! `|Δ|·‖X‖₂ ≤ ½`. Also the implicit first-order form applied straight to a gradient (§2.3 note).
use super::{power::spectral_norm, symmetrize};
use tch::{Kind, Tensor};

/// Power iterations behind the validity guard (the estimate approaches ‖X‖₂ from below).
pub const GUARD_POWER_ITERS: usize = 10;

/// Order of the Taylor expansion in [`shift_damping`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShiftOrder {
    /// `X − ΔX²` (default; error O(Δ²)).
    First,
    /// `X − ΔX² + Δ²X³` (error O(Δ³)).
    Second,
}

/// True when the §1.5 expansion may be used: `|Δ|·‖X‖₂ ≤ ½` (‖X‖₂ by power iteration).
///
/// The power estimate never exceeds `‖X‖₂ ≤ √(‖X‖₁‖X‖_∞)`, so when that cheap bound (with a
/// margin for rounding) already passes, the estimate would pass too and is skipped: the same
/// answer in four reductions instead of [`GUARD_POWER_ITERS`] matrix-vector products.
pub fn shift_guard(x: &Tensor, delta_change: f64) -> bool {
    if !delta_change.is_finite() {
        return false;
    }
    if delta_change.abs() * norm_bound(x) * (1.0 + bound_margin(x.kind())) <= 0.5 {
        return true;
    }
    delta_change.abs() * spectral_norm(x, GUARD_POWER_ITERS) <= 0.5
}

/// Relative slack on [`norm_bound`] so that rounding in it or in the power estimate (each
/// ≲ d·ε, d ≤ a few thousand) can never make the shortcut pass where the estimate fails.
fn bound_margin(kind: Kind) -> f64 {
    if kind == Kind::Double {
        1e-9
    } else {
        1e-3
    }
}

/// `√(‖X‖₁‖X‖_∞)` (largest absolute column and row sums, in f64) ≥ ‖X‖₂ for `x` `(d, d)`;
/// NaN or ∞ (so no shortcut) when `x` has non-finite entries.
fn norm_bound(x: &Tensor) -> f64 {
    if x.numel() == 0 {
        return 0.0;
    }
    let _guard = tch::no_grad_guard();
    let abs = x.abs(); // (d, d)
    let one = abs
        .sum_dim_intlist(0, false, Kind::Double)
        .max()
        .double_value(&[]);
    let inf = abs
        .sum_dim_intlist(1, false, Kind::Double)
        .max()
        .double_value(&[]);
    (one * inf).sqrt()
}

/// `X(δ + Δ)` from `X = X(δ)` `(d, d)` symmetric, to first or second order in `Δ`
/// (`delta_change`); `None` when the guard `|Δ|·‖X‖₂ ≤ ½` fails (then run a few Newton
/// iterations on `M + δ'I` warm-started at X instead). Result in `x`'s kind, symmetrized.
pub fn shift_damping(x: &Tensor, delta_change: f64, order: ShiftOrder) -> Option<Tensor> {
    if !shift_guard(x, delta_change) {
        return None;
    }
    if delta_change == 0.0 {
        return Some(x.copy());
    }
    let _guard = tch::no_grad_guard();
    let x2 = x.mm(x); // (d, d)
    let shifted = match order {
        ShiftOrder::First => x - &x2 * delta_change,
        ShiftOrder::Second => x - &x2 * delta_change + x2.mm(x) * (delta_change * delta_change),
    };
    Some(symmetrize(&shifted))
}

/// The §2.3 lazy-step preconditioning without forming the shifted inverses:
/// `U = U₀ − Δ_G X_G U₀ − Δ_A U₀ X_A` with `U₀ = X_G ∇W X_A`, for `grad` `(d_out, d_in)`,
/// `x_g` `(d_out, d_out)`, `x_a` `(d_in, d_in)`. It equals `(X_G − Δ_G X_G²) ∇W (X_A − Δ_A X_A²)`
/// up to the cross term `Δ_G Δ_A X_G U₀ X_A`, at the cost of the plain product. The stored X
/// are not changed: apply [`shift_damping`] to them at the next refresh.
pub fn shifted_precondition(
    grad: &Tensor,
    x_g: &Tensor,
    x_a: &Tensor,
    delta_g_change: f64,
    delta_a_change: f64,
) -> Tensor {
    let _guard = tch::no_grad_guard();
    let u0 = x_g.mm(&grad.mm(x_a)); // (d_out, d_in)
    &u0 - x_g.mm(&u0) * delta_g_change - u0.mm(x_a) * delta_a_change
}
