//! Circulant subspaces (spec §1.3, §3.6): L spanned by symmetric circulant matrices, each given
//! by its first column c (M_ij = c_{(i−j) mod n}, symmetric iff c_k = c_{n−k}). With A circulant
//! too, everything is diagonal in the Fourier basis: with a = eig(A), δₖ = eig(Dₖ) and
//! μ = a − Σₖ xₖδₖ, Φ = −Σⱼ log μⱼ, gₖ = Σⱼ δₖⱼ/μⱼ, Hₖₗ = Σⱼ δₖⱼδₗⱼ/μⱼ², feasibility ⇔ μ > 0:
//! O(mn) per gradient, O(m²n) per Hessian. For a non-circulant A the elements go to the
//! generic solvers as an explicit basis.
use super::config::SolverConfig;
use super::driver::{self, exact_step, Gradient, Log, NewtonOracle, Search, Start};
use super::newton::{self, Diverged};
use super::subspace::SymSparse;
use crate::error::usage;
use anyhow::Result;
use ndarray::{Array1, Array2};
use ndarray_linalg::SolveC;

/// First columns of the spanning elements: Z_k for each lag (ones where i − j ≡ ±k mod n;
/// lag 0 is I) and the explicit `columns`; neither given means every lag 1..=n/2.
pub fn columns(n: usize, lags: &[usize], explicit: &[Vec<f64>]) -> Result<Vec<Array1<f64>>> {
    if n == 0 {
        return Err(usage("subspace circulant: n = 0"));
    }
    let mut out = Vec::new();
    let all: Vec<usize> = (1..=n / 2).collect();
    let lags = if lags.is_empty() && explicit.is_empty() {
        &all[..]
    } else {
        lags
    };
    for &k in lags {
        if k > n / 2 {
            return Err(usage(format!(
                "subspace circulant: lag {k} is out of range for n = {n} (0 <= lag <= n/2; lag \
                 n - k is the same element as lag k)"
            )));
        }
        let mut c = Array1::zeros(n);
        c[k] = 1.0;
        c[(n - k) % n] = 1.0;
        out.push(c);
    }
    for (e, col) in explicit.iter().enumerate() {
        if col.len() != n {
            return Err(usage(format!(
                "subspace circulant: column {e} has length {}, need n = {n}",
                col.len()
            )));
        }
        if let Some(k) = col.iter().position(|v| !v.is_finite()) {
            return Err(usage(format!(
                "subspace circulant: column {e} has a non-finite entry at {k}"
            )));
        }
        let scale = col.iter().fold(0.0f64, |s, v| s.max(v.abs()));
        if let Some(k) = (1..n).find(|&k| (col[k] - col[n - k]).abs() > 1e-12 * scale) {
            return Err(usage(format!(
                "subspace circulant: column {e} is not symmetric: c[{k}] = {} but c[{}] = {} \
                 (a symmetric circulant needs c_k = c_(n-k))",
                col[k],
                n - k,
                col[n - k]
            )));
        }
        // Only the span counts: a column far from unit size is brought to max |entry| 1 (its
        // squares under- or overflowed: 1e-300 was dropped as dependent, 1e300 failed the
        // line search), as basis-file elements are.
        let unit = if scale > 0.0 && !(1e-100..=1e100).contains(&scale) {
            scale
        } else {
            1.0
        };
        out.push(Array1::from(col.clone()) / unit);
    }
    Ok(out)
}

/// The upper triangle of the circulant with first column `c`.
pub fn sparse(c: &Array1<f64>) -> SymSparse {
    let n = c.len();
    (0..n)
        .flat_map(|i| (i..n).map(move |j| (i, j, c[(j - i) % n])))
        .filter(|e| e.2 != 0.0)
        .collect()
}

/// The dense circulant with first column `c`.
pub fn dense(c: &Array1<f64>) -> Array2<f64> {
    let n = c.len();
    Array2::from_shape_fn((n, n), |(i, j)| c[(i + n - j) % n])
}

/// Eigenvalues λⱼ = Σₗ cₗ cos(2πjl/n) of the symmetric circulant with first column `c`.
pub fn eig(c: &Array1<f64>) -> Array1<f64> {
    let n = c.len();
    let cos = cos_table(n);
    Array1::from_shape_fn(n, |j| (0..n).map(|l| c[l] * cos[(j * l) % n]).sum())
}

/// First column of the circulant with eigenvalues `lam` (inverse of [`eig`]).
pub fn from_eig(lam: &Array1<f64>) -> Array1<f64> {
    eig(lam) / lam.len() as f64
}

fn cos_table(n: usize) -> Vec<f64> {
    let w = 2.0 * std::f64::consts::PI / n as f64;
    (0..n).map(|t| (w * t as f64).cos()).collect()
}

/// The first column of A when A is circulant to 1e-10 relative (Frobenius), else None.
pub fn column_of(a: &Array2<f64>) -> Option<Array1<f64>> {
    let n = a.nrows();
    let c = Array1::from_shape_fn(n, |k| {
        (0..n).map(|j| a[[(j + k) % n, j]]).sum::<f64>() / n as f64
    });
    let dev: f64 = a
        .indexed_iter()
        .map(|((i, j), v)| (v - c[(i + n - j) % n]).powi(2))
        .sum();
    (dev.sqrt() <= 1e-10 * newton::frobenius(a)).then_some(c)
}

/// Same shape as the block reduction's answer: B, C and the reduced Newton's report.
pub type Solution = super::block::Reduced;

/// The primal in the Fourier basis: μ(x) = a − Σₖ xₖδₖ, Φ = −Σⱼ log μⱼ.
struct Fourier<'a> {
    lam_a: Array1<f64>,
    /// δₖ as rows (m × n) and their Gram matrix.
    delta: Array2<f64>,
    gram: Array2<f64>,
    a_norm: f64,
    opts: &'a SolverConfig,
}

impl Fourier<'_> {
    fn mu(&self, x: &Array1<f64>) -> Array1<f64> {
        &self.lam_a - &self.delta.t().dot(x)
    }
}

impl NewtonOracle for Fourier<'_> {
    /// μ: positive exactly inside the domain.
    type Eval = Array1<f64>;
    /// The exact Hessian.
    type Local = Array2<f64>;

    fn value(&self, x: &Array1<f64>) -> Option<(f64, Array1<f64>)> {
        let mu = self.mu(x);
        mu.iter()
            .all(|&v| v > 0.0)
            .then(|| (-mu.mapv(f64::ln).sum(), mu))
    }

    /// gₖ = Σⱼ δₖⱼ/μⱼ, Hₖₗ = Σⱼ δₖⱼδₗⱼ/μⱼ²; the residual is ‖P_L(B)‖_F/‖B‖_F with B's
    /// eigenvalues 1/μ.
    fn gradient(&self, mu: &Array1<f64>) -> Result<Gradient<Array2<f64>>> {
        let inv_mu = mu.mapv(|v| 1.0 / v);
        let scaled = &self.delta * &inv_mu; // δₖⱼ/μⱼ
        let g = scaled.sum_axis(ndarray::Axis(1));
        let b_norm = inv_mu.mapv(|v| v * v).sum().sqrt();
        let proj = if g.is_empty() {
            0.0
        } else {
            g.dot(&self.gram.solvec(&g)?)
        };
        Ok(Gradient {
            residual: proj.max(0.0).sqrt() / b_norm,
            g,
            local: scaled.dot(&scaled.t()),
        })
    }

    fn direction(
        &self,
        _x: &Array1<f64>,
        hess: &Array2<f64>,
        g: &Array1<f64>,
        _g_rel: f64,
    ) -> Result<Search> {
        exact_step(hess, g)
    }

    /// Diverging iterates (‖C‖_F > divergence_factor·‖A‖_F) raise [`Diverged`] (§1.5 stage 5).
    fn accepted(&self, x: &Array1<f64>, it: usize) -> Result<()> {
        let c_eig = self.delta.t().dot(x);
        let c_norm = c_eig.mapv(|v| v * v).sum().sqrt();
        if c_norm > self.opts.divergence_factor * self.a_norm {
            let dir = c_eig.mapv(|v| -v / c_norm);
            return Err(anyhow::Error::new(Diverged {
                direction: dense(&from_eig(&dir)),
                iterations: it,
            }));
        }
        Ok(())
    }
}

/// Damped Newton over x with the rules of §3.2–3.4; `a_col` and `cols` are first columns of A
/// and of independent elements of L.
pub fn solve(
    a_col: &Array1<f64>,
    cols: &[Array1<f64>],
    opts: &SolverConfig,
    log: Log,
) -> Result<Solution> {
    let clock = std::time::Instant::now();
    let (n, m) = (a_col.len(), cols.len());
    let lam_a = eig(a_col);
    let mut delta = Array2::zeros((m, n));
    for (k, c) in cols.iter().enumerate() {
        delta.row_mut(k).assign(&eig(c));
    }
    if lam_a.iter().any(|&v| v <= 0.0) {
        return Err(usage(
            "A is not positive definite (a Fourier eigenvalue is <= 0)",
        ));
    }
    let p = Fourier {
        gram: delta.dot(&delta.t()),
        a_norm: (lam_a.mapv(|v| v * v).sum()).sqrt(),
        lam_a,
        delta,
        opts,
    };
    let start = Start {
        x: Array1::zeros(m),
        f: -p.lam_a.mapv(f64::ln).sum(),
        eval: p.lam_a.clone(),
        clock,
    };
    let end = driver::run(&p, start, opts, log)?;
    let c_col = cols
        .iter()
        .zip(&end.x)
        .fold(Array1::zeros(n), |acc, (c, &xk)| acc + c * xk);
    Ok(Solution {
        b: dense(&from_eig(&end.eval.mapv(|v| 1.0 / v))),
        c: dense(&c_col),
        x: end.x,
        report: end.report,
    })
}
