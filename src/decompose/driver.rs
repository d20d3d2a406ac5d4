//! The one damped-Newton loop behind every iterative solver (spec §3.2–3.4): at each iterate
//! the oracle gives the gradient and a descent direction, the driver takes the Newton
//! decrement, applies the stopping rule of §3.3, runs the Armijo backtracking that stays inside
//! the domain, and logs one row of [`COLUMNS`]. A structure (dense, banded, block-reduced,
//! circulant) only says how to evaluate f and its derivatives: its [`NewtonOracle`].
use super::cg::{self, CgOptions};
use super::config::SolverConfig;
use crate::run::Metrics;
use anyhow::{bail, Result};
use ndarray::{Array1, Array2};
use ndarray_linalg::SolveC;
use std::time::Instant;

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

/// One Newton iteration as metrics.csv records it (one field per column of [`COLUMNS`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IterationRow {
    pub iter: usize,
    pub objective: f64,
    pub decrement: f64,
    pub grad_norm: f64,
    pub grad_max: f64,
    pub residual: f64,
    pub cg_iters: usize,
    pub step: f64,
    pub backtracks: usize,
    pub wall_s: f64,
}

impl IterationRow {
    /// Write this row to a metrics file with the columns [`COLUMNS`].
    pub fn write(&self, metrics: &mut Metrics) -> Result<()> {
        let mut row = metrics.new_row();
        row.num("iter", self.iter as f64)
            .num("objective", self.objective)
            .num("decrement", self.decrement)
            .num("grad_norm", self.grad_norm)
            .num("grad_max", self.grad_max)
            .num("residual", self.residual)
            .num("cg_iters", self.cg_iters as f64)
            .num("step", self.step)
            .num("backtracks", self.backtracks as f64)
            .num("wall_s", self.wall_s);
        metrics.write(&row)
    }
}

/// Receives one row per iteration.
pub type Log<'a> = &'a mut dyn FnMut(&IterationRow) -> Result<()>;

/// A convex objective f over coefficients x, as one structure evaluates it.
pub trait NewtonOracle {
    /// What evaluating f leaves besides its value (a Cholesky factor, say); the next iteration
    /// starts from the one of the accepted point.
    type Eval;
    /// What the gradient leaves for the direction (W = M⁻¹, a Hessian, ...).
    type Local;
    /// f(x) and its by-product; None outside the domain (the feasibility oracle of §3.1).
    fn value(&self, x: &Array1<f64>) -> Option<(f64, Self::Eval)>;
    /// The gradient at the point `at` was evaluated at, its residual and what the direction
    /// needs.
    fn gradient(&self, at: &Self::Eval) -> Result<Gradient<Self::Local>>;
    /// A descent direction for a nonempty x: the Newton step or a substitute; `g_rel` =
    /// ‖g‖/‖g₀‖ sets an inexact solver's tolerance.
    fn direction(
        &self,
        x: &Array1<f64>,
        local: &Self::Local,
        g: &Array1<f64>,
        g_rel: f64,
    ) -> Result<Search>;
    /// Called after each accepted step with the new x (the divergence test of §1.5 stage 5).
    fn accepted(&self, _x: &Array1<f64>, _it: usize) -> Result<()> {
        Ok(())
    }
}

/// First-order information at one iterate.
pub struct Gradient<L> {
    pub g: Array1<f64>,
    /// ‖P(gradient matrix)‖_F / ‖W‖_F: zero exactly at the optimum.
    pub residual: f64,
    pub local: L,
}

/// A search direction, the CG iterations spent on it and λ² = dᵀHd, the squared Hessian norm
/// of the direction actually taken (the Newton decrement when d is the Newton step). Build it
/// with [`descent`], which makes λ² = −gᵀd too.
pub struct Search {
    pub d: Array1<f64>,
    pub cg_iters: usize,
    pub lambda2: f64,
}

/// Where the driver starts: a feasible x with f(x), its by-product and the solver's clock.
pub struct Start<E> {
    pub x: Array1<f64>,
    pub f: f64,
    pub eval: E,
    pub clock: Instant,
}

/// The numbers of the last logged iteration (the one whose stop test ended the loop, or the
/// last one allowed) and the totals over all iterations.
#[derive(Clone, Copy, Debug)]
pub struct Report {
    /// Newton steps taken before that iteration (so max_iter − 1 when the limit was hit).
    pub iterations: usize,
    pub converged: bool,
    /// f at that iteration's iterate.
    pub objective: f64,
    /// λ²/2, the Newton decrement's estimate of f − f*.
    pub decrement: f64,
    pub residual: f64,
    pub grad_max: f64,
    pub cg_iters: usize,
    pub backtracks: usize,
}

/// What the driver ends with: the last accepted iterate (after the last step when the limit
/// was hit), what the gradient left at the last logged iterate, and the report.
pub struct Finish<E, L> {
    pub x: Array1<f64>,
    pub f: f64,
    pub eval: E,
    pub last: L,
    pub report: Report,
}

/// Damped Newton from `start` until [`converged`] or `opts.max_iter` iterations.
pub fn run<O: NewtonOracle>(
    oracle: &O,
    start: Start<O::Eval>,
    opts: &SolverConfig,
    log: Log,
) -> Result<Finish<O::Eval, O::Local>> {
    let Start {
        mut x,
        mut f,
        mut eval,
        clock,
    } = start;
    let (mut g0, mut last, mut cg_total, mut bt_total) = (None, None, 0, 0);
    let mut floor = Floor::default();
    for it in 1..=opts.max_iter {
        let Gradient { g, residual, local } = oracle.gradient(&eval)?;
        let g_norm = g.dot(&g).sqrt();
        let g_rel = g_norm / g0.get_or_insert(g_norm).max(f64::MIN_POSITIVE);
        let search = if x.is_empty() {
            Search {
                d: Array1::zeros(0),
                cg_iters: 0,
                lambda2: 0.0,
            }
        } else {
            oracle.direction(&x, &local, &g, g_rel)?
        };
        let lambda2 = search.lambda2;
        let grad_max = g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let done = converged(it, x.is_empty(), lambda2, f, residual, opts)
            || floor.stalled(residual, lambda2);
        let step = if done {
            None
        } else {
            Some(backtrack(
                |z| oracle.value(z),
                &x,
                &search.d,
                f,
                lambda2,
                opts,
            )?)
        };
        let (t, backtracks) = step.as_ref().map_or((0.0, 0), |s| (s.t, s.backtracks));
        cg_total += search.cg_iters;
        bt_total += backtracks;
        let wall = clock.elapsed().as_secs_f64();
        log(&IterationRow {
            iter: it,
            objective: f,
            decrement: 0.5 * lambda2,
            grad_norm: g_norm,
            grad_max,
            residual,
            cg_iters: search.cg_iters,
            step: t,
            backtracks,
            wall_s: wall,
        })?;
        let report = Report {
            iterations: it - 1,
            converged: done,
            objective: f,
            decrement: 0.5 * lambda2,
            residual,
            grad_max,
            cg_iters: cg_total,
            backtracks: bt_total,
        };
        last = Some((local, report));
        let Some(step) = step else { break };
        x += &(&search.d * t);
        (f, eval) = (step.f, step.eval);
        oracle.accepted(&x, it)?;
    }
    let Some((last, report)) = last else {
        bail!("solver.max_iter must be at least 1");
    };
    Ok(Finish {
        x,
        f,
        eval,
        last,
        report,
    })
}

/// The stopping rule of every Newton loop (§3.4): nothing to optimise, or from the second
/// iteration on, the scale-free relative KKT residual at most `tol_residual` (default 1e-12)
/// or half the squared Newton decrement `lambda2` at most `tol_decrement`·max(1, |f|) (default
/// 1e-30: only a step below rounding). The test runs before a step, so the step that brought
/// the residual down was taken; [`Floor`] ends a run at the rounding floor.
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

/// λ² below which Newton is deep in its quadratic phase, where every (even inexact) step
/// should make the residual a new minimum.
pub const STALL_LAMBDA2: f64 = 1e-8;
/// Iterations in that phase without a new minimum of the residual that mean the rounding floor.
pub const STALL_ITERS: usize = 3;

/// The rounding-floor test: [`STALL_ITERS`] iterations in a row with λ² ≤ [`STALL_LAMBDA2`]
/// and no new minimum of the residual, so more steps cannot help (ill-conditioned A, where the
/// residual cannot reach `tol_residual`). The final certificates then judge the answer
/// (docs/decompose.md, "Stopping and certificates").
#[derive(Default)]
pub struct Floor {
    best: Option<f64>,
    flat: usize,
}

impl Floor {
    /// Record this iteration's residual and λ²; true when the floor is reached.
    pub fn stalled(&mut self, residual: f64, lambda2: f64) -> bool {
        let improved = self.best.is_none_or(|b| residual < b);
        if improved {
            self.best = Some(residual);
        }
        self.flat = if improved || lambda2 > STALL_LAMBDA2 {
            0
        } else {
            self.flat + 1
        };
        self.flat >= STALL_ITERS
    }
}

/// An accepted step: its length, the backtracks it took, f there and the evaluation's by-product.
pub struct LineStep<T> {
    pub t: f64,
    pub backtracks: usize,
    pub f: f64,
    pub eval: T,
}

/// Armijo backtracking that only accepts points inside the domain, where `value` returns the
/// objective and whatever its evaluation produced (a Cholesky factor, say) (§3.3). If the step
/// falls below the damped Newton step 1/(1 + λ), that step is taken: by self-concordance it is
/// feasible and satisfies Armijo for α ≤ ½.
pub fn backtrack<T>(
    value: impl Fn(&Array1<f64>) -> Option<(f64, T)>,
    x: &Array1<f64>,
    d: &Array1<f64>,
    f: f64,
    lambda2: f64,
    opts: &SolverConfig,
) -> Result<LineStep<T>> {
    let damped = 1.0 / (1.0 + lambda2.sqrt());
    let mut t = 1.0;
    for k in 0..opts.max_backtracks {
        if t < damped {
            if let Some((v, eval)) = value(&(x + &(d * damped))) {
                return Ok(LineStep {
                    t: damped,
                    backtracks: k,
                    f: v,
                    eval,
                });
            }
            bail!(
                "line search failed: the damped Newton step left the PD cone (round-off trouble)"
            );
        }
        if let Some((v, eval)) = value(&(x + &(d * t))) {
            if v <= f - opts.armijo * t * lambda2 {
                return Ok(LineStep {
                    t,
                    backtracks: k,
                    f: v,
                    eval,
                });
            }
        }
        t *= opts.backtrack;
    }
    bail!(
        "line search failed after {} backtracks",
        opts.max_backtracks
    )
}

/// The exact Newton step: H d = −g by Cholesky (H ≻ 0 for the reduced problems).
pub fn exact_step(hess: &Array2<f64>, g: &Array1<f64>) -> Result<Search> {
    Ok(descent(g, hess.solvec(&(-g))?, |v| hess.dot(v), 0))
}

/// Inexact Newton direction by (Jacobi-preconditioned) CG on H d = −g with the forcing term
/// of `g_rel` (§3.6), scaled by [`descent`]. When CG stops at its cap before the forcing
/// tolerance, its last iterate is still taken (truncated Newton): CG from 0 minimises the
/// quadratic model over a Krylov space that starts with the preconditioned −g, so the iterate
/// does at least as well on the model as a steepest-descent step. The reference's fallback
/// d = −g once the relative residual exceeds 1e-2 (§3.6 [R]) stalled on ill-conditioned duals,
/// where floating-point CG needs several times m iterations (cond(H) ≈ cond(A)² ≥ 1e6: dual
/// Newton-CG at n = 10, κ(A) = 1e3 needed 110–330 CG iterations against a cap of m = 51 and
/// ran 100 Newton steps of −g without converging). −g remains for an iterate that does not
/// descend.
pub fn cg_direction(
    hess_vec: impl Fn(&Array1<f64>) -> Array1<f64>,
    precond: Option<&Array1<f64>>,
    g: &Array1<f64>,
    g_rel: f64,
    opts: &SolverConfig,
) -> Search {
    let o = CgOptions::from_config(opts, g.len(), g_rel);
    let r = cg::solve(&hess_vec, &(-g), precond, &o);
    descent(g, r.x, hess_vec, r.iters)
}

/// `d` if it descends along −g, else −g; scaled to the minimiser t* = −gᵀd / dᵀHd of the
/// quadratic model along it, so that λ² = −gᵀd = dᵀHd = ‖d‖²_x. The damped step 1/(1 + λ) of
/// [`backtrack`] stays in the Dikin ellipsoid (hence in the domain) only when λ is this Hessian
/// norm. An exact Newton step or a CG iterate already has −gᵀd = dᵀHd (the factor is 1 up to
/// rounding); the fallback −g does not: −gᵀd = ‖g‖² can be far below ‖g‖²_x, and its
/// "damped" step then left the PD cone (dual Newton-CG at κ(A) ≥ 1e3). One Hessian-vector
/// product per Newton step. Where dᵀHd is not positive (H not numerically PD along d), `d` is
/// kept and λ² = −gᵀd, with no feasibility guarantee for the damped step.
pub fn descent(
    g: &Array1<f64>,
    d: Array1<f64>,
    hess_vec: impl Fn(&Array1<f64>) -> Array1<f64>,
    cg_iters: usize,
) -> Search {
    let d = if g.dot(&d) >= 0.0 { -g } else { d };
    let slope = (-g.dot(&d)).max(0.0);
    let curvature = d.dot(&hess_vec(&d));
    if !(curvature > 0.0 && curvature.is_finite()) {
        return Search {
            d,
            cg_iters,
            lambda2: slope,
        };
    }
    let t = slope / curvature;
    Search {
        d: d * t,
        cg_iters,
        lambda2: slope * t,
    }
}
