//! Closed-form decompositions, no iteration (spec §3.9).
use super::banded::Band;
use super::newton::symmetric_inverse;
use super::structures::Closed;
use anyhow::Result;
use ndarray::{s, Array2};

/// (B, C) for a structure with a closed form.
pub fn solve(a: &Array2<f64>, closed: &Closed) -> Result<(Array2<f64>, Array2<f64>)> {
    let n = a.nrows();
    let b = match closed {
        // §3.9.1: L = {0}.
        Closed::Zero => return Ok((symmetric_inverse(a)?, Array2::zeros((n, n)))),
        // §3.9.2: L^⊥ = diagonal, B = diag(1/Aᵢᵢ), C = A − diag(A).
        Closed::Diagonal => {
            let mut b = Array2::zeros((n, n));
            let mut c = a.clone();
            for i in 0..n {
                b[[i, i]] = 1.0 / a[[i, i]];
                c[[i, i]] = 0.0;
            }
            return Ok((b, c));
        }
        // §3.9.3: B = n E₀ / tr(A E₀).
        Closed::Span(e0) => e0 * (n as f64 / (a * e0).sum()),
        // §3.9.4: block-diagonal inverse.
        Closed::Blocks(sizes) => {
            let mut b = Array2::zeros((n, n));
            let mut c = a.clone();
            let mut at = 0;
            for &k in sizes {
                let r = s![at..at + k, at..at + k];
                b.slice_mut(r)
                    .assign(&symmetric_inverse(&a.slice(r).to_owned())?);
                c.slice_mut(r).fill(0.0);
                at += k;
            }
            return Ok((b, c));
        }
        // §3.9.5: band max-det completion, cliques {i..i+b}, separators {i..i+b−1}.
        &Closed::Band(bw) => {
            let b = band_inverse_completion(a, bw)?;
            // B is banded: B⁻¹ by banded Cholesky and n banded solves, O(n²b) (§3.10).
            let c = match Band::from_dense(&b, bw).cholesky() {
                Some(l) => a - &l.dense_inverse(),
                None => a - &symmetric_inverse(&b)?,
            };
            return Ok((b, c));
        }
    };
    let c = a - &symmetric_inverse(&b)?;
    Ok((b, c))
}

/// B = Σ pad((A_KK)⁻¹) − Σ pad((A_SS)⁻¹) over the cliques/separators of the band graph.
fn band_inverse_completion(a: &Array2<f64>, bw: usize) -> Result<Array2<f64>> {
    let n = a.nrows();
    if bw + 1 >= n {
        return symmetric_inverse(a);
    }
    let mut b = Array2::zeros((n, n));
    for i in 0..n - bw {
        let r = s![i..i + bw + 1, i..i + bw + 1];
        let inv = symmetric_inverse(&a.slice(r).to_owned())?;
        b.slice_mut(r).zip_mut_with(&inv, |x, y| *x += y);
        if i > 0 && bw > 0 {
            let r = s![i..i + bw, i..i + bw];
            let inv = symmetric_inverse(&a.slice(r).to_owned())?;
            b.slice_mut(r).zip_mut_with(&inv, |x, y| *x -= y);
        }
    }
    Ok(b)
}
