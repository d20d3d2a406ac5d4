//! The dense filter math of R-Kalman (grng spec §2.4, dense form) on plain tensors, so it can be
//! tested without a network: predict, implicit gradient regularization by the matrix
//! differential (§1.5), the measurement update in Woodbury form and the mean step. P is a
//! symmetric positive definite `(d, d)` matrix; nothing here inverts a d×d matrix.
use anyhow::{bail, Result};
use tch::{Kind, Tensor};

/// The first-order GR step P − δP² is used while δ‖P‖₂ ≤ this (§1.5 validity guard; its
/// error relative to (P⁻¹ + δI)⁻¹ is at most (δ‖P‖₂)² / (1 + δ‖P‖₂) ≤ 1/6).
pub const GUARD: f64 = 0.5;
/// Newton iterations of the guard fallback are capped here (each is two d×d products).
const NEWTON_MAX_ITERS: u32 = 50;

/// `½(P + Pᵀ)`, exactly symmetric.
pub fn sym(p: &Tensor) -> Tensor {
    (p + p.tr()) * 0.5
}

/// The prior covariance `σ0² I` `(d, d)` in f64 on `device`.
pub fn prior(d: i64, sigma0_sq: f64, device: tch::Device) -> Tensor {
    Tensor::eye(d, (Kind::Double, device)) * sigma0_sq
}

/// Predict step (§2.4 step 1): `P ← P / β` (process noise Q = (1/β − 1) P).
pub fn predict(p: &Tensor, beta: f64) -> Tensor {
    p / beta
}

/// An upper bound on ‖P‖₂ of a symmetric `P`: min(max row sum of |P|, ‖P‖_F), O(d²). (The
/// spec's 5 power iterations give a *lower* bound, 20% low on a test matrix with close top
/// eigenvalues, which would let the first-order step run past its guard.)
pub fn norm_upper_bound(p: &Tensor) -> f64 {
    let row_sum = p
        .abs()
        .sum_dim_intlist(1, false, Kind::Double)
        .max()
        .double_value(&[]);
    row_sum.min(p.norm().double_value(&[]))
}

/// What [`implicit_gr`] did.
#[derive(Debug, PartialEq)]
pub struct GrStep {
    /// The new covariance ≈ (P⁻¹ + δI)⁻¹.
    pub p: Tensor,
    /// The guard δ·‖P‖ ≤ 0.5 failed and Newton iteration was used.
    pub fallback: bool,
    /// Newton iterations run (0 on the first-order path).
    pub newton_iters: u32,
    /// Final Newton residual ‖I − (I + δP) Y‖_F (0 on the first-order path).
    pub newton_resid: f64,
}

/// Implicit GR (§2.4 step 2): add δI to the precision without inverting it. First order
/// `P − δP²` (§1.5) while δ·[`norm_upper_bound`] ≤ [`GUARD`], else `P (I + δP)⁻¹` with `(I + δP)⁻¹` by
/// Newton iteration (§1.4). δ = 0 returns P unchanged.
pub fn implicit_gr(p: &Tensor, delta: f64) -> GrStep {
    let unchanged = |p: Tensor| GrStep {
        p,
        fallback: false,
        newton_iters: 0,
        newton_resid: 0.0,
    };
    if delta == 0.0 {
        return unchanged(p.shallow_clone());
    }
    let p2 = p.matmul(p);
    if delta * norm_upper_bound(p) <= GUARD {
        return unchanged(sym(&(p - p2 * delta)));
    }
    let (y, newton_iters, newton_resid) = newton_inverse_shifted(p, delta);
    GrStep {
        p: sym(&p.matmul(&y)),
        fallback: true,
        newton_iters,
        newton_resid,
    }
}

/// `(I + δP)⁻¹` by Newton iteration `Y ← Y(2I − MY)`, `M = I + δP`. The warm start
/// `I − δP` (so that `P·Y₀ = P − δP²`) contracts when δ‖P‖_F < 1 (residual δ²P²); otherwise
/// the start is `αI` with α = 2/(2 + δ‖P‖_F), which contracts for every SPD P (eigenvalues of
/// M lie in [1, 1 + δ‖P‖₂]). Stops at a residual of 100·d·ε or after 50 iterations.
fn newton_inverse_shifted(p: &Tensor, delta: f64) -> (Tensor, u32, f64) {
    let d = p.size()[0];
    let eye = Tensor::eye(d, (p.kind(), p.device()));
    let m = &eye + p * delta;
    let fro = p.norm().double_value(&[]);
    let mut y = if delta * fro < 0.9 {
        &eye - p * delta
    } else {
        &eye * (2.0 / (2.0 + delta * fro))
    };
    let eps = if p.kind() == Kind::Double {
        f64::EPSILON
    } else {
        f32::EPSILON as f64
    };
    let tol = 100.0 * d as f64 * eps;
    let mut resid = f64::INFINITY;
    let mut iters = 0;
    while iters < NEWTON_MAX_ITERS {
        let r = &eye - m.matmul(&y); // (d, d)
        resid = r.norm().double_value(&[]);
        if resid < tol {
            break;
        }
        y = sym(&(&y + y.matmul(&r))); // Y(2I − MY) = Y + Y·R
        iters += 1;
    }
    (y, iters, resid)
}

/// The measurement update (§2.4 step 3) in Woodbury form: with observation rows `s` `(n, d)`
/// and noise `τR` (`r` `(n, n)`, `None` = identity), `C = τR + S P Sᵀ`, `K = P Sᵀ C⁻¹`,
/// `P ← sym(P − K S P)`, i.e. `P⁻¹ ← P⁻¹ + Sᵀ R⁻¹ S / τ`. Only the n×n `C` is factored
/// (Cholesky). `Ok(None)` when `C` is not numerically positive definite.
pub fn measurement_update(
    p: &Tensor,
    s: &Tensor,
    r: Option<&Tensor>,
    tau: f64,
) -> Result<Option<Tensor>> {
    let (n, d) = s.size2()?;
    if p.size() != [d, d] {
        bail!(
            "R-Kalman: observation rows have {d} columns, the covariance is {:?}",
            p.size()
        );
    }
    let sp = s.matmul(p); // (n, d) = S P
    let noise = match r {
        Some(r) => r * tau,
        None => Tensor::eye(n, (p.kind(), p.device())) * tau,
    };
    let c = noise + sp.matmul(&s.tr()); // (n, n)
    let (l, info) = c.linalg_cholesky_ex(false, false);
    if info.int64_value(&[]) != 0 {
        return Ok(None);
    }
    let x = sp.cholesky_solve(&l, false); // (n, d) = C⁻¹ S P
    Ok(Some(sym(&(p - sp.tr().matmul(&x)))))
}

/// The mean step direction (§2.4 step 4): `U = m · P · v` `(d,)` for the mean gradient `v`
/// `(d,)` over a batch of `m` examples (so `m·v` is the summed per-example gradient).
pub fn mean_direction(p: &Tensor, v: &Tensor, m: i64) -> Tensor {
    p.mv(v) * m as f64
}

/// KL-clip scale (§2.2 step 5 with U = m·P·v): `ν = min(1, √(κ / (η² ⟨U, v⟩)))`.
pub fn kl_clip_scale(u: &Tensor, v: &Tensor, lr: f64, kappa: f64) -> f64 {
    let uv = u.dot(v).double_value(&[]);
    if uv <= 0.0 {
        return 1.0;
    }
    (kappa / (lr * lr * uv)).sqrt().min(1.0)
}

/// `true` when every entry of `t` is finite.
pub fn all_finite(t: &Tensor) -> bool {
    t.isfinite().all().int64_value(&[]) != 0
}
