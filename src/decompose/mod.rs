//! `lab decompose`: the unique decomposition A = B⁻¹ + C, B ≻ 0, B ∈ L^⊥, C ∈ L
//! (spec decompose.md §1.2), by closed forms (§3.9), primal/dual Newton and Newton-CG (§3).
//!
//! Reading order: one solve, top to bottom.
//! 1. Config: [`config`] (`DecomposeConfig`: matrix, subspace, solver, output, mode), run by
//!    `execute` below.
//! 2. Matrix and subspace: [`matrix::build`] makes A; [`structures::build`] makes the
//!    `Subspace` L (explicit bases in [`subspace`], with [`circulant`] columns or a
//!    [`block::BlockGroup`] where the structure has one).
//! 3. Solve dispatch: [`solve::decompose`] picks the method (§2.4), checks nondegeneracy
//!    ([`nondegen`]) and goes to a closed form ([`closed`]) or to a Newton solver: dense primal
//!    or dual ([`newton::solve`]), banded ([`banded::solve`]), block-reduced ([`block::solve`]),
//!    circulant ([`circulant::solve`]).
//! 4. Newton driver and oracle: each of those solvers builds a [`driver::NewtonOracle`] (how to
//!    evaluate f, its gradient and a direction on its structure; CG in [`cg`]) and calls
//!    [`driver::run`], the one loop: direction → decrement → stop test → backtracking → a
//!    metrics.csv row.
//! 5. Certificates: [`summarize`] checks the answer (reconstruction, tr(AB) = n, λ_min(B),
//!    duality gap).
//! 6. Outputs: metrics.csv rows (written as the driver logs them), B.npy / C.npy, summary.json.
//!    Finance mode ([`finance::run`]) replaces 2–6 by solves on covariance matrices and writes
//!    finance.csv, strategy_*.csv and figure1.svg.
pub mod banded;
pub mod block;
pub mod certify;
pub mod cg;
mod checks;
pub mod circulant;
pub mod closed;
pub mod components;
pub mod config;
pub mod driver;
pub mod dualnum;
pub mod elements;
pub mod finance;
pub mod market;
pub mod matrix;
pub mod memory;
pub mod newton;
pub mod nondegen;
pub mod npy;
pub mod pattern;
pub mod solve;
pub mod spd;
pub mod structures;
pub mod subspace;

pub use config::DecomposeConfig;

use crate::experiment::{Ctx, Experiment};
use crate::plot::defaults::DefaultPlot;
use crate::run::Run;
use anyhow::Result;
use config::Method;
use ndarray::Array2;
use ndarray_linalg::{Cholesky, FactorizeC, UPLO};
use serde::Serialize;
use solve::Outcome;
use std::time::Instant;

/// Final numbers written to summary.json.
#[derive(Serialize, Debug)]
pub struct Summary {
    pub n: usize,
    /// Dimension of the subspace the solver iterated over (m primal, p dual).
    pub dim: usize,
    pub method: Method,
    /// The stopping rule was met and every final certificate passed (`certificate_failures`).
    pub converged: bool,
    /// What the stopping rule alone said (false: the iteration limit was hit).
    pub stop_rule_met: bool,
    /// The tolerance τ the certificates below are held to ([`certify::tolerance`]).
    pub certificate_tolerance: f64,
    /// The certificates above τ, one line each; any one makes the run not converged.
    pub certificate_failures: Vec<String>,
    pub iterations: usize,
    pub cg_iters: usize,
    pub backtracks: usize,
    pub log_det_b_inv: f64,
    pub decrement: f64,
    pub residual: f64,
    pub grad_max: f64,
    /// ‖A − (B⁻¹ + C)‖_F / ‖A‖_F.
    pub reconstruction_error: f64,
    /// ‖P_L(B)‖_F (zero when B ∈ L^⊥) and relative to ‖B‖_F.
    pub proj_l_b: f64,
    pub proj_l_b_rel: f64,
    /// |tr(AB) − n| / n (§1.4).
    pub trace_ab_error: f64,
    /// λ_min(B): dense eigenvalues up to n = 500, else 1/λ_max(B⁻¹) by Lanczos to 1e-9
    /// relative ([`certify::min_eig`]); B ≻ 0 itself is proved by B's Cholesky factor.
    pub min_eig_b: f64,
    /// §2.3 gap between C and the dual-feasible P_{L^⊥}(B); None if that is not PD. Not held to
    /// the tolerance where P_L(B) is at least λ_min(B) ([`certify::gap_not_decisive`]).
    pub duality_gap: Option<f64>,
    pub nondegeneracy: nondegen::Report,
    /// max |A − Aᵀ| / max |A| of the input, removed by symmetrizing (below 1e-10, §7.4).
    pub input_asymmetry: f64,
    /// cond(A) and how it was estimated; `warnings` holds the §7.4 warning above 1e12.
    pub cond_a: Option<matrix::Conditioning>,
    pub warnings: Vec<String>,
    pub setup_s: f64,
    pub check_s: f64,
    pub solve_s: f64,
    pub output_s: f64,
    /// The peak-memory estimate the run was admitted with (docs/decompose.md, "Memory").
    pub memory_estimate_mb: f64,
    /// Measured peak resident set size of the process (VmHWM) when the summary is written.
    pub peak_rss_mb: Option<f64>,
}

impl Experiment for DecomposeConfig {
    const NAME: &'static str = "decompose";
    const ABOUT: &'static str =
        "Unique inverse decomposition A = B^-1 + C of an SPD matrix under linear constraints";
    const PLOTS: &'static [DefaultPlot] = &[DefaultPlot {
        x: "iter",
        y: "decrement",
        logy: true,
        split: &[],
        reference: None,
    }];
    const USES_TORCH: bool = false;
    const DEFAULT_YAML: &'static str = include_str!("../../configs/decompose/default.yaml");
    const SET_EXAMPLE: &'static str = "solver.tol_residual=1e-12";
    const KINDS_YAML: &'static str = include_str!("../../configs/decompose/kinds.yaml");

    fn seed(&self) -> u64 {
        self.seed
    }

    fn memory_need(&self) -> Option<crate::study::MemoryNeed> {
        memory::need(self)
    }

    fn check_inputs(&self) -> Result<()> {
        match (&self.mode, &self.matrix) {
            (config::Mode::Finance(f), _) => market::check_alpha(f),
            (
                _,
                &config::MatrixSpec::MixedFbm {
                    periods,
                    hurst,
                    alpha,
                },
            ) => market::check_fractional_part("matrix.alpha", alpha, 1.0, periods, hurst),
            _ => Ok(()),
        }
    }

    fn execute(&self, run: &mut Run, ctx: &mut Ctx) -> Result<()> {
        if let config::Mode::Finance(f) = &self.mode {
            let mut metrics = run.csv("metrics.csv", driver::COLUMNS)?;
            let rows = finance::run(f, &self.solver, run, &mut |row| {
                row.write(&mut metrics)?;
                run.check_interrupt()
            })?;
            return run.write_summary(&finance::summary(&rows)?);
        }
        let budget = memory::budget(self);
        let mut solver = self.solver.clone();
        if let Some(m) = memory::auto_override(self, budget) {
            eprintln!(
                "note: auto picks {} instead of an explicit Hessian, which would not fit in memory",
                memory::method_name(m)
            );
            solver.method = m;
        }
        let estimate = memory::estimate(self, budget);
        let t0 = Instant::now();
        let (a, asymmetry, cond) = matrix::build(&self.matrix, &mut ctx.rng)?;
        let warning = cond.warning();
        if let Some(w) = &warning {
            eprintln!("warning: {w}");
        }
        let sub = structures::build(&self.subspace, a.nrows(), solver.strict_basis, &mut ctx.rng)?;
        let setup_s = t0.elapsed().as_secs_f64();
        let mut metrics = run.csv("metrics.csv", driver::COLUMNS)?;
        let mut progress = run.progress(solver.max_iter as u64, "decompose");
        let out = solve::decompose(&a, &sub, &solver, &mut |row| {
            progress.set(row.iter as u64, &format!("decrement {:.2e}", row.decrement));
            row.write(&mut metrics)?;
            run.check_interrupt()
        })?;
        progress.finish(&format!("{} Newton steps", out.iterations));
        // A signal during the certificates (inside the solve) or the outputs stops here, not
        // after everything ran (each check is between two whole files).
        run.check_interrupt()?;
        let t1 = Instant::now();
        if self.output.save_matrices {
            crate::run::write_atomic_with(&run.path("B.npy"), |t| {
                Ok(ndarray_npy::write_npy(t, &out.b)?)
            })?;
            crate::run::write_atomic_with(&run.path("C.npy"), |t| {
                Ok(ndarray_npy::write_npy(t, &out.c)?)
            })?;
        }
        if self.output.csv {
            write_csv(&run.path("B.csv"), &out.b)?;
            write_csv(&run.path("C.csv"), &out.c)?;
        }
        run.check_interrupt()?;
        let mut summary = summarize(&a, &sub, &out)?;
        run.check_interrupt()?;
        summary.setup_s = setup_s;
        summary.input_asymmetry = asymmetry;
        summary.cond_a = Some(cond);
        summary.warnings.extend(warning);
        summary.warnings.extend(sub.dependence_warning());
        summary
            .warnings
            .extend(near_degenerate(&summary.nondegeneracy));
        summary.warnings.extend(certify::gap_not_decisive(&summary));
        summary.certificate_tolerance = certify::tolerance(&summary);
        summary.certificate_failures = certify::failures(&summary);
        summary.converged = out.converged && summary.certificate_failures.is_empty();
        summary.output_s = t1.elapsed().as_secs_f64();
        summary.memory_estimate_mb = estimate.bytes / 1e6;
        summary.peak_rss_mb = memory::peak_rss().map(|b| b / 1e6);
        run.write_summary(&summary)?;
        anyhow::ensure!(
            summary.certificate_failures.is_empty() || !out.converged,
            "not converged: the stopping rule was met after {} Newton iterations but the final \
             certificates fail their tolerance ({}); the answer was saved",
            out.iterations,
            summary.certificate_failures.join("; ")
        );
        anyhow::ensure!(
            out.converged,
            "not converged: stopped at the iteration limit after {} Newton iterations (decrement {:.3e}, residual {:.3e}); \
             the last iterate was saved",
            out.iterations,
            out.decrement,
            out.residual
        );
        Ok(())
    }
}

/// The §7.4 warning for a nearly degenerate L (a certified margin below 1e-9).
fn near_degenerate(r: &nondegen::Report) -> Option<String> {
    let m = r.margin.filter(|m| *m < NEAR_DEGENERATE)?;
    let w = format!(
        "nearly degenerate subspace: (ND) margin {m:.3e} < {NEAR_DEGENERATE:.0e} ({}); expect a \
         huge B and an ill-conditioned Newton system",
        r.stage
    );
    eprintln!("warning: {w}");
    Some(w)
}

/// Below this (ND) margin a run warns (spec §7.4).
pub const NEAR_DEGENERATE: f64 = 1e-9;

fn write_csv(path: &std::path::Path, x: &Array2<f64>) -> Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for row in x.rows() {
        w.write_record(row.iter().map(|v| format!("{v:e}")))?;
    }
    crate::run::write_atomic(path, &w.into_inner()?)
}

/// ln det X through Cholesky; None when X is not PD.
pub fn ln_det(x: &Array2<f64>) -> Option<f64> {
    let f = x.cholesky(UPLO::Lower).ok()?;
    Some(2.0 * f.diag().mapv(f64::ln).sum())
}

/// Certificates of the answer: reconstruction, tr(AB) = n (§1.4), min eig of B, gap (§2.3).
///
/// One Cholesky factor of B serves three of them: its success proves B ≻ 0, its diagonal gives
/// log det B, and B⁻¹ (for the reconstruction error) comes from it by a triangular inverse.
/// That factor is of B with its rows and columns in reverse order ([`reversed`]): the dual
/// solvers build C = A − B⁻¹ from a factor of B in natural order, and the same factor here
/// would reproduce that B⁻¹ bit for bit, so the residual A − (B⁻¹ + C) would be the rounding
/// of one subtraction whatever B⁻¹'s own error (a near-degenerate L with cond(B) = 3e6 passed
/// at 9e-11 while the written pair was 5e-6 off A). Factored in another order, B⁻¹ carries
/// rounding of its own for every method, as the primal ones' B = (A − C)⁻¹ always did.
/// λ_min(B) is 1/λ_max(B⁻¹) by Lanczos on that B⁻¹ ([`certify::min_eig`]); the gap reuses
/// log det B when P_L(B) is exactly zero, and the solver's log det(A − C) where it has one.
pub fn summarize(a: &Array2<f64>, sub: &structures::Subspace, out: &Outcome) -> Result<Summary> {
    let n = a.nrows();
    let b_factor = reversed(&out.b).factorizec(UPLO::Lower)?;
    let ln_det_b = 2.0 * b_factor.factor.diag().mapv(f64::ln).sum();
    let b_inv = reversed(&newton::chol_inverse(&b_factor)?);
    drop(b_factor);
    let recon = newton::frobenius(&(a - &(&b_inv + &out.c)));
    let trace_ab: f64 = (a * &out.b).sum();
    let min_eig_b = certify::min_eig(&out.b, &b_inv)?;
    drop(b_inv);
    let proj = sub.project_l(&out.b)?;
    let proj_l_b = newton::frobenius(&proj);
    let known = certify::KnownLogDets {
        b: Some(ln_det_b),
        a_minus_c: out.ln_det_a_minus_c,
    };
    let gap = if proj_l_b == 0.0 {
        certify::duality_gap(a, &out.b, &out.c, &out.b, known)
    } else {
        certify::duality_gap(a, &(&out.b - &proj), &out.c, &out.b, known)
    };
    Ok(Summary {
        n,
        dim: out.dim,
        method: out.method,
        converged: out.converged,
        stop_rule_met: out.converged,
        certificate_tolerance: 0.0,
        certificate_failures: Vec::new(),
        iterations: out.iterations,
        cg_iters: out.cg_iters,
        backtracks: out.backtracks,
        log_det_b_inv: -ln_det_b,
        decrement: out.decrement,
        residual: out.residual,
        grad_max: out.grad_max,
        reconstruction_error: recon / newton::frobenius(a),
        proj_l_b,
        proj_l_b_rel: proj_l_b / newton::frobenius(&out.b),
        trace_ab_error: (trace_ab - n as f64).abs() / n as f64,
        min_eig_b,
        duality_gap: gap,
        nondegeneracy: clone_report(&out.nondegeneracy),
        input_asymmetry: 0.0,
        cond_a: None,
        warnings: Vec::new(),
        setup_s: 0.0,
        check_s: out.check_s,
        solve_s: out.solve_s,
        output_s: 0.0,
        memory_estimate_mb: 0.0,
        peak_rss_mb: None,
    })
}

/// X with its rows and columns in reverse order, J X J (J the exchange matrix).
fn reversed(x: &Array2<f64>) -> Array2<f64> {
    x.slice(ndarray::s![..;-1, ..;-1]).to_owned()
}

fn clone_report(r: &nondegen::Report) -> nondegen::Report {
    nondegen::Report {
        holds: r.holds,
        stage: r.stage.clone(),
        margin: r.margin,
    }
}

/// tr(A B̃) − log det B̃ − n − log det(A − C) for a dual-feasible B̃ (§2.3), every log det
/// by its own Cholesky factorisation ([`certify::duality_gap`] with nothing known).
pub fn duality_gap(
    a: &Array2<f64>,
    b_feas: &Array2<f64>,
    c: &Array2<f64>,
    b: &Array2<f64>,
) -> Option<f64> {
    certify::duality_gap(a, b_feas, c, b, certify::KnownLogDets::default())
}
