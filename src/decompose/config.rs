//! Typed config of `lab decompose` (defaults in configs/decompose/default.yaml).
use crate::config::{Checker, Validate};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct DecomposeConfig {
    pub seed: u64,
    pub matrix: MatrixSpec,
    pub subspace: SubspaceSpec,
    pub solver: SolverConfig,
    pub output: OutputConfig,
}

/// Where A comes from.
#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum MatrixSpec {
    /// Q diag(λ) Qᵀ with Haar-random Q and eigenvalues log-spaced from 1 to `condition`.
    RandomSpd { n: usize, condition: f64 },
    /// A dense matrix from a `.npy` (float64) or `.csv` (no header) file.
    File { path: PathBuf },
}

/// The subspace L that C must lie in.
#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum SubspaceSpec {
    /// Coordinate pattern: each off-diagonal pair {i, j} is in Ω with probability `density`.
    RandomPattern { density: f64 },
    /// Coordinate pattern Ω given as index pairs (0-based): C may be non-zero only there.
    Pattern { pairs: Vec<[usize; 2]> },
}

#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct SolverConfig {
    pub method: Method,
    pub max_iter: usize,
    pub tol_decrement: f64,
    pub tol_residual: f64,
    pub armijo: f64,
    pub backtrack: f64,
    pub max_backtracks: usize,
}

#[derive(Deserialize, Serialize, Debug, Clone, Copy, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    Newton,
}

#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    pub save_matrices: bool,
}

impl Validate for DecomposeConfig {
    fn validate(&self, c: &mut Checker) {
        match &self.matrix {
            MatrixSpec::RandomSpd { n, condition } => {
                c.at_least("matrix.n", *n, 1);
                c.check(
                    "matrix.condition",
                    condition.is_finite() && *condition >= 1.0,
                    format!("must be >= 1, got {condition}"),
                );
            }
            MatrixSpec::File { path } => c.check(
                "matrix.path",
                path.exists(),
                format!("no such file {}", path.display()),
            ),
        }
        if let SubspaceSpec::RandomPattern { density } = &self.subspace {
            c.check(
                "subspace.density",
                (0.0..=1.0).contains(density),
                format!("must be in [0, 1], got {density}"),
            );
        }
        let s = &self.solver;
        c.at_least("solver.max_iter", s.max_iter, 1);
        c.positive("solver.tol_decrement", s.tol_decrement);
        c.positive("solver.tol_residual", s.tol_residual);
        c.check(
            "solver.armijo",
            s.armijo > 0.0 && s.armijo < 0.5,
            "must be in (0, 0.5)",
        );
        c.in_open_unit("solver.backtrack", s.backtrack);
        c.at_least("solver.max_backtracks", s.max_backtracks, 1);
    }
}
