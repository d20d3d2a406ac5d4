//! A subspace of Sⁿ as a basis of sparse symmetric matrices D₁..D_m (spec §1.1, §1.3), with the
//! inner products, Hessians and projections the log-det problems need (§2.1, §2.2, §3.6).
use crate::error::usage;
use anyhow::Result;
use ndarray::{Array1, Array2};
use ndarray_linalg::{CholeskyFactorized, FactorizeC, SolveC, UPLO};
use std::collections::HashMap;

/// A sparse symmetric matrix stored as its upper-triangle entries (i ≤ j, value).
pub type SymSparse = Vec<(usize, usize, f64)>;

/// Relative pivot below which a basis element counts as linearly dependent (spec §9: 1e-12).
pub const DEPENDENCE_TOL: f64 = 1e-12;

/// Gram matrix G_kl = ⟨D_k, D_l⟩: diagonal for coordinate/orthogonal bases, else factorized.
enum Gram {
    Diagonal(Array1<f64>),
    Dense(CholeskyFactorized<ndarray::OwnedRepr<f64>>),
}

pub struct Basis {
    pub n: usize,
    pub elems: Vec<SymSparse>,
    /// Both triangles of every element, for the entry formulas.
    full: Vec<SymSparse>,
    gram: Gram,
    /// Dₖ = uₖ e_{tₖ}ᵀ + e_{tₖ} uₖᵀ for all k (tied finance bases, coordinate pairs): (U, t).
    rank2: Option<(Array2<f64>, Vec<usize>)>,
    /// Elements dropped as linearly dependent (indices into the list given to `new`).
    pub dropped: Vec<usize>,
}

impl Basis {
    /// Build a basis, dropping linearly dependent elements (reported in `dropped`), or failing
    /// when `strict` (spec §7.4).
    pub fn new(n: usize, elems: Vec<SymSparse>, strict: bool) -> Result<Basis> {
        for (k, d) in elems.iter().enumerate() {
            if let Some(&(i, j, v)) = d
                .iter()
                .find(|&&(i, j, v)| i > j || j >= n || !v.is_finite())
            {
                return Err(usage(format!(
                    "basis element {k}: bad entry ({i}, {j}) = {v} (need i <= j < n = {n}, finite)"
                )));
            }
        }
        let (diag, off) = gram_entries(&elems);
        let m = elems.len();
        let (keep, dropped): (Vec<usize>, Vec<usize>) = if off.is_empty() {
            (0..m).partition(|&k| diag[k] > 0.0)
        } else {
            independent_subset(&dense_gram(&diag, &off))
        };
        if !dropped.is_empty() && strict {
            return Err(usage(format!(
                "the basis of L is linearly dependent: elements {dropped:?} are combinations of \
                 the others (set solver.strict_basis: false to drop them with a warning)"
            )));
        }
        let elems: Vec<SymSparse> = keep.iter().map(|&k| elems[k].clone()).collect();
        let gram = if off.is_empty() {
            Gram::Diagonal(keep.iter().map(|&k| diag[k]).collect())
        } else {
            let g = dense_gram(&diag, &off)
                .select(ndarray::Axis(0), &keep)
                .select(ndarray::Axis(1), &keep);
            Gram::Dense(
                g.factorizec(UPLO::Lower)
                    .expect("independent subset has PD Gram"),
            )
        };
        let full = elems.iter().map(expand).collect();
        let rank2 = rank2_form(n, &elems);
        Ok(Basis {
            n,
            elems,
            full,
            gram,
            rank2,
            dropped,
        })
    }

    /// m = dim L.
    pub fn len(&self) -> usize {
        self.elems.len()
    }

    /// True for L = {0}.
    pub fn is_empty(&self) -> bool {
        self.elems.is_empty()
    }

    /// Total number of stored entries (both triangles).
    pub fn nnz(&self) -> usize {
        self.full.iter().map(Vec::len).sum()
    }

    /// Σₖ xₖ Dₖ as a dense matrix.
    pub fn combine(&self, x: &Array1<f64>) -> Array2<f64> {
        let mut c = Array2::zeros((self.n, self.n));
        for (d, &xk) in self.full.iter().zip(x) {
            for &(i, j, v) in d {
                c[[i, j]] += xk * v;
            }
        }
        c
    }

    /// gₖ = ⟨X, Dₖ⟩ for a dense X.
    pub fn inner_products(&self, x: &Array2<f64>) -> Array1<f64> {
        self.full
            .iter()
            .map(|d| d.iter().map(|&(i, j, v)| v * x[[i, j]]).sum())
            .collect()
    }

    /// Hₖₗ = tr(W Dₖ W Dₗ) (§2.1) by the entry formula, O((Σ nnz)²).
    /// Uses W Dₖ W densely instead when that is cheaper (dense elements).
    pub fn hessian(&self, w: &Array2<f64>) -> Array2<f64> {
        let m = self.len();
        let (n, nnz) = (self.n as f64, self.nnz() as f64);
        let mut h = Array2::zeros((m, m));
        if let Some((u, t)) = &self.rank2 {
            if nnz * nnz / 2.0 > 2.0 * n * n * m as f64 {
                return rank2_hessian(w, u, t);
            }
        }
        if nnz * nnz / 2.0 > m as f64 * (n * n * n + nnz) {
            for k in 0..m {
                let wdw = w.dot(&self.dense(k)).dot(w);
                let row = self.inner_products(&wdw);
                h.row_mut(k).assign(&row);
            }
            return (&h + &h.t()) * 0.5;
        }
        for k in 0..m {
            for l in k..m {
                let s = pair_trace(&self.full[k], &self.full[l], w);
                h[[k, l]] = s;
                h[[l, k]] = s;
            }
        }
        h
    }

    /// diag(H), the Jacobi preconditioner of Newton-CG (§3.6).
    pub fn hessian_diag(&self, w: &Array2<f64>) -> Array1<f64> {
        self.full.iter().map(|d| pair_trace(d, d, w)).collect()
    }

    /// (Hv)ₖ = ⟨Dₖ, W C(v) W⟩ (§3.6), by dense products or entrywise, whichever is cheaper.
    pub fn hess_vec(&self, w: &Array2<f64>, v: &Array1<f64>) -> Array1<f64> {
        let n = self.n as f64;
        let nnz = self.nnz() as f64;
        if nnz * nnz < n * n * n {
            let cv: Vec<(usize, usize, f64)> = self
                .full
                .iter()
                .zip(v)
                .flat_map(|(d, &vk)| d.iter().map(move |&(a, b, u)| (a, b, u * vk)))
                .collect();
            self.full
                .iter()
                .map(|d| {
                    d.iter()
                        .map(|&(i, j, u)| {
                            u * cv
                                .iter()
                                .map(|&(a, b, c)| w[[i, a]] * c * w[[b, j]])
                                .sum::<f64>()
                        })
                        .sum()
                })
                .collect()
        } else {
            let y = w.dot(&self.combine(v)).dot(w);
            self.inner_products(&y)
        }
    }

    /// Coefficients c of the orthogonal projection P(X) = Σ cₖDₖ, from G c = (⟨X, Dₖ⟩)ₖ.
    pub fn projection_coeffs(&self, g: &Array1<f64>) -> Result<Array1<f64>> {
        match &self.gram {
            Gram::Diagonal(d) => Ok(g / d),
            Gram::Dense(f) => Ok(f.solvec(g)?),
        }
    }

    /// ‖P(X)‖_F given gₖ = ⟨X, Dₖ⟩: √(cᵀg).
    pub fn projection_norm(&self, g: &Array1<f64>) -> Result<f64> {
        Ok(self.projection_coeffs(g)?.dot(g).max(0.0).sqrt())
    }

    /// P(X) as a matrix.
    pub fn project(&self, x: &Array2<f64>) -> Result<Array2<f64>> {
        Ok(self.combine(&self.projection_coeffs(&self.inner_products(x))?))
    }

    /// X − P(X): the projection onto the orthogonal complement.
    pub fn project_out(&self, x: &Array2<f64>) -> Result<Array2<f64>> {
        Ok(x - &self.project(x)?)
    }

    /// The elements as dense matrices (for small certificates and complements).
    pub fn dense(&self, k: usize) -> Array2<f64> {
        let mut d = Array2::zeros((self.n, self.n));
        for &(i, j, v) in &self.full[k] {
            d[[i, j]] += v;
        }
        d
    }
}

/// Hₖₗ = 2[(e_{tₖ}ᵀW uₗ)(e_{tₗ}ᵀW uₖ) + W_{tₖtₗ}(uₖᵀW uₗ)] for Dₖ = sym(uₖ e_{tₖ}ᵀ):
/// O(n²m + nm²) instead of O((Σ nnz)²).
fn rank2_hessian(w: &Array2<f64>, u: &Array2<f64>, t: &[usize]) -> Array2<f64> {
    let wu = w.dot(u);
    let p = wu.select(ndarray::Axis(0), t); // P_kl = (W U)_{t_k, l}
    let r = u.t().dot(&wu);
    let q = w.select(ndarray::Axis(0), t).select(ndarray::Axis(1), t);
    let h = Array2::from_shape_fn(r.dim(), |(k, l)| {
        2.0 * (p[[k, l]] * p[[l, k]] + q[[k, l]] * r[[k, l]])
    });
    (&h + &h.t()) * 0.5
}

/// (U, t) if every element is u e_tᵀ + e_t uᵀ with u_t = 0 (one index shared by all entries).
/// Skipped for single-entry (coordinate) bases, where the entry formula is already cheap.
fn rank2_form(n: usize, elems: &[SymSparse]) -> Option<(Array2<f64>, Vec<usize>)> {
    if elems.iter().all(|d| d.len() <= 1) {
        return None;
    }
    let mut u = Array2::zeros((n, elems.len()));
    let mut t = Vec::with_capacity(elems.len());
    for (k, d) in elems.iter().enumerate() {
        let &(i0, j0, _) = d.first()?;
        let hub = [j0, i0]
            .into_iter()
            .find(|&c| d.iter().all(|&(i, j, _)| (i == c) != (j == c)))?;
        for &(i, j, v) in d {
            u[[if i == hub { j } else { i }, k]] += v;
        }
        t.push(hub);
    }
    Some((u, t))
}

/// tr(W D W E) = Σ_{(a,b)∈D} Σ_{(c,d)∈E} D_ab E_cd W_bc W_da.
fn pair_trace(d: &SymSparse, e: &SymSparse, w: &Array2<f64>) -> f64 {
    let mut s = 0.0;
    for &(a, b, u) in d {
        for &(c, dd, v) in e {
            s += u * v * w[[b, c]] * w[[dd, a]];
        }
    }
    s
}

/// G_kl = ⟨D_k, D_l⟩ through an index of which elements touch each entry: the diagonal and
/// the nonzero off-diagonal entries (k < l), so orthogonal bases never build an m×m matrix.
fn gram_entries(elems: &[SymSparse]) -> (Vec<f64>, Vec<(usize, usize, f64)>) {
    let mut by_entry: HashMap<(usize, usize), Vec<(usize, f64)>> = HashMap::new();
    for (k, d) in elems.iter().enumerate() {
        for &(i, j, v) in d {
            by_entry.entry((i, j)).or_default().push((k, v));
        }
    }
    let mut diag = vec![0.0; elems.len()];
    let mut off: HashMap<(usize, usize), f64> = HashMap::new();
    for ((i, j), list) in by_entry {
        let weight = if i == j { 1.0 } else { 2.0 };
        for &(k, u) in &list {
            for &(l, v) in &list {
                if k == l {
                    diag[k] += weight * u * v;
                } else if k < l {
                    *off.entry((k, l)).or_default() += weight * u * v;
                }
            }
        }
    }
    let off = off
        .into_iter()
        .filter(|e| e.1 != 0.0)
        .map(|((k, l), v)| (k, l, v))
        .collect();
    (diag, off)
}

fn dense_gram(diag: &[f64], off: &[(usize, usize, f64)]) -> Array2<f64> {
    let mut g = Array2::from_diag(&Array1::from(diag.to_vec()));
    for &(k, l, v) in off {
        g[[k, l]] = v;
        g[[l, k]] = v;
    }
    g
}

/// Greedy incremental Cholesky of G: keep an element if its pivot exceeds DEPENDENCE_TOL·G_kk.
fn independent_subset(g: &Array2<f64>) -> (Vec<usize>, Vec<usize>) {
    let m = g.nrows();
    let (mut keep, mut dropped) = (Vec::new(), Vec::new());
    let mut l: Vec<Vec<f64>> = Vec::new(); // rows of the factor over kept elements
    for k in 0..m {
        let mut row = Vec::with_capacity(keep.len());
        for (r, &j) in keep.iter().enumerate() {
            let s: f64 = (0..r).map(|q| row[q] * l[r][q]).sum();
            row.push((g[[k, j]] - s) / l[r][r]);
        }
        let pivot = g[[k, k]] - row.iter().map(|v| v * v).sum::<f64>();
        if g[[k, k]] > 0.0 && pivot > DEPENDENCE_TOL * g[[k, k]] {
            row.push(pivot.sqrt());
            l.push(row);
            keep.push(k);
        } else {
            dropped.push(k);
        }
    }
    (keep, dropped)
}

/// Both triangles of a sparse symmetric matrix.
pub fn expand(d: &SymSparse) -> SymSparse {
    d.iter()
        .flat_map(|&(i, j, v)| {
            let mirror = (i != j).then_some((j, i, v));
            std::iter::once((i, j, v)).chain(mirror)
        })
        .collect()
}

/// Upper-triangle entries of a dense symmetric matrix (nonzeros only).
pub fn sparse_of(d: &Array2<f64>) -> SymSparse {
    let n = d.nrows();
    (0..n)
        .flat_map(|i| (i..n).map(move |j| (i, j)))
        .filter(|&(i, j)| d[[i, j]] != 0.0)
        .map(|(i, j)| (i, j, d[[i, j]]))
        .collect()
}

/// The local basis over J = indices touched by the basis, when |J| ≤ n/8 (and n ≥ 64).
pub fn localize(basis: &Basis) -> Option<(Vec<usize>, Basis)> {
    let mut idx: Vec<usize> = basis
        .elems
        .iter()
        .flat_map(|d| d.iter().flat_map(|&(i, j, _)| [i, j]))
        .collect();
    idx.sort_unstable();
    idx.dedup();
    if basis.n < 64 || idx.len() * 8 > basis.n {
        return None;
    }
    let mut pos = vec![usize::MAX; basis.n];
    for (k, &i) in idx.iter().enumerate() {
        pos[i] = k;
    }
    let elems = basis
        .elems
        .iter()
        .map(|d| d.iter().map(|&(i, j, v)| (pos[i], pos[j], v)).collect())
        .collect();
    let local = Basis::new(idx.len(), elems, false).ok()?;
    (local.len() == basis.len()).then_some((idx, local))
}
