//! The two Tikhonov damping schemes for a Kronecker-factored Fisher block `G ⊗ A` (grng spec
//! §1.3; row-major convention of §1.2):
//! * factored (default): `(G + δ_G I)⁻¹ ∇W (A + δ_A I)⁻¹` with `δ_A = π√λ`, `δ_G = √λ/π`;
//! * exact-eigen: `(G ⊗ A + λI)⁻¹ vec_r(∇W)` through the eigendecompositions of A and G (the
//!   test oracle and the fallback when Newton iteration fails).
use super::{has_nonfinite, symmetrize, work_kind};
use anyhow::{ensure, Context, Result};
use tch::Tensor;

/// Eigenvalues below this are set to zero before exact-eigen preconditioning (as in
/// alecwangcq/KFAC-Pytorch).
pub const EIGEN_FLOOR: f64 = 1e-10;

/// §1.3 factored damping split of `λ` (≥ 0) between A `(d_in, d_in)` and G `(d_out, d_out)`:
/// `(δ_A, δ_G) = (π√λ, √λ/π)` with `π = sqrt((tr A / dim A) / (tr G / dim G))`; `π = 1` when either
/// mean trace is ~0 (≤ 1e-12) or not finite. `δ_A · δ_G = λ` always.
pub fn factored_split(a: &Tensor, g: &Tensor, lambda: f64) -> (f64, f64) {
    let mean_trace = |m: &Tensor| {
        let d = m.size()[0].max(1) as f64;
        tch::no_grad(|| m.trace().double_value(&[])) / d
    };
    let (ta, tg) = (mean_trace(a), mean_trace(g));
    let usable = |t: f64| t.is_finite() && t > 1e-12;
    let pi = if usable(ta) && usable(tg) {
        (ta / tg).sqrt()
    } else {
        1.0
    };
    let root = lambda.sqrt();
    (pi * root, root / pi)
}

/// Factored preconditioning `X_G ∇W X_A` for `grad` `(d_out, d_in)`, `x_g` `(d_out, d_out)`,
/// `x_a` `(d_in, d_in)` (the damped inverses of G and A).
pub fn factored_precondition(grad: &Tensor, x_g: &Tensor, x_a: &Tensor) -> Tensor {
    tch::no_grad(|| x_g.mm(&grad.mm(x_a)))
}

/// §1.3 exact-eigen: `(G ⊗ A + λI)⁻¹ vec_r(∇W)` reshaped to `grad`'s `(d_out, d_in)` shape, as
/// `Q_G [(Q_Gᵀ ∇W Q_A) ⊘ (d_G d_Aᵀ + λ)] Q_Aᵀ`; eigenvalues below 1e-10 are zeroed first.
/// Computed in f64 for factors up to 512 (result in `grad`'s kind). Needs `λ > 0`.
pub fn eigen_precondition(grad: &Tensor, a: &Tensor, g: &Tensor, lambda: f64) -> Result<Tensor> {
    let (d_out, d_in) = grad
        .size2()
        .context("eigen_precondition: gradient must be 2-D (d_out, d_in)")?;
    ensure!(
        a.size() == [d_in, d_in] && g.size() == [d_out, d_out],
        "eigen_precondition: gradient ({d_out}, {d_in}) needs A ({d_in}, {d_in}) and G ({d_out}, \
         {d_out}), got A {:?} and G {:?}",
        a.size(),
        g.size()
    );
    ensure!(
        lambda.is_finite() && lambda > 0.0,
        "eigen_precondition: damping {lambda} must be > 0"
    );
    for (name, t) in [("gradient", grad), ("A", a), ("G", g)] {
        ensure!(
            !has_nonfinite(t),
            "eigen_precondition: {name} has non-finite entries"
        );
    }
    let _guard = tch::no_grad_guard();
    let kind = work_kind(grad.kind(), d_in.max(d_out));
    let (ev_a, q_a) = eigh_floored(&a.to_kind(kind)).context("eigen_precondition: eigh of A")?;
    let (ev_g, q_g) = eigh_floored(&g.to_kind(kind)).context("eigen_precondition: eigh of G")?;
    let rotated = q_g.transpose(0, 1).mm(&grad.to_kind(kind)).mm(&q_a); // (d_out, d_in)
    let scale = ev_g.unsqueeze(1) * ev_a.unsqueeze(0) + lambda; // (d_out, d_in)
    let u = q_g.mm(&(rotated / scale)).mm(&q_a.transpose(0, 1));
    Ok(u.to_kind(grad.kind()))
}

/// Eigenvalues (floored: < 1e-10 → 0) and eigenvectors of the symmetrized `m`.
fn eigh_floored(m: &Tensor) -> Result<(Tensor, Tensor)> {
    let (ev, q) = symmetrize(m).f_linalg_eigh("L")?;
    let kept = ev.ge(EIGEN_FLOOR).to_kind(ev.kind());
    Ok((ev * kept, q))
}
