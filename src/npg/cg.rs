//! Conjugate gradient for `F s = g` with a matrix-free product (spec §3.4, step 3),
//! as in Spinning Up / SB3-contrib: start from 0, stop after `max_iters` or when the
//! squared residual drops below `residual_tol`, and also when the curvature step
//! `α = rᵀr / pᵀAp` is not finite: once the residual is exactly 0 (the system solved, e.g. with
//! `cg_residual_tol: 0` and more iterations than parameters, or a zero gradient) the next
//! iteration divided 0 by 0 and made the step, and every actor parameter, NaN.
use super::rank1::dot;

#[derive(Clone, Debug)]
pub struct CgResult {
    pub x: Vec<f64>,
    pub iters: usize,
    /// Final squared residual `‖b − Ax‖²` as tracked by the recursion.
    pub residual_sq: f64,
}

/// Solve `A x = b` for symmetric positive definite `A` given by `apply(v, out)` (out = Av).
pub fn conjugate_gradient(
    mut apply: impl FnMut(&[f64], &mut [f64]),
    b: &[f64],
    max_iters: usize,
    residual_tol: f64,
) -> CgResult {
    let n = b.len();
    let mut x = vec![0.0; n];
    let mut r = b.to_vec();
    let mut p = b.to_vec();
    let mut ap = vec![0.0; n];
    let mut r_dot = dot(&r, &r);
    let mut iters = 0;
    while iters < max_iters && r_dot >= residual_tol {
        apply(&p, &mut ap);
        let alpha = r_dot / dot(&p, &ap);
        if !alpha.is_finite() {
            break; // 0/0 on an exact solution, or pᵀAp underflowed: `x` is the answer
        }
        for i in 0..n {
            x[i] += alpha * p[i];
            r[i] -= alpha * ap[i];
        }
        let r_dot_new = dot(&r, &r);
        let beta = r_dot_new / r_dot;
        for i in 0..n {
            p[i] = r[i] + beta * p[i];
        }
        r_dot = r_dot_new;
        iters += 1;
    }
    CgResult {
        x,
        iters,
        residual_sq: r_dot,
    }
}
