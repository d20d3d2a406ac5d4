//! The input matrix A: generated or read from a file, then checked to be SPD (spec §7.4).
use super::config::MatrixSpec;
use crate::error::usage;
use anyhow::{Context, Result};
use ndarray::{Array1, Array2};
use ndarray_linalg::QR;
use ndarray_npy::ReadNpyExt;
use rand::Rng;
use rand_distr::StandardNormal;
use std::path::Path;

use super::spd::check_spd_with;
pub use super::spd::{check_spd, condition, Conditioning, COND_EXACT_MAX_N, COND_WARN};

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
        // A generated A the user cannot edit: name the keys that made it and what to change
        // (not "divide A", which the user cannot do: random-spd at condition 1e200 was told
        // both to divide A by 1e200 and to lower matrix.condition).
        _ => check_spd_with(&a, false).map_err(|e| generated_error(spec, e))?,
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
            Array2::<f64>::read_npy(&bytes[..]).map_err(|e| super::npy::not_readable(path, what, e))
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
