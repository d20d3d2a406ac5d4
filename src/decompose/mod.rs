//! `lab decompose`: the unique decomposition A = B⁻¹ + C, B ≻ 0, B ∈ L^⊥, C ∈ L
//! (spec decompose.md §1.2), computed by primal Newton on Φ(x) = −log det(A − C(x)) (§2.1, §3.2).
pub mod config;
pub mod matrix;
pub mod newton;
pub mod subspace;

pub use config::DecomposeConfig;

use crate::experiment::{Ctx, Experiment};
use crate::run::Run;
use anyhow::Result;
use ndarray::Array2;
use ndarray_linalg::{Cholesky, EigValsh, InverseC, UPLO};
use serde::Serialize;

/// Final numbers written to summary.json.
#[derive(Serialize, Debug)]
pub struct Summary {
    pub n: usize,
    pub m: usize,
    pub converged: bool,
    pub iterations: usize,
    pub objective: f64,
    pub decrement: f64,
    pub residual: f64,
    pub reconstruction_error: f64,
    pub trace_ab_error: f64,
    pub min_eig_b: f64,
    pub duality_gap: Option<f64>,
    pub setup_s: f64,
    pub solve_s: f64,
}

impl Experiment for DecomposeConfig {
    const NAME: &'static str = "decompose";
    const DEFAULT_YAML: &'static str = include_str!("../../configs/decompose/default.yaml");

    fn seed(&self) -> u64 {
        self.seed
    }

    fn execute(&self, run: &mut Run, ctx: &mut Ctx) -> Result<()> {
        let t0 = std::time::Instant::now();
        let a = matrix::build(&self.matrix, &mut ctx.rng)?;
        let basis = subspace::build(&self.subspace, a.nrows(), &mut ctx.rng)?;
        let setup_s = t0.elapsed().as_secs_f64();
        let mut metrics = run.csv("metrics.csv", newton::COLUMNS)?;
        let mut progress = run.progress(self.solver.max_iter as u64, "decompose");
        let t1 = std::time::Instant::now();
        let sol = newton::solve(&a, &basis, &self.solver, &mut |row| {
            progress.set(row[0] as u64, &format!("decrement {:.2e}", row[2]));
            metrics.row(row)?;
            run.check_interrupt()
        })?;
        let solve_s = t1.elapsed().as_secs_f64();
        progress.finish(&format!("{} Newton steps", sol.iterations));
        if self.output.save_matrices {
            ndarray_npy::write_npy(run.path("B.npy"), &sol.b)?;
            ndarray_npy::write_npy(run.path("C.npy"), &sol.c)?;
        }
        let summary = summarize(&a, &basis, &sol, setup_s, solve_s)?;
        run.write_summary(&summary)?;
        anyhow::ensure!(
            sol.converged,
            "not converged after {} Newton iterations (decrement {:.3e}, residual {:.3e}); \
             the last iterate was saved",
            sol.iterations,
            sol.decrement,
            sol.residual
        );
        Ok(())
    }
}

/// Certificates of the answer: reconstruction, tr(AB) = n (§1.4), min eig of B, duality gap (§2.3).
fn summarize(
    a: &Array2<f64>,
    basis: &subspace::Basis,
    sol: &newton::Solution,
    setup_s: f64,
    solve_s: f64,
) -> Result<Summary> {
    let n = a.nrows();
    let b_inv = sol.b.invc()?;
    let recon = (a - &(&b_inv + &sol.c))
        .iter()
        .map(|v| v * v)
        .sum::<f64>()
        .sqrt();
    let a_norm = a.iter().map(|v| v * v).sum::<f64>().sqrt();
    let trace_ab: f64 = (a * &sol.b).sum();
    let min_eig_b = sol
        .b
        .eigvalsh(UPLO::Lower)?
        .iter()
        .cloned()
        .fold(f64::INFINITY, f64::min);
    Ok(Summary {
        n,
        m: basis.len(),
        converged: sol.converged,
        iterations: sol.iterations,
        objective: sol.objective,
        decrement: sol.decrement,
        residual: sol.residual,
        reconstruction_error: recon / a_norm,
        trace_ab_error: (trace_ab - n as f64).abs() / n as f64,
        min_eig_b,
        duality_gap: duality_gap(a, basis, sol),
        setup_s,
        solve_s,
    })
}

/// Gap between the primal C and the dual-feasible B̃ = P_{L^⊥}(B) (§2.3); None if B̃ is not PD.
fn duality_gap(a: &Array2<f64>, basis: &subspace::Basis, sol: &newton::Solution) -> Option<f64> {
    let b_proj = basis.project_out(&sol.b).ok()?;
    let ln_det_b = 2.0
        * b_proj
            .cholesky(UPLO::Lower)
            .ok()?
            .diag()
            .mapv(f64::ln)
            .sum();
    let n = a.nrows() as f64;
    let trace_ab: f64 = (a * &b_proj).sum();
    Some(trace_ab - ln_det_b - n + sol.objective)
}
