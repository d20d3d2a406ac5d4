//! Damped Newton / Newton-CG on f(x) = ⟨c, x⟩ − log det M(x), M(x) = M₀ + s·Σₖ xₖDₖ. With
//! M₀ = A, s = −1, c = 0 this is the primal Φ of spec §2.1 (§3.2, §3.6); with M₀ = 0, s = +1,
//! cₖ = ⟨A, Eₖ⟩ the dual Ψ of §2.2 (§3.7). Both share g = c − s⟨W, Dₖ⟩ and
//! H = tr(W Dₖ W Dₗ) with W = M⁻¹, the Cholesky feasibility oracle (§3.1), the Armijo
//! backtracking of §3.3 and the stopping rules of §3.4.
use super::cg::{self, CgOptions};
use super::config::SolverConfig;
use super::subspace::Basis;
use anyhow::{bail, Result};
use ndarray::{Array1, Array2};
use ndarray_linalg::{CholeskyFactorized, Diag, FactorizeC, SolveC, SolveTriangular, UPLO};

/// Columns of metrics.csv: the state at the start of each Newton iteration and the step taken.
pub const COLUMNS: &[&str] = &[
    "iter",
    "objective",
    "decrement",
    "grad_norm",
    "grad_max",
    "residual",
    "cg_iters",
    "step",
    "backtracks",
    "wall_s",
];

/// The log-det problem in coefficient space.
pub struct Problem<'a> {
    pub m0: Array2<f64>,
    pub sign: f64,
    pub lin: Array1<f64>,
    pub basis: &'a Basis,
    /// Sparse-pattern kernel (§3.6 "implicit B"): when the basis touches only the indices J,
    /// only W_JJ is needed, from |J| triangular solves; `local` is the basis re-indexed to J.
    local: Option<(Vec<usize>, Basis)>,
}

type Factor = CholeskyFactorized<ndarray::OwnedRepr<f64>>;

impl<'a> Problem<'a> {
    /// Φ(x) = −log det(A − C(x)) (§2.1).
    pub fn primal(a: &Array2<f64>, basis: &'a Basis) -> Self {
        Problem {
            m0: a.clone(),
            sign: -1.0,
            lin: Array1::zeros(basis.len()),
            basis,
            local: super::subspace::localize(basis),
        }
    }

    /// Ψ(y) = ⟨A, B(y)⟩ − log det B(y) (§2.2).
    pub fn dual(a: &Array2<f64>, perp: &'a Basis) -> Self {
        Problem {
            m0: Array2::zeros(a.dim()),
            sign: 1.0,
            lin: perp.inner_products(a),
            basis: perp,
            local: None,
        }
    }

    pub fn matrix(&self, x: &Array1<f64>) -> Array2<f64> {
        &self.m0 + &(self.basis.combine(x) * self.sign)
    }

    /// f(x) and the Cholesky factor of M(x); None when M(x) is not PD (§3.1).
    pub fn value(&self, x: &Array1<f64>) -> Option<(f64, Factor)> {
        let f = self.matrix(x).factorizec(UPLO::Lower).ok()?;
        let ln_det = 2.0 * f.factor.diag().mapv(f64::ln).sum();
        ln_det.is_finite().then(|| (self.lin.dot(x) - ln_det, f))
    }

    /// g = c − s⟨W, Dₖ⟩.
    pub fn gradient(&self, w: &Array2<f64>) -> Array1<f64> {
        &self.lin - &(self.kernel().inner_products(w) * self.sign)
    }

    /// The basis that matches the W of [`Problem::inverse`].
    fn kernel(&self) -> &Basis {
        self.local.as_ref().map_or(self.basis, |l| &l.1)
    }

    /// W = M⁻¹, or only W_JJ under the sparse-pattern kernel.
    fn inverse(&self, fac: &Factor) -> Result<Array2<f64>> {
        let Some((idx, _)) = &self.local else {
            return chol_inverse(fac);
        };
        let n = self.m0.nrows();
        let mut w = Array2::zeros((idx.len(), idx.len()));
        for (c, &j) in idx.iter().enumerate() {
            let mut e = Array1::zeros(n);
            e[j] = 1.0;
            let col = fac.solvec(&e)?;
            for (r, &i) in idx.iter().enumerate() {
                w[[r, c]] = col[i];
            }
        }
        Ok(symmetrize(&w))
    }
}

/// How the Newton direction is found.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Direction {
    /// Explicit m×m Hessian, Cholesky solve (§3.2).
    Explicit,
    /// Matrix-free (preconditioned) CG (§3.6).
    Cg,
}

pub struct Solution {
    pub x: Array1<f64>,
    /// W = M(x)⁻¹ (B for the primal, B⁻¹ for the dual).
    pub w: Array2<f64>,
    pub objective: f64,
    /// λ²/2, the Newton decrement's estimate of f − f*.
    pub decrement: f64,
    /// ‖P(gradient matrix)‖_F / ‖W‖_F: zero exactly at the optimum.
    pub residual: f64,
    pub grad_max: f64,
    pub iterations: usize,
    pub cg_iters: usize,
    pub backtracks: usize,
    pub converged: bool,
}

/// Raised by the divergence test of §1.5 stage 5: `direction` is −C/‖C‖_F, nearly PSD.
#[derive(Debug)]
pub struct Diverged {
    pub direction: Array2<f64>,
    pub iterations: usize,
}

impl std::fmt::Display for Diverged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the primal iterates diverged after {} Newton steps (‖C‖ unbounded): the subspace \
             appears degenerate (spec section 1.5)",
            self.iterations
        )
    }
}
impl std::error::Error for Diverged {}

/// Minimize f from `x0` (or 0); `log` receives one row of [`COLUMNS`] per iteration.
pub fn solve(
    p: &Problem,
    x0: Option<&Array1<f64>>,
    dir: Direction,
    opts: &SolverConfig,
    log: &mut dyn FnMut(&[f64]) -> Result<()>,
) -> Result<Solution> {
    let started = std::time::Instant::now();
    let (mut x, (mut f, mut fac)) = start(p, x0)?;
    let m0_norm = frobenius(&p.m0);
    let mut g0_norm = None;
    let mut sol = None;
    let (mut total_cg, mut total_bt) = (0, 0);
    for it in 1..=opts.max_iter {
        let w = p.inverse(&fac)?;
        let g = p.gradient(&w);
        let g_norm = g.dot(&g).sqrt();
        let g0 = *g0_norm.get_or_insert(g_norm);
        let (d, cg_iters) = direction(p, &w, &g, dir, g_norm / g0.max(f64::MIN_POSITIVE), opts)?;
        let lambda2 = (-g.dot(&d)).max(0.0);
        // Relative to ‖W‖_F (‖W_JJ‖_F under the sparse-pattern kernel).
        let residual = p.basis.projection_norm(&g)? / frobenius(&w);
        let decrement = 0.5 * lambda2;
        let grad_max = g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let done = converged(it, p.basis.is_empty(), lambda2, f, residual, opts);
        let (step, backtracks, next) = if done {
            (0.0, 0, None)
        } else {
            let (t, k, v, fc) = backtrack(|z| p.value(z), &x, &d, f, lambda2, opts)?;
            (t, k, Some((v, fc)))
        };
        total_cg += cg_iters;
        total_bt += backtracks;
        let wall = started.elapsed().as_secs_f64();
        log(&[
            it as f64,
            f,
            decrement,
            g_norm,
            grad_max,
            residual,
            cg_iters as f64,
            step,
            backtracks as f64,
            wall,
        ])?;
        sol = Some(Solution {
            x: x.clone(),
            w,
            objective: f,
            decrement,
            residual,
            grad_max,
            iterations: it - 1,
            cg_iters: total_cg,
            backtracks: total_bt,
            converged: done,
        });
        let Some((v, fc)) = next else { break };
        x = x + &d * step;
        (f, fac) = (v, fc);
        if p.sign < 0.0 {
            check_divergence(p, &x, m0_norm, opts, it)?;
        }
    }
    let mut sol = sol.expect("max_iter >= 1");
    if p.local.is_some() || !sol.converged {
        sol.w = chol_inverse(&fac)?;
    }
    if !sol.converged {
        // Return the last accepted iterate (best so far: f decreases monotonically).
        sol.x = x;
        sol.objective = f;
        sol.iterations = opts.max_iter;
    }
    Ok(sol)
}

/// Feasible start: x0 shrunk by halves up to 20 times, else 0 (§3.2 warm start).
fn start(p: &Problem, x0: Option<&Array1<f64>>) -> Result<(Array1<f64>, (f64, Factor))> {
    if let Some(x0) = x0 {
        let mut x = x0.clone();
        for _ in 0..20 {
            if let Some(v) = p.value(&x) {
                return Ok((x, v));
            }
            x *= 0.5;
        }
        eprintln!("warning: warm start infeasible after 20 halvings; starting from 0");
    }
    let x = Array1::zeros(p.basis.len());
    match p.value(&x) {
        Some(v) => Ok((x, v)),
        None => bail!("the starting point is not feasible (M(0) is not positive definite)"),
    }
}

/// §1.5 stage 5: the primal iterate ran off to infinity along a PSD direction of L.
fn check_divergence(
    p: &Problem,
    x: &Array1<f64>,
    a_norm: f64,
    opts: &SolverConfig,
    it: usize,
) -> Result<()> {
    let c = p.basis.combine(x);
    let c_norm = frobenius(&c);
    if c_norm > opts.divergence_factor * a_norm {
        return Err(Diverged {
            direction: c / (-c_norm),
            iterations: it,
        }
        .into());
    }
    Ok(())
}

/// Newton direction by explicit Hessian or CG; returns (d, CG iterations).
fn direction(
    p: &Problem,
    w: &Array2<f64>,
    g: &Array1<f64>,
    dir: Direction,
    g_rel: f64,
    opts: &SolverConfig,
) -> Result<(Array1<f64>, usize)> {
    if p.basis.is_empty() {
        return Ok((Array1::zeros(0), 0));
    }
    let (d, iters) = match dir {
        Direction::Explicit => (newton_direction(&p.kernel().hessian(w), g), 0),
        Direction::Cg => {
            let o = CgOptions::from_config(opts, p.basis.len(), g_rel);
            let precond = opts.cg_jacobi.then(|| p.kernel().hessian_diag(w));
            let r = cg::solve(|v| p.kernel().hess_vec(w, v), &(-g), precond.as_ref(), &o);
            let d = if !r.converged && r.rel_residual > 1e-2 {
                -g
            } else {
                r.x
            };
            (d, r.iters)
        }
    };
    Ok(if g.dot(&d) >= 0.0 {
        (-g, iters)
    } else {
        (d, iters)
    })
}

/// Solve (H + δI) d = −g by Cholesky, raising δ on failure; fall back to −g (§3.2). The
/// reference's δ = 1e-10 is taken relative to mean(diag H) so the method stays scale-invariant
/// (an absolute δ stalls when H → 0, e.g. along a divergent direction).
fn newton_direction(h: &Array2<f64>, g: &Array1<f64>) -> Array1<f64> {
    let neg_g = -g;
    let scale = h.diag().mean().unwrap_or(1.0).abs().max(f64::MIN_POSITIVE);
    let mut delta = 1e-10 * scale;
    for _ in 0..10 {
        let shifted = h + &(Array2::<f64>::eye(g.len()) * delta);
        if let Ok(d) = shifted.solvec(&neg_g) {
            return d;
        }
        delta = (10.0 * delta).max(1e-12 * scale);
    }
    neg_g
}

/// The stopping rule of every Newton loop (§3.3): nothing to optimise, or from the second
/// iteration on, half the squared Newton decrement `lambda2` small relative to |f| or the
/// relative residual small.
pub fn converged(
    it: usize,
    empty: bool,
    lambda2: f64,
    f: f64,
    residual: f64,
    opts: &SolverConfig,
) -> bool {
    empty
        || (it > 1
            && (0.5 * lambda2 <= opts.tol_decrement * f.abs().max(1.0)
                || residual <= opts.tol_residual))
}

/// Armijo backtracking that only accepts points inside the domain, where `value` returns the
/// objective and whatever its evaluation produced (a Cholesky factor, say) (§3.3). If the step
/// falls below the damped Newton step 1/(1 + λ), that step is taken: by self-concordance it is
/// feasible and satisfies Armijo for α ≤ ½. Returns (step, backtracks, value, product).
pub fn backtrack<T>(
    value: impl Fn(&Array1<f64>) -> Option<(f64, T)>,
    x: &Array1<f64>,
    d: &Array1<f64>,
    f: f64,
    lambda2: f64,
    opts: &SolverConfig,
) -> Result<(f64, usize, f64, T)> {
    let damped = 1.0 / (1.0 + lambda2.sqrt());
    let mut t = 1.0;
    for k in 0..opts.max_backtracks {
        if t < damped {
            if let Some((v, product)) = value(&(x + &(d * damped))) {
                return Ok((damped, k, v, product));
            }
            bail!(
                "line search failed: the damped Newton step left the PD cone (round-off trouble)"
            );
        }
        if let Some((v, product)) = value(&(x + &(d * t))) {
            if v <= f - opts.armijo * t * lambda2 {
                return Ok((t, k, v, product));
            }
        }
        t *= opts.backtrack;
    }
    bail!(
        "line search failed after {} backtracks",
        opts.max_backtracks
    )
}

/// M⁻¹ through Cholesky, symmetrized (§3.1).
pub fn symmetric_inverse(m: &Array2<f64>) -> Result<Array2<f64>> {
    chol_inverse(&m.factorizec(UPLO::Lower)?)
}

/// M⁻¹ = F⁻ᵀF⁻¹ from M = FFᵀ by a triangular solve and a product (LAPACK potri is ~8× slower
/// in this OpenBLAS at n = 2000).
pub fn chol_inverse(fac: &Factor) -> Result<Array2<f64>> {
    let n = fac.factor.nrows();
    let f = fac.factor.mapv(|v| v) * &lower_mask(n);
    let f_inv = f.solve_triangular(UPLO::Lower, Diag::NonUnit, &Array2::eye(n))?;
    Ok(symmetrize(&f_inv.t().dot(&f_inv)))
}

/// 1 on and below the diagonal (the factor's upper triangle may hold stale entries).
fn lower_mask(n: usize) -> Array2<f64> {
    Array2::from_shape_fn((n, n), |(i, j)| if i >= j { 1.0 } else { 0.0 })
}

pub fn symmetrize(x: &Array2<f64>) -> Array2<f64> {
    (x + &x.t()) * 0.5
}

pub fn frobenius(x: &Array2<f64>) -> f64 {
    x.iter().map(|v| v * v).sum::<f64>().sqrt()
}
