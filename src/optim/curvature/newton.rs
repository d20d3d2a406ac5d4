//! Damped inverse `(M + δI)⁻¹` of a symmetric PSD factor by Newton–Schulz iteration (grng spec
//! §1.4): `X ← X(2I − MX)`, computed as `X + X(I − MX)`. The residual `r_t = ‖I − MX_t‖_F`
//! squares every step once the iteration is in its basin; rounding puts a floor under it.
//!
//! Deviation from §1.4: X is symmetrized once at the end, not after every step. Measured on
//! `M = Q diag(logspace(0, 5)) Qᵀ` (f64), per-step symmetrization raised the residual floor
//! from ~0.02·d·κ·ε (what LAPACK's inverse reaches) to ~200·d·κ·ε at d = 8, past the §6.5
//! bound of 100·d·κ·ε; the iterates from `I / tr M` are polynomials in M, symmetric up to
//! rounding, and one final symmetrization costs ≤ ~20·d·κ·ε.
//!
//! Route: warm start from the caller's previous inverse (≤ `max_warm` steps); if that diverges
//! or does not converge, one cold start from `X₀ = I / tr M` (≤ `max_cold` steps, guaranteed to
//! converge for SPD M in exact arithmetic); if that fails too, Cholesky (counted in
//! [`cholesky_fallbacks`]).
use super::{epsilon, has_nonfinite, symmetrize, work_kind};
use anyhow::{bail, ensure, Result};
use std::sync::atomic::{AtomicU64, Ordering};
use tch::{Kind, Tensor};

/// Iteration limits and stopping tolerance of [`damped_inverse`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NewtonOptions {
    /// Most iterations from a warm start (default 5).
    pub max_warm: u32,
    /// Most iterations from the cold start `I / tr M` (default 40).
    pub max_cold: u32,
    /// Stop when `‖I − MX‖_F` falls below this; `None` = the §1.4 rule
    /// `max(base, 10·d·κ̂·ε)` with base 1e-10 (f64) / 1e-3 (f32), `κ̂ = (tr M + δ)/δ`, capped at 1e-2.
    pub tol: Option<f64>,
}

impl Default for NewtonOptions {
    fn default() -> Self {
        NewtonOptions {
            max_warm: 5,
            max_cold: 40,
            tol: None,
        }
    }
}

/// Which path produced an [`Inverse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InverseRoute {
    /// Newton from the caller's warm start.
    Warm,
    /// Newton from `I / tr M`, no warm start given.
    Cold,
    /// The warm start failed (diverged or did not converge); the cold start succeeded.
    ColdRestart,
    /// Both Newton attempts failed; Cholesky inversion.
    Cholesky,
}

/// Result of [`damped_inverse`].
#[derive(Debug)]
pub struct Inverse {
    /// `(M + δI)⁻¹`, `(d, d)`, in the input's kind.
    pub x: Tensor,
    /// Newton iterations run, over all attempts.
    pub iters: u32,
    /// `‖I − (M + δI) X‖_F` of the returned `x` (in the working precision).
    pub resid: f64,
    pub route: InverseRoute,
    /// Residual `r_0, r_1, …` of each iterate of the Newton attempt that produced `x` (empty
    /// for Cholesky); `x` is the symmetrized iterate with the last (or, after stagnation, the
    /// smallest) one.
    pub history: Vec<f64>,
}

static CHOLESKY_FALLBACKS: AtomicU64 = AtomicU64::new(0);

/// How many times (process-wide) Newton failed and [`damped_inverse`] fell back to Cholesky.
pub fn cholesky_fallbacks() -> u64 {
    CHOLESKY_FALLBACKS.load(Ordering::Relaxed)
}

/// `(M + δI)⁻¹` for symmetric PSD `m` `(d, d)`: Newton–Schulz (§1.4) warm-started at `warm` when
/// given (else cold `X₀ = I / tr`), stagnation/divergence detection, one cold restart, then the
/// Cholesky fallback. Factors with d ≤ 512 are inverted in f64; the result has `m`'s kind.
pub fn damped_inverse(
    m: &Tensor,
    delta: f64,
    warm: Option<&Tensor>,
    opts: &NewtonOptions,
) -> Result<Inverse> {
    let d = square_dim(m, "damped_inverse: matrix")?;
    damped_inverse_in(m, delta, warm, opts, work_kind(m.kind(), d))
}

/// [`damped_inverse`] computed in `kind` (e.g. `Kind::Float` to run the iteration in f32 whatever
/// the size); the result still has `m`'s kind.
pub fn damped_inverse_in(
    m: &Tensor,
    delta: f64,
    warm: Option<&Tensor>,
    opts: &NewtonOptions,
    kind: Kind,
) -> Result<Inverse> {
    let d = square_dim(m, "damped_inverse: matrix")?;
    ensure!(
        delta.is_finite() && delta >= 0.0,
        "damped_inverse: damping {delta} is not a finite number ≥ 0"
    );
    ensure!(
        !has_nonfinite(m),
        "damped_inverse: the {d}×{d} matrix has non-finite entries"
    );
    let _guard = tch::no_grad_guard();
    let md = symmetrize(&m.to_kind(kind)) + Tensor::eye(d, (kind, m.device())) * delta; // (d, d)
    let trace = md.trace().double_value(&[]);
    ensure!(
        trace > 0.0,
        "damped_inverse: M + δI has trace {trace} (M = 0 and δ = 0?)"
    );
    let tol = opts
        .tol
        .unwrap_or_else(|| default_tol(trace - d as f64 * delta, delta, d, kind));
    let mut iters = 0;
    let mut route = InverseRoute::Cold;
    if let Some(w) = warm {
        ensure!(
            w.size() == [d, d],
            "damped_inverse: warm start has shape {:?}, expected [{d}, {d}]",
            w.size()
        );
        if !has_nonfinite(w) {
            let attempt = newton(&md, symmetrize(&w.to_kind(kind)), opts.max_warm, tol, true);
            iters += attempt.iters;
            if attempt.converged {
                return Ok(attempt.into_inverse(&md, iters, InverseRoute::Warm, m.kind()));
            }
        }
        route = InverseRoute::ColdRestart;
    }
    let cold = Tensor::eye(d, (kind, m.device())) / trace;
    let attempt = newton(&md, cold, opts.max_cold, tol, false);
    iters += attempt.iters;
    if attempt.converged {
        return Ok(attempt.into_inverse(&md, iters, route, m.kind()));
    }
    let (x, resid) = cholesky_inverse(&md)?;
    Ok(Inverse {
        x: x.to_kind(m.kind()),
        iters,
        resid,
        route: InverseRoute::Cholesky,
        history: vec![],
    })
}

/// `steps` plain Newton–Schulz iterations on the (already damped) `m_damped` from `x`, without
/// checks: for a few corrective steps when the §1.5 shift guard fails. Returns the new X (in
/// `x`'s kind) and its residual `‖I − M X‖_F`.
pub fn newton_refine(m_damped: &Tensor, x: &Tensor, steps: u32) -> Result<(Tensor, f64)> {
    let d = square_dim(m_damped, "newton_refine: matrix")?;
    ensure!(
        x.size() == [d, d],
        "newton_refine: X has shape {:?}, expected [{d}, {d}]",
        x.size()
    );
    let _guard = tch::no_grad_guard();
    let kind = work_kind(m_damped.kind(), d);
    let md = m_damped.to_kind(kind);
    let mut x = x.to_kind(kind);
    let mut p = md.mm(&x);
    let eye = Tensor::eye(d, (kind, md.device()));
    for _ in 0..steps {
        x = &x + x.mm(&(&eye - &p)); // X(2I − MX)
        p = md.mm(&x);
    }
    let x = symmetrize(&x);
    let p = md.mm(&x);
    Ok((x.to_kind(m_damped.kind()), residual_of(&p)))
}

/// One Newton attempt.
struct Attempt {
    x: Tensor,
    history: Vec<f64>,
    iters: u32,
    converged: bool,
}

impl Attempt {
    /// The symmetrized iterate, its residual, in `kind`.
    fn into_inverse(self, md: &Tensor, iters: u32, route: InverseRoute, kind: Kind) -> Inverse {
        let x = symmetrize(&self.x);
        let resid = residual_of(&md.mm(&x));
        Inverse {
            x: x.to_kind(kind),
            iters,
            resid,
            route,
            history: self.history,
        }
    }
}

/// Iterate from `x` at most `max_iter` times. Stops converged when `r < tol`, or on stagnation
/// at the rounding floor (`r_{t+1} > ½ r_t` although `r_t < ½`, which quadratic convergence
/// rules out) if the best `r` is below `√tol`. Stops failed on growth while `r ≥ ½`, on a
/// non-finite residual, on `r ≥ 1` after two warm iterations, or when the budget runs out.
fn newton(md: &Tensor, mut x: Tensor, max_iter: u32, tol: f64, warm: bool) -> Attempt {
    let eye = Tensor::eye(md.size()[0], (md.kind(), md.device()));
    let mut p = md.mm(&x); // M X, (d, d)
    let mut r = residual_of(&p);
    let mut history = vec![r];
    let mut iters = 0;
    loop {
        if r < tol {
            return Attempt {
                x,
                history,
                iters,
                converged: true,
            };
        }
        if iters == max_iter || !r.is_finite() {
            return Attempt {
                x,
                history,
                iters,
                converged: false,
            };
        }
        // X(2I − MX), kept symmetric: the inverse is, and rounding makes X(2I − MX) drift off
        // it; at κ = 1e5 symmetrizing only the result (as callers need) raised its residual
        // ‖I − MX‖ four orders above the last iterate's (3e-12 → 2e-8 on an AMD EPYC).
        let x_next = symmetrize(&(&x + x.mm(&(&eye - &p))));
        let p_next = md.mm(&x_next);
        let r_next = residual_of(&p_next);
        iters += 1;
        if r < 0.5 && r_next > 0.5 * r {
            // Stagnation at the floor: keep the better iterate x (residual r).
            let converged = r < tol.sqrt();
            history.push(r_next);
            return Attempt {
                x,
                history,
                iters,
                converged,
            };
        }
        history.push(r_next);
        let diverging = !r_next.is_finite() || r_next > r || (warm && iters >= 2 && r_next >= 1.0);
        if diverging {
            return Attempt {
                x: x_next,
                history,
                iters,
                converged: false,
            };
        }
        (x, p, r) = (x_next, p_next, r_next);
    }
}

/// `‖I − P‖_F` for `P = M X` `(d, d)`.
fn residual_of(p: &Tensor) -> f64 {
    let eye = Tensor::eye(p.size()[0], (p.kind(), p.device()));
    (eye - p).norm().double_value(&[])
}

/// §1.4 default tolerance: `max(base, 10·d·κ̂·ε)`, `κ̂ = (tr M + δ)/δ` (∞ when δ = 0, then the
/// stagnation test decides), capped at 1e-2.
fn default_tol(trace_m: f64, delta: f64, d: i64, kind: Kind) -> f64 {
    let base = if kind == Kind::Double { 1e-10 } else { 1e-3 };
    if delta <= 0.0 {
        return base;
    }
    let kappa_hat = (trace_m.max(0.0) + delta) / delta;
    base.max(10.0 * d as f64 * kappa_hat * epsilon(kind))
        .min(1e-2)
}

/// Cholesky inverse of the damped SPD matrix, counted as a fallback. Errors when `md` is not
/// positive definite (raise the damping).
fn cholesky_inverse(md: &Tensor) -> Result<(Tensor, f64)> {
    CHOLESKY_FALLBACKS.fetch_add(1, Ordering::Relaxed);
    let (l, info) = md.linalg_cholesky_ex(false, false);
    let info = info.int64_value(&[]);
    if info != 0 {
        bail!(
            "damped_inverse: Newton iteration failed and the {0}×{0} matrix is not positive \
             definite (Cholesky stopped at minor {info}); raise the damping",
            md.size()[0]
        );
    }
    let x = l.cholesky_inverse(false);
    let r = residual_of(&md.mm(&x));
    Ok((x, r))
}

/// `d` of a square 2-D tensor, else an error naming `what`.
fn square_dim(m: &Tensor, what: &str) -> Result<i64> {
    match m.size().as_slice() {
        &[a, b] if a == b && a > 0 => Ok(a),
        s => bail!("{what} must be square (d, d) with d > 0, got shape {s:?}"),
    }
}
