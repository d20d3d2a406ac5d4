//! Basis elements from generators and files, and complements by SVD (spec §1.3, §9).
use super::subspace::{sparse_of, SymSparse};
use crate::error::usage;
use anyhow::Result;
use ndarray::{Array2, Array3, Axis};
use ndarray_linalg::SVDInto;
use ndarray_npy::ReadNpyExt;
use rand::Rng;
use rand_distr::StandardNormal;
use std::path::Path;

/// Largest svec dimension n(n+1)/2 for which a complement basis is computed by SVD.
const MAX_SVEC: usize = 5_000;

/// `dim` random symmetric matrices with zero trace (so I ∈ L^⊥ and (ND) holds).
pub fn random_trace_free(n: usize, dim: usize, rng: &mut impl Rng) -> Vec<SymSparse> {
    (0..dim)
        .map(|_| {
            let g = Array2::from_shape_fn((n, n), |_| rng.sample::<f64, _>(StandardNormal));
            let mut s = (&g + &g.t()) * 0.5;
            let shift = s.diag().sum() / n as f64;
            s.diag_mut().mapv_inplace(|v| v - shift);
            sparse_of(&s)
        })
        .collect()
}

/// A (m, n, n) float64 `.npy` of symmetric matrices.
pub fn read_basis(path: &Path, n: usize) -> Result<Vec<SymSparse>> {
    let what = "a 3-D float64 .npy basis file of shape (m, n, n)";
    let bytes = super::npy::read(path, what)?;
    let arr =
        Array3::<f64>::read_npy(&bytes[..]).map_err(|e| super::npy::not_readable(path, what, e))?;
    drop(bytes);
    let (m, r, c) = arr.dim();
    if r != n || c != n {
        return Err(usage(format!(
            "{}: basis matrices are {r}x{c} but A is {n}x{n}",
            path.display()
        )));
    }
    // More matrices than the symmetric n×n matrices have dimensions cannot be independent, and
    // the dependence check's Gram matrix is m×m: 10⁵ copies of a 2×2 matrix (a 3 MB file)
    // took 13 GB and minutes before this.
    let dim = n * (n + 1) / 2;
    if m > dim {
        return Err(usage(format!(
            "{}: holds {m} matrices, more than the n(n+1)/2 = {dim} dimensions of the \
             symmetric {n}x{n} matrices, so at most {dim} of them are linearly independent",
            path.display()
        )));
    }
    let p = path.display();
    // An empty file, or one of zeros (a wrong file, or values lost on the way), spanned
    // nothing: basis-file ran as L = {0} (B = A^-1) under a "linearly dependent" warning, or
    // none at all for m = 0, and perp-basis-file printed a PSD "basis element 0" of an L the
    // user never listed. Refused like an empty pattern file.
    if m == 0 || arr.iter().all(|v| *v == 0.0) {
        let what = if m == 0 {
            "holds no matrices"
        } else {
            "holds only zero matrices"
        };
        return Err(usage(format!(
            "{p}: {what}, so it spans nothing; check the file (for L = {{0}} on purpose use \
             `subspace.kind: pattern` with `pairs: []`)"
        )));
    }
    (0..m)
        .map(|k| {
            let d = arr.index_axis(Axis(0), k).to_owned();
            if let Some(((i, j), v)) = d.indexed_iter().find(|(_, v)| !v.is_finite()) {
                return Err(usage(format!(
                    "{p}: basis element {k} (0-based): non-finite entry at ({i}, {j}) = {v}"
                )));
            }
            let scale = d.iter().fold(0.0f64, |s, v| s.max(v.abs()));
            let asym = (&d - &d.t()).iter().fold(0.0f64, |s, v| s.max(v.abs()));
            if asym > 1e-12 * scale {
                return Err(usage(format!(
                    "{p}: basis element {k} (0-based) is not symmetric: max |D - D^T| = \
                     {asym:.3e}; store both triangles of each matrix"
                )));
            }
            // Only the span counts: an element far from unit size is brought to max |entry| 1,
            // since its Gram entries (squares) under- or overflowed, and a nonzero element of
            // size 1e-300 was dropped as linearly dependent (L = {0} for span{it}).
            let unit = if scale > 0.0 && !(1e-100..=1e100).contains(&scale) {
                scale
            } else {
                1.0
            };
            Ok(sparse_of(&((&d + &d.t()) * (0.5 / unit))))
        })
        .collect()
}

/// svec coordinates (off-diagonals ×√2, so the Frobenius product is the dot product).
fn svec(d: &SymSparse, n: usize) -> Vec<f64> {
    let mut v = vec![0.0; n * (n + 1) / 2];
    let idx = |i: usize, j: usize| i * n - i * (i + 1) / 2 + j;
    for &(i, j, x) in d {
        v[idx(i, j)] += if i == j {
            x
        } else {
            x * std::f64::consts::SQRT_2
        };
    }
    v
}

/// An orthonormal basis of the orthogonal complement of span(elems), by SVD in svec space.
pub fn complement(n: usize, elems: &[SymSparse]) -> Result<Vec<SymSparse>> {
    let total = n * (n + 1) / 2;
    if total > MAX_SVEC {
        return Err(usage(format!(
            "computing a complement basis needs n(n+1)/2 <= {MAX_SVEC} (n = {n}); give the other \
             basis explicitly"
        )));
    }
    let rows = elems.len().max(1);
    let mut v = Array2::zeros((rows, total));
    for (k, d) in elems.iter().enumerate() {
        v.row_mut(k).assign(&ndarray::Array1::from(svec(d, n)));
    }
    let (_, s, vt) = v.svd_into(false, true)?;
    let vt = vt.expect("requested V^T");
    let smax = s.iter().cloned().fold(0.0, f64::max);
    let rank = s.iter().filter(|&&x| x > 1e-12 * smax && x > 0.0).count();
    let inv_sqrt2 = std::f64::consts::FRAC_1_SQRT_2;
    Ok((rank..total)
        .map(|r| {
            let mut out = SymSparse::new();
            let mut k = 0;
            for i in 0..n {
                for j in i..n {
                    let x = vt[[r, k]] * if i == j { 1.0 } else { inv_sqrt2 };
                    if x != 0.0 {
                        out.push((i, j, x));
                    }
                    k += 1;
                }
            }
            out
        })
        .collect())
}
