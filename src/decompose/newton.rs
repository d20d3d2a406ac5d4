//! Primal Newton with explicit Hessian (spec §3.2) on Φ(x) = −log det(A − C(x)) (§2.1), with the
//! Cholesky feasibility-preserving Armijo backtracking of §3.3 and the stopping rules of §3.4.
use super::config::SolverConfig;
use super::subspace::Basis;
use anyhow::{bail, Result};
use ndarray::{Array1, Array2};
use ndarray_linalg::{Cholesky, InverseC, SolveC, UPLO};

/// Columns of metrics.csv: the state at the start of each Newton iteration and the step taken.
pub const COLUMNS: &[&str] = &[
    "iter",
    "objective",
    "decrement",
    "grad_norm",
    "grad_max",
    "residual",
    "step",
    "backtracks",
    "wall_s",
];

pub struct Solution {
    pub b: Array2<f64>,
    pub c: Array2<f64>,
    pub objective: f64,
    /// λ²/2, the Newton decrement's estimate of Φ − Φ*.
    pub decrement: f64,
    /// ‖P_L(B)‖_F / ‖B‖_F: zero exactly when B ∈ L^⊥.
    pub residual: f64,
    pub iterations: usize,
    pub converged: bool,
}

/// Φ at M = A − C: −2 Σ log Fᵢᵢ from the Cholesky factor; None when M is not PD.
pub fn objective(m: &Array2<f64>) -> Option<f64> {
    let f = m.cholesky(UPLO::Lower).ok()?;
    Some(-2.0 * f.diag().mapv(f64::ln).sum())
}

/// Minimize Φ; `log` receives one row of [`COLUMNS`] per iteration and may stop the run.
pub fn solve(
    a: &Array2<f64>,
    basis: &Basis,
    opts: &SolverConfig,
    log: &mut dyn FnMut(&[f64]) -> Result<()>,
) -> Result<Solution> {
    let started = std::time::Instant::now();
    let mut x = Array1::zeros(basis.len());
    let Some(mut phi) = objective(a) else {
        bail!("A is not positive definite")
    };
    let mut state = None;
    for it in 1..=opts.max_iter {
        let b = symmetric_inverse(&(a - &basis.combine(&x)))?;
        let g = basis.inner_products(&b);
        let d = newton_direction(&basis.hessian(&b), &g);
        let lambda2 = -g.dot(&d);
        let residual = basis.projection_norm(&g)? / frobenius(&b);
        let decrement = 0.5 * lambda2.max(0.0);
        let grad_max = g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let grad_norm = g.dot(&g).sqrt();
        let done = basis.is_empty()
            || (it > 1
                && (decrement <= opts.tol_decrement * phi.abs().max(1.0)
                    || residual <= opts.tol_residual));
        let (step, backtracks) = if done {
            (0.0, 0)
        } else {
            line_search(a, basis, &x, &d, phi, -lambda2, opts)?
        };
        let wall = started.elapsed().as_secs_f64();
        let row = [
            it as f64,
            phi,
            decrement,
            grad_norm,
            grad_max,
            residual,
            step,
            backtracks as f64,
            wall,
        ];
        log(&row)?;
        state = Some((b, decrement, residual, it));
        if done {
            let (b, decrement, residual, _) = state.take().expect("just set");
            return Ok(finish(
                a,
                basis,
                x,
                b,
                phi,
                decrement,
                residual,
                it - 1,
                true,
            ));
        }
        x = x + &d * step;
        phi = objective(&(a - &basis.combine(&x))).expect("line search accepted a PD point");
    }
    let (_, decrement, residual, _) = state.expect("max_iter >= 1");
    let b = symmetric_inverse(&(a - &basis.combine(&x)))?;
    Ok(finish(
        a,
        basis,
        x,
        b,
        phi,
        decrement,
        residual,
        opts.max_iter,
        false,
    ))
}

#[allow(clippy::too_many_arguments)]
fn finish(
    a: &Array2<f64>,
    basis: &Basis,
    x: Array1<f64>,
    b: Array2<f64>,
    objective: f64,
    decrement: f64,
    residual: f64,
    iterations: usize,
    converged: bool,
) -> Solution {
    let c = basis.combine(&x);
    debug_assert_eq!(a.dim(), c.dim());
    Solution {
        b,
        c,
        objective,
        decrement,
        residual,
        iterations,
        converged,
    }
}

/// Solve (H + δI) d = −g by Cholesky, raising δ on failure; fall back to −g (§3.2).
fn newton_direction(h: &Array2<f64>, g: &Array1<f64>) -> Array1<f64> {
    let neg_g = -g;
    let mut delta = 1e-10;
    for _ in 0..10 {
        let shifted = h + &(Array2::<f64>::eye(g.len()) * delta);
        if let Ok(d) = shifted.solvec(&neg_g) {
            if g.dot(&d) < 0.0 {
                return d;
            }
            break;
        }
        delta = (10.0 * delta).max(1e-12);
    }
    neg_g
}

/// Armijo backtracking that only accepts points where A − C(x + t d) is PD (§3.3). If the step
/// falls below the damped Newton step 1/(1 + λ), that step is taken: it is always feasible and
/// satisfies Armijo for α ≤ ½ by self-concordance.
fn line_search(
    a: &Array2<f64>,
    basis: &Basis,
    x: &Array1<f64>,
    d: &Array1<f64>,
    phi: f64,
    slope: f64,
    opts: &SolverConfig,
) -> Result<(f64, usize)> {
    let damped = 1.0 / (1.0 + (-slope).max(0.0).sqrt());
    let mut t = 1.0;
    for k in 0..opts.max_backtracks {
        if t < damped {
            let trial = x + &(d * damped);
            if objective(&(a - &basis.combine(&trial))).is_some() {
                return Ok((damped, k));
            }
            bail!(
                "line search failed: the damped Newton step left the PD cone (round-off trouble)"
            );
        }
        let trial = x + &(d * t);
        if let Some(phi_t) = objective(&(a - &basis.combine(&trial))) {
            if phi_t <= phi + opts.armijo * t * slope {
                return Ok((t, k));
            }
        }
        t *= opts.backtrack;
    }
    bail!(
        "line search failed after {} backtracks",
        opts.max_backtracks
    )
}

/// (M)⁻¹ through Cholesky, symmetrized (§3.1).
pub fn symmetric_inverse(m: &Array2<f64>) -> Result<Array2<f64>> {
    let inv = m.invc()?;
    Ok((&inv + &inv.t()) * 0.5)
}

pub fn frobenius(x: &Array2<f64>) -> f64 {
    x.iter().map(|v| v * v).sum::<f64>().sqrt()
}
