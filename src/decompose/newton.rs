//! Damped Newton / Newton-CG on f(x) = ⟨c, x⟩ − log det M(x), M(x) = M₀ + s·Σₖ xₖDₖ. With
//! M₀ = A, s = −1, c = 0 this is the primal Φ of spec §2.1 (§3.2, §3.6); with M₀ = 0, s = +1,
//! cₖ = ⟨A, Eₖ⟩ the dual Ψ of §2.2 (§3.7). Both share g = c − s⟨W, Dₖ⟩ and
//! H = tr(W Dₖ W Dₗ) with W = M⁻¹ and the Cholesky feasibility oracle (§3.1): this file is
//! the dense [`NewtonOracle`]; the loop, line search and stopping rules are in [`driver`].
use super::config::SolverConfig;
use super::driver::{
    self, cg_direction, descent, Finish, Gradient, Log, NewtonOracle, Search, Start,
};
use super::subspace::Basis;
use anyhow::{bail, Result};
use ndarray::{Array1, Array2};
use ndarray_linalg::{CholeskyFactorized, Diag, FactorizeC, SolveC, SolveTriangular, UPLO};

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

/// The dense oracle: f through a Cholesky factor of M(x), W = M⁻¹ for the gradient, the
/// explicit Hessian or CG on Hessian-vector products for the direction.
struct Dense<'p, 'a> {
    p: &'p Problem<'a>,
    dir: Direction,
    opts: &'p SolverConfig,
    m0_norm: f64,
}

impl NewtonOracle for Dense<'_, '_> {
    type Eval = Factor;
    type Local = Array2<f64>;

    fn value(&self, x: &Array1<f64>) -> Option<(f64, Factor)> {
        self.p.value(x)
    }

    fn gradient(&self, fac: &Factor) -> Result<Gradient<Array2<f64>>> {
        let w = self.p.inverse(fac)?;
        let g = self.p.gradient(&w);
        // Relative to ‖W‖_F (‖W_JJ‖_F under the sparse-pattern kernel).
        let residual = self.p.basis.projection_norm(&g)? / frobenius(&w);
        Ok(Gradient {
            g,
            residual,
            local: w,
        })
    }

    fn direction(
        &self,
        _x: &Array1<f64>,
        w: &Array2<f64>,
        g: &Array1<f64>,
        g_rel: f64,
    ) -> Result<Search> {
        let kernel = self.p.kernel();
        Ok(match self.dir {
            Direction::Explicit => {
                let h = kernel.hessian(w);
                descent(g, newton_direction(&h, g), |v| h.dot(v), 0)
            }
            Direction::Cg => {
                let precond = self.opts.cg_jacobi.then(|| kernel.hessian_diag(w));
                let hv = |v: &Array1<f64>| kernel.hess_vec(w, v);
                cg_direction(hv, precond.as_ref(), g, g_rel, self.opts)
            }
        })
    }

    fn accepted(&self, x: &Array1<f64>, it: usize) -> Result<()> {
        if self.p.sign < 0.0 {
            check_divergence(self.p, x, self.m0_norm, self.opts, it)?;
        }
        Ok(())
    }
}

/// Minimize f from `x0` (or 0); `log` receives one row of [`driver::COLUMNS`] per iteration.
pub fn solve(
    p: &Problem,
    x0: Option<&Array1<f64>>,
    dir: Direction,
    opts: &SolverConfig,
    log: Log,
) -> Result<Solution> {
    let clock = std::time::Instant::now();
    let (x, (f, eval)) = start(p, x0)?;
    let oracle = Dense {
        p,
        dir,
        opts,
        m0_norm: frobenius(&p.m0),
    };
    let start = Start { x, f, eval, clock };
    let Finish {
        x,
        f,
        eval,
        last,
        report: r,
    } = driver::run(&oracle, start, opts, log)?;
    // At convergence the last logged iterate is x and W was formed there; at the limit, report
    // the last accepted iterate (best so far: f decreases monotonically).
    let w = if p.local.is_some() || !r.converged {
        chol_inverse(&eval)?
    } else {
        last
    };
    Ok(Solution {
        x,
        w,
        objective: if r.converged { r.objective } else { f },
        decrement: r.decrement,
        residual: r.residual,
        grad_max: r.grad_max,
        iterations: if r.converged {
            r.iterations
        } else {
            opts.max_iter
        },
        cg_iters: r.cg_iters,
        backtracks: r.backtracks,
        converged: r.converged,
    })
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
    Ok(lower_gram(f_inv.view()))
}

/// XᵀX for a lower-triangular X, symmetric by construction. Splitting X = [X₁₁ 0; X₂₁ X₂₂]
/// skips the zero block: XᵀX = [X₁₁ᵀX₁₁ + X₂₁ᵀX₂₁, X₂₁ᵀX₂₂; ·, X₂₂ᵀX₂₂], recursively, so
/// 2n³/3 flops instead of the 2n³ of a full product (half the cost of forming B at n = 2000).
pub fn lower_gram(x: ndarray::ArrayView2<f64>) -> Array2<f64> {
    let n = x.nrows();
    if n <= 256 {
        return symmetrize(&x.t().dot(&x));
    }
    let h = n / 2;
    let (x11, x21, x22) = (
        x.slice(ndarray::s![..h, ..h]),
        x.slice(ndarray::s![h.., ..h]),
        x.slice(ndarray::s![h.., h..]),
    );
    let mut out = Array2::zeros((n, n));
    let top = symmetrize(&(lower_gram(x11) + x21.t().dot(&x21)));
    let off = x21.t().dot(&x22); // (h, n − h)
    out.slice_mut(ndarray::s![..h, ..h]).assign(&top);
    out.slice_mut(ndarray::s![..h, h..]).assign(&off);
    out.slice_mut(ndarray::s![h.., ..h]).assign(&off.t());
    out.slice_mut(ndarray::s![h.., h..])
        .assign(&lower_gram(x22));
    out
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
