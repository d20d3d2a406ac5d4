//! The subspace L as a basis of sparse symmetric matrices D₁..D_m (spec §1.1, §1.3), with the
//! inner products the primal problem needs (§2.1).
use super::config::SubspaceSpec;
use crate::error::usage;
use anyhow::Result;
use ndarray::{Array1, Array2};
use ndarray_linalg::{CholeskyFactorized, FactorizeC, SolveC, UPLO};
use rand::Rng;
use std::collections::BTreeSet;

/// A sparse symmetric matrix stored as its upper-triangle entries (i ≤ j, value).
pub type SymSparse = Vec<(usize, usize, f64)>;

pub struct Basis {
    pub n: usize,
    pub elems: Vec<SymSparse>,
    gram: CholeskyFactorized<ndarray::OwnedRepr<f64>>,
}

pub fn build(spec: &SubspaceSpec, n: usize, rng: &mut impl Rng) -> Result<Basis> {
    let pairs: Vec<[usize; 2]> = match spec {
        SubspaceSpec::Pattern { pairs } => pairs.clone(),
        SubspaceSpec::RandomPattern { density } => (0..n)
            .flat_map(|i| (i + 1..n).map(move |j| [i, j]))
            .filter(|_| rng.gen::<f64>() < *density)
            .collect(),
    };
    from_pattern(n, &pairs)
}

/// L = span{sym(eᵢeⱼᵀ) : {i, j} ∈ Ω}. A diagonal pair makes L contain the PSD matrix eᵢeᵢᵀ,
/// so no decomposition exists (§1.4); that is reported as an error.
pub fn from_pattern(n: usize, pairs: &[[usize; 2]]) -> Result<Basis> {
    let mut seen = BTreeSet::new();
    let mut elems = Vec::with_capacity(pairs.len());
    for (k, &[a, b]) in pairs.iter().enumerate() {
        if a >= n || b >= n {
            return Err(usage(format!(
                "subspace pair {k} = [{a}, {b}] is out of range for n = {n}"
            )));
        }
        if a == b {
            return Err(usage(format!(
                "subspace pair {k} = [{a}, {a}] is diagonal: L then holds the PSD matrix e{a} e{a}^T, \
                 so L is degenerate and no decomposition exists (spec section 1.4)"
            )));
        }
        let (i, j) = (a.min(b), a.max(b));
        if !seen.insert((i, j)) {
            return Err(usage(format!("subspace pair [{i}, {j}] is listed twice")));
        }
        elems.push(vec![(i, j, 1.0)]);
    }
    Basis::new(n, elems)
}

impl Basis {
    /// Checks linear independence through the Gram matrix G_kl = ⟨D_k, D_l⟩.
    pub fn new(n: usize, elems: Vec<SymSparse>) -> Result<Basis> {
        let m = elems.len();
        let gram = Array2::from_shape_fn((m, m), |(k, l)| inner(&elems[k], &elems[l]));
        let gram = gram.factorizec(UPLO::Lower).map_err(|_| {
            usage("the basis of L is linearly dependent (its Gram matrix is singular)")
        })?;
        Ok(Basis { n, elems, gram })
    }

    /// m = dim L.
    pub fn len(&self) -> usize {
        self.elems.len()
    }

    /// True for L = {0}, where the answer is B = A⁻¹, C = 0.
    pub fn is_empty(&self) -> bool {
        self.elems.is_empty()
    }

    /// C(x) = Σₖ xₖ Dₖ as a dense matrix.
    pub fn combine(&self, x: &Array1<f64>) -> Array2<f64> {
        let mut c = Array2::zeros((self.n, self.n));
        for (d, &xk) in self.elems.iter().zip(x) {
            for &(i, j, v) in d {
                c[[i, j]] += xk * v;
                if i != j {
                    c[[j, i]] += xk * v;
                }
            }
        }
        c
    }

    /// gₖ = ⟨X, Dₖ⟩ for a symmetric dense X.
    pub fn inner_products(&self, x: &Array2<f64>) -> Array1<f64> {
        self.elems
            .iter()
            .map(|d| {
                d.iter()
                    .map(|&(i, j, v)| if i == j { v } else { 2.0 * v } * x[[i, j]])
                    .sum()
            })
            .collect()
    }

    /// Hₖₗ = tr(B Dₖ B Dₗ) (§2.1), summed over the sparse entries of both elements.
    pub fn hessian(&self, b: &Array2<f64>) -> Array2<f64> {
        let full: Vec<Vec<(usize, usize, f64)>> = self.elems.iter().map(expand).collect();
        let m = self.len();
        let mut h = Array2::zeros((m, m));
        for k in 0..m {
            for l in k..m {
                let mut s = 0.0;
                for &(a, bb, u) in &full[k] {
                    for &(c, d, w) in &full[l] {
                        s += u * w * b[[bb, c]] * b[[d, a]];
                    }
                }
                h[[k, l]] = s;
                h[[l, k]] = s;
            }
        }
        h
    }

    /// Coefficients c of the orthogonal projection P_L(X) = Σ cₖDₖ, from G c = (⟨X, Dₖ⟩)ₖ.
    pub fn projection_coeffs(&self, g: &Array1<f64>) -> Result<Array1<f64>> {
        Ok(self.gram.solvec(g)?)
    }

    /// ‖P_L(X)‖_F given gₖ = ⟨X, Dₖ⟩: √(cᵀg).
    pub fn projection_norm(&self, g: &Array1<f64>) -> Result<f64> {
        Ok(self.projection_coeffs(g)?.dot(g).max(0.0).sqrt())
    }

    /// P_{L^⊥}(X) = X − P_L(X).
    pub fn project_out(&self, x: &Array2<f64>) -> Result<Array2<f64>> {
        let c = self.projection_coeffs(&self.inner_products(x))?;
        Ok(x - &self.combine(&c))
    }
}

/// ⟨D, E⟩ for two sparse symmetric matrices.
fn inner(d: &SymSparse, e: &SymSparse) -> f64 {
    let (fd, fe) = (expand(d), expand(e));
    fd.iter()
        .flat_map(|&(i, j, u)| {
            fe.iter()
                .filter(move |&&(p, q, _)| p == i && q == j)
                .map(move |t| u * t.2)
        })
        .sum()
}

/// Both triangles of a sparse symmetric matrix.
fn expand(d: &SymSparse) -> Vec<(usize, usize, f64)> {
    d.iter()
        .flat_map(|&(i, j, v)| {
            let mirror = (i != j).then_some((j, i, v));
            std::iter::once((i, j, v)).chain(mirror)
        })
        .collect()
}
