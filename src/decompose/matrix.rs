//! The input matrix A: generated or read from a file, then checked to be SPD (spec §7.4).
use super::config::MatrixSpec;
use crate::error::usage;
use anyhow::{Context, Result};
use ndarray::{Array1, Array2};
use ndarray_linalg::{Cholesky, EigValsh, QR, UPLO};
use ndarray_npy::ReadNpyExt;
use rand::Rng;
use rand_distr::StandardNormal;
use std::path::Path;

/// Tolerance for |A − Aᵀ| relative to max |A|.
const SYMMETRY_TOL: f64 = 1e-10;

/// The range of max |A_ij| that is accepted. The solvers and certificates square entries of A
/// and of B ≈ A⁻¹ (‖A‖_F², Hessian entries BᵢⱼBₖₗ): at 1e160 or 1e-155 that over- or
/// underflowed (NaN residuals, a line search that never succeeds, a LAPACK error, exit 1),
/// for a problem that scaling makes trivial.
const SCALE_MAX: f64 = 1e100;
const SCALE_MIN: f64 = 1e-100;

/// cond(A) above this draws a warning (spec §7.4).
pub const COND_WARN: f64 = 1e12;

/// Largest n for which cond(A) comes from the eigenvalues; above, from the Cholesky diagonal.
pub const COND_EXACT_MAX_N: usize = 500;

/// An estimate of cond(A) = λ_max/λ_min and how it was obtained.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Conditioning {
    pub estimate: f64,
    pub method: &'static str,
}

impl Conditioning {
    /// The warning of §7.4 when the estimate exceeds [`COND_WARN`].
    pub fn warning(&self) -> Option<String> {
        (self.estimate > COND_WARN).then(|| {
            format!(
                "cond(A) ~ {:.3e} > {COND_WARN:.0e} ({}): A is ill-conditioned, expect B and C \
                 to lose about log10(cond) digits",
                self.estimate, self.method
            )
        })
    }
}

/// A, symmetrized, the relative asymmetry that was removed and cond(A) (summary.json).
pub fn build(spec: &MatrixSpec, rng: &mut impl Rng) -> Result<(Array2<f64>, f64, Conditioning)> {
    let a = match spec {
        MatrixSpec::RandomSpd { n, condition } => random_spd(*n, *condition, rng)?,
        &MatrixSpec::Wishart { n, scale, shift } => wishart(n, scale, shift, rng),
        &MatrixSpec::Banded {
            n,
            bandwidth,
            shift,
        } => banded(n, bandwidth, shift, rng),
        MatrixSpec::BlockExchangeable {
            sizes,
            diagonal,
            within,
            cross,
        } => block_exchangeable(sizes, diagonal, *within, *cross),
        &MatrixSpec::MixedFbm {
            periods,
            hurst,
            alpha,
        } => super::market::covariance(periods, hurst, alpha),
        MatrixSpec::File { path } => read(path)?,
    };
    let cond = match spec {
        // Which file: "A is not symmetric" alone did not say where A came from.
        MatrixSpec::File { path } => {
            check_spd(&a).with_context(|| format!("matrix.path {}", path.display()))?
        }
        // A generated A the user cannot edit: name the keys that made it and what to change.
        _ => check_spd(&a).map_err(|e| generated_error(spec, e))?,
    };
    let removed = asymmetry(&a);
    Ok((symmetrize(&a), removed, cond))
}

/// A generated A that failed [`check_spd`]: the keys that made it, the failure, and what to
/// change (the message named neither, and the user cannot edit a generated A).
fn generated_error(spec: &MatrixSpec, e: anyhow::Error) -> anyhow::Error {
    let (what, advice) = match spec {
        MatrixSpec::RandomSpd { condition, .. } => (
            format!("matrix.kind random-spd, matrix.condition = {condition:e}"),
            "Q diag(lambda) Q^T rounds lambda_min by about n*eps*condition, so a condition \
             above about 1e15 is not positive definite in double precision: lower \
             matrix.condition",
        ),
        MatrixSpec::Wishart { shift, .. } => (
            format!("matrix.kind wishart, matrix.shift = {shift}"),
            "G G^T / scale + shift*I is positive definite for shift > 0: raise matrix.shift",
        ),
        MatrixSpec::Banded { shift, .. } => (
            format!("matrix.kind banded, matrix.shift = {shift}"),
            "the diagonal shift must exceed minus the smallest eigenvalue of the standard \
             normal band: raise matrix.shift",
        ),
        MatrixSpec::BlockExchangeable { .. } => (
            "matrix.kind block-exchangeable".to_string(),
            "choose matrix.diagonal, matrix.within and matrix.cross so that A is positive \
             definite (e.g. each diagonal value above (its block size - 1)*|within| + (n - \
             its block size)*|cross|)",
        ),
        MatrixSpec::MixedFbm { .. } | MatrixSpec::File { .. } => (
            "matrix.kind mixed-fbm".to_string(),
            "change matrix.alpha or matrix.hurst",
        ),
    };
    usage(format!("{what}: {e:#}; {advice}"))
}

/// max |A − Aᵀ| / max |A|: the asymmetry below tolerance that `build` removed silently (§7.4).
pub fn asymmetry(a: &Array2<f64>) -> f64 {
    let scale = a.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let asym = (a - &a.t()).iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if scale > 0.0 {
        asym / scale
    } else {
        0.0
    }
}

/// Q diag(λ) Qᵀ, Q from the QR of a Gaussian matrix, λ log-spaced on [1, condition].
pub fn random_spd(n: usize, condition: f64, rng: &mut impl Rng) -> Result<Array2<f64>> {
    let g = Array2::from_shape_fn((n, n), |_| rng.sample::<f64, _>(StandardNormal));
    let (q, _) = g.qr().context("QR of a random matrix")?;
    let lambda = Array1::from_shape_fn(n, |i| {
        let t = if n > 1 {
            i as f64 / (n - 1) as f64
        } else {
            0.0
        };
        condition.powf(t)
    });
    let a = (&q * &lambda).dot(&q.t());
    Ok(symmetrize(&a))
}

/// A = G Gᵀ / scale + shift·I with G standard normal (spec §6.1 Ex. I/II, §7.2).
pub fn wishart(n: usize, scale: f64, shift: f64, rng: &mut impl Rng) -> Array2<f64> {
    let g = Array2::from_shape_fn((n, n), |_| rng.sample::<f64, _>(StandardNormal));
    let mut a = g.dot(&g.t()) / scale;
    a.diag_mut().mapv_inplace(|v| v + shift);
    symmetrize(&a)
}

/// Standard normal entries on |i − j| ≤ b (mirrored) plus `shift` on the diagonal (§6.1 Ex. IV).
pub fn banded(n: usize, b: usize, shift: f64, rng: &mut impl Rng) -> Array2<f64> {
    let mut a = Array2::zeros((n, n));
    for i in 0..n {
        // Saturating: i + b + 1 wrapped at b = 2^64 − 1, and A came out as shift·I.
        for j in i..n.min(i.saturating_add(b).saturating_add(1)) {
            let v: f64 = rng.sample(StandardNormal);
            a[[i, j]] = v;
            a[[j, i]] = v;
        }
        a[[i, i]] += shift;
    }
    a
}

/// Block-constant A: `diagonal[k]` on block k's diagonal, `within` off the diagonal inside a
/// block, `cross` between blocks (§6.1 Ex. III).
pub fn block_exchangeable(
    sizes: &[usize],
    diagonal: &[f64],
    within: f64,
    cross: f64,
) -> Array2<f64> {
    let block: Vec<usize> = sizes
        .iter()
        .enumerate()
        .flat_map(|(k, &s)| std::iter::repeat_n(k, s))
        .collect();
    let n = block.len();
    Array2::from_shape_fn((n, n), |(i, j)| match (i == j, block[i] == block[j]) {
        (true, _) => diagonal[block[i]],
        (false, true) => within,
        (false, false) => cross,
    })
}

pub fn symmetrize(a: &Array2<f64>) -> Array2<f64> {
    (a + &a.t()) * 0.5
}

fn read(path: &Path) -> Result<Array2<f64>> {
    crate::input::check(path).map_err(|e| usage(format!("{}: {e}", path.display())))?;
    // `.CSV` as well as `.csv`, as the pattern files' reader takes them.
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    match ext.to_ascii_lowercase().as_str() {
        "npy" => {
            let what = "a 2-D float64 .npy file";
            let bytes = super::npy::read(path, what)?;
            Array2::<f64>::read_npy(&bytes[..])
                .map_err(|e| usage(format!("{}: not {what}: {e}", path.display())))
        }
        "csv" => read_csv(path),
        _ => Err(usage(format!(
            "{}: expected a .npy or .csv file",
            path.display()
        ))),
    }
}

/// A header-less CSV of numbers, one row of A a line (blank lines skipped, a UTF-8 BOM and
/// CRLF endings allowed); messages name the line as the file numbers it.
fn read_csv(path: &Path) -> Result<Array2<f64>> {
    use std::io::BufRead;
    let p = path.display();
    let file = std::fs::File::open(path).map_err(|e| usage(format!("{p}: {e}")))?;
    let mut rows: Vec<(usize, Vec<f64>)> = Vec::new();
    for (k, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| usage(format!("{p} line {}: {e}", k + 1)))?;
        let line = line.trim_start_matches('\u{feff}').trim();
        if line.is_empty() {
            continue;
        }
        let value = |(c, s): (usize, &str)| {
            s.trim().parse::<f64>().map_err(|e| {
                let s = s.trim();
                // `1;2` or `1 2` said only "invalid float literal".
                let hint = if s.contains([';', '\t', ' ']) {
                    "; values must be separated by commas, not semicolons, tabs or spaces"
                } else if rows.is_empty() && s.chars().any(char::is_alphabetic) {
                    "; the file is read without a header: remove the header line"
                } else {
                    ""
                };
                usage(format!(
                    "{p} line {}, column {}: `{s}`: {e}{hint}",
                    k + 1,
                    c + 1
                ))
            })
        };
        let row = line
            .split(',')
            .enumerate()
            .map(value)
            .collect::<Result<_>>()?;
        rows.push((k + 1, row));
    }
    if rows.is_empty() {
        return Err(usage(format!("{p}: the file holds no rows (A is empty)")));
    }
    let n = rows.len();
    if let Some((line, r)) = rows.iter().find(|(_, r)| r.len() != n) {
        return Err(usage(format!(
            "{p}: A must be square, but line {line} has {} values for {n} lines",
            r.len()
        )));
    }
    Ok(Array2::from_shape_fn((n, n), |(i, j)| rows[i].1[j]))
}

/// Square, finite, symmetric to a tolerance, and Cholesky-factorizable.
pub fn check_spd(a: &Array2<f64>) -> Result<Conditioning> {
    let (r, c) = a.dim();
    if r != c {
        return Err(usage(format!("A must be square, got {r}x{c}")));
    }
    if r == 0 {
        return Err(usage("A is empty"));
    }
    if let Some(((i, j), v)) = a.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(usage(format!("A[{i},{j}] = {v} is not finite")));
    }
    let scale = a.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if !(SCALE_MIN..=SCALE_MAX).contains(&scale) {
        return Err(usage(format!(
            "max |A_ij| = {scale:.3e} is outside [{SCALE_MIN:.0e}, {SCALE_MAX:.0e}]: squares of \
             the entries of A and of B (about 1/A) leave double precision there, which failed \
             runs with NaN or LAPACK errors; the decomposition scales (tA = (B/t)^-1 + tC, \
             spec section 1.4), so divide A by about {:.0e} and scale B and C back",
            10f64.powf(scale.log10().round())
        )));
    }
    let ((i, j), asym) = (a - &a.t())
        .indexed_iter()
        .fold(((0, 0), 0.0f64), |m, (ij, v)| {
            if v.abs() > m.1 {
                (ij, v.abs())
            } else {
                m
            }
        });
    if asym > SYMMETRY_TOL * scale {
        // Where, and what to do: a file holding one triangle is the common cause.
        return Err(usage(format!(
            "A is not symmetric: max |A - A^T| = {asym:.3e} (tolerance {SYMMETRY_TOL:.1e} x \
             max|A|), at A[{i},{j}] = {:e} against A[{j},{i}] = {:e} (0-based); store both \
             triangles of A, or save (A + A^T)/2 if the difference is rounding",
            a[[i, j]],
            a[[j, i]]
        )));
    }
    let factor = match a.cholesky(UPLO::Lower) {
        Ok(f) => f,
        Err(e) => return Err(not_pd(a, e)),
    };
    condition(a, &factor.diag().to_owned())
}

/// cond(A) from the eigenvalues for n ≤ [`COND_EXACT_MAX_N`] (O(n³)), else the lower
/// bound (max Lᵢᵢ / min Lᵢᵢ)² from the Cholesky factor A = LLᵀ (free; Lᵢᵢ² lies in
/// [λ_min, λ_max] since Lᵢᵢ² is a Schur complement of a principal submatrix).
pub fn condition(a: &Array2<f64>, chol_diag: &Array1<f64>) -> Result<Conditioning> {
    if a.nrows() <= COND_EXACT_MAX_N {
        let e = symmetrize(a).eigvalsh(UPLO::Lower)?;
        let (lo, hi) = e
            .iter()
            .fold((f64::INFINITY, 0.0f64), |(l, h), &v| (l.min(v), h.max(v)));
        let estimate = if lo > 0.0 { hi / lo } else { f64::INFINITY };
        return Ok(Conditioning {
            estimate,
            method: "from the eigenvalues",
        });
    }
    let (lo, hi) = chol_diag
        .iter()
        .fold((f64::INFINITY, 0.0f64), |(l, h), &v| (l.min(v), h.max(v)));
    Ok(Conditioning {
        estimate: (hi / lo).powi(2),
        method: "lower bound (max/min Cholesky diagonal)^2",
    })
}

/// The Cholesky failure, with λ_min(A); a λ_min > 0 (A positive definite in exact arithmetic,
/// e.g. random-spd at condition 1e20 gave λ_min = +6.5e3) is put against λ_max, since "not
/// positive definite" beside a positive λ_min read as a contradiction.
fn not_pd(a: &Array2<f64>, e: impl std::fmt::Display) -> anyhow::Error {
    let (min_eig, max_eig) = symmetrize(a)
        .eigvalsh(UPLO::Lower)
        .map(|e| {
            e.iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
                    (l.min(v), h.max(v))
                })
        })
        .unwrap_or((f64::NAN, f64::NAN));
    let rounding = if min_eig > 0.0 {
        format!(
            " = {:.1e} x lambda_max: positive, but below what double precision resolves \
             (about n*eps = {:.1e}), so A is singular to working precision",
            min_eig / max_eig,
            a.nrows() as f64 * f64::EPSILON
        )
    } else {
        String::new()
    };
    usage(format!(
        "A is not positive definite: Cholesky failed ({e}; LAPACK's code is the 1-based \
         failing pivot column); lambda_min(A) = {min_eig:.6e}{rounding}"
    ))
}
