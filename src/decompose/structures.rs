//! The subspace L from its config: coordinate patterns, the named structures of spec §1.3,
//! explicit bases of L or of L^⊥. Bases are built on demand (a named structure at n = 2000 can
//! have millions of elements, which only the closed forms of §3.9 can afford).
use super::block::BlockGroup;
use super::circulant;
use super::config::SubspaceSpec;
use super::elements::{complement, random_trace_free, read_basis};
use super::pattern;
use super::subspace::{Basis, SymSparse};
use crate::error::usage;
use anyhow::Result;
use ndarray::{Array1, Array2};
use ndarray_linalg::UPLO;
use rand::Rng;
use std::cell::OnceCell;
use std::collections::HashSet;

/// Largest number of basis elements built for an iterative solver.
pub const MAX_ELEMENTS: usize = 4_000_000;

/// Structures with a closed-form solution (§3.9).
#[derive(Clone, Debug, PartialEq)]
pub enum Closed {
    /// L = {0}: B = A⁻¹.
    Zero,
    /// L = zero-diagonal: B = diag(1/Aᵢᵢ).
    Diagonal,
    /// L^⊥ = band of half-width b: chordal max-det completion.
    Band(usize),
    /// L^⊥ = block-diagonal with these block sizes.
    Blocks(Vec<usize>),
    /// L^⊥ = span{E₀}, E₀ ≻ 0 (E₀ = I for trace-zero).
    Span(Array2<f64>),
}

enum Repr {
    /// Coordinate pattern: `in_l(i, j)` for i < j says whether sym(eᵢeⱼᵀ) ∈ L (no diagonal).
    Coords(Box<dyn Fn(usize, usize) -> bool>),
    /// Dense/sparse elements spanning L.
    Explicit(Vec<SymSparse>),
    /// Elements spanning L^⊥.
    Perp(Vec<SymSparse>),
    /// L = {tr C = 0}.
    TraceZero,
}

pub struct Subspace {
    pub n: usize,
    repr: Repr,
    pub closed: Option<Closed>,
    pub strict: bool,
    /// A declared symmetry group (block-exchangeable, §3.8).
    pub group: Option<BlockGroup>,
    /// First columns of independent circulant elements spanning L (§3.6).
    pub circulant: Option<Vec<Array1<f64>>>,
    /// The warning that a spanning set was linearly dependent, once it was given: a basis may
    /// be built more than once in a run (the solve, then the summary's projection).
    dependence: OnceCell<String>,
}

pub fn build(spec: &SubspaceSpec, n: usize, strict: bool, rng: &mut impl Rng) -> Result<Subspace> {
    use SubspaceSpec as S;
    let coords = |f: Box<dyn Fn(usize, usize) -> bool>, closed| Subspace {
        n,
        repr: Repr::Coords(f),
        closed,
        strict,
        group: None,
        circulant: None,
        dependence: OnceCell::new(),
    };
    Ok(match spec {
        S::Pattern(p) => {
            let set = pattern::load(p, n)?;
            coords(Box::new(move |i, j| set.contains(&(i, j))), None)
        }
        S::ComplementPattern(p) => {
            let set = pattern::load(p, n)?;
            coords(Box::new(move |i, j| !set.contains(&(i, j))), None)
        }
        S::RandomPattern { density } => {
            let set: HashSet<(usize, usize)> = all_pairs(n)
                .filter(|_| rng.gen::<f64>() < *density)
                .collect();
            coords(Box::new(move |i, j| set.contains(&(i, j))), None)
        }
        S::Offdiag {} => coords(Box::new(|_, _| true), Some(Closed::Diagonal)),
        // A band past n − 1 is the whole matrix; b + 1 wrapped to 0 at b = 2^64 − 1 and the
        // closed form failed in LAPACK (exit 1).
        &S::BandComplement { bandwidth: b } => {
            let b = b.min(n.saturating_sub(1));
            coords(Box::new(move |i, j| j - i > b), Some(Closed::Band(b)))
        }
        &S::BandOffdiag { bandwidth: b } => coords(Box::new(move |i, j| j - i <= b), None),
        S::BlockOffdiag { sizes } => {
            let total: usize = sizes.iter().sum();
            if total != n || sizes.contains(&0) {
                return Err(usage(format!(
                    "subspace.sizes {sizes:?} must be positive and sum to n = {n} (they sum to {total})"
                )));
            }
            let block: Vec<usize> = sizes
                .iter()
                .enumerate()
                .flat_map(|(k, &s)| std::iter::repeat_n(k, s))
                .collect();
            let closed = Some(Closed::Blocks(sizes.clone()));
            coords(Box::new(move |i, j| block[i] != block[j]), closed)
        }
        S::TraceZero {} => Subspace {
            n,
            repr: Repr::TraceZero,
            closed: Some(Closed::Span(Array2::eye(n))),
            strict,
            group: None,
            circulant: None,
            dependence: OnceCell::new(),
        },
        S::RandomTraceFree { dim } => Subspace {
            n,
            repr: Repr::Explicit(random_trace_free(n, *dim, rng)),
            closed: None,
            strict,
            group: None,
            circulant: None,
            dependence: OnceCell::new(),
        },
        S::BasisFile { path } => Subspace {
            n,
            repr: Repr::Explicit(read_basis(path, n)?),
            closed: None,
            strict,
            group: None,
            circulant: None,
            dependence: OnceCell::new(),
        },
        S::PerpBasisFile { path } => Subspace::from_perp(n, read_basis(path, n)?, strict),
        S::BlockPattern {
            sizes,
            within_excluded,
            cross_excluded,
        } => {
            let group = BlockGroup::new(n, sizes, within_excluded, cross_excluded)?;
            let g = group.clone();
            let mut sub = coords(Box::new(move |i, j| g.in_l(i, j)), None);
            sub.group = Some(group);
            sub
        }
        S::Circulant { lags, columns } => {
            let cols = circulant::columns(n, lags, columns)?;
            let elems = cols.iter().map(circulant::sparse).collect();
            let mut sub = Subspace::from_elements(n, elems, strict);
            sub.circulant = Some(cols);
            sub
        }
    })
}

impl Subspace {
    /// A subspace from explicit elements of L (used by tests and the finance mode).
    pub fn from_elements(n: usize, elems: Vec<SymSparse>, strict: bool) -> Subspace {
        let closed = elems.is_empty().then_some(Closed::Zero);
        Subspace {
            n,
            repr: Repr::Explicit(elems),
            closed,
            strict,
            group: None,
            circulant: None,
            dependence: OnceCell::new(),
        }
    }

    /// A coordinate-pattern subspace from 0-based off-diagonal pairs.
    pub fn from_pairs(n: usize, pairs: &[[usize; 2]], strict: bool) -> Result<Subspace> {
        let set = pattern::from_yaml(pairs, n)?;
        let closed = set.is_empty().then_some(Closed::Zero);
        Ok(Subspace {
            n,
            repr: Repr::Coords(Box::new(move |i, j| set.contains(&(i, j)))),
            closed,
            strict,
            group: None,
            circulant: None,
            dependence: OnceCell::new(),
        })
    }

    /// A subspace given by a spanning set of L^⊥.
    pub fn from_perp(n: usize, elems: Vec<SymSparse>, strict: bool) -> Subspace {
        let closed = span_closed_form(&elems, n);
        Subspace {
            n,
            repr: Repr::Perp(elems),
            closed,
            strict,
            group: None,
            circulant: None,
            dependence: OnceCell::new(),
        }
    }

    /// Approximate dimensions (m, p) before any reduction of dependent elements.
    pub fn dims(&self) -> (usize, usize) {
        let total = self.n * (self.n + 1) / 2;
        let m = match &self.repr {
            Repr::Coords(f) => all_pairs(self.n).filter(|&(i, j)| f(i, j)).count(),
            Repr::Explicit(e) => e.len(),
            Repr::Perp(e) => total.saturating_sub(e.len()),
            Repr::TraceZero => total - 1,
        };
        (m, total - m)
    }

    /// Whether [`Subspace::basis`] is the list of elements the user gave (a basis file or
    /// circulant columns), so that "basis element k" names something the user can find.
    pub fn lists_basis(&self) -> bool {
        matches!(self.repr, Repr::Explicit(_))
    }

    /// Whether a basis of L^⊥ is at hand without an SVD (spec §2.4: "if available").
    pub fn perp_is_cheap(&self) -> bool {
        !matches!(self.repr, Repr::Explicit(_))
    }

    /// A basis of L.
    pub fn basis(&self) -> Result<Basis> {
        let n = self.n;
        let elems = match &self.repr {
            Repr::Coords(f) => {
                check_size(self.dims().0)?;
                all_pairs(n)
                    .filter(|&(i, j)| f(i, j))
                    .map(|(i, j)| vec![(i, j, 1.0)])
                    .collect()
            }
            Repr::Explicit(e) => e.clone(),
            Repr::Perp(e) => complement(n, e)?,
            Repr::TraceZero => {
                check_size(self.dims().0)?;
                let diag = (0..n - 1).map(|i| vec![(i, i, 1.0), (n - 1, n - 1, -1.0)]);
                let off = all_pairs(n).map(|(i, j)| vec![(i, j, 1.0)]);
                diag.chain(off).collect()
            }
        };
        self.finish(elems, "L")
    }

    /// A basis of L^⊥.
    pub fn perp_basis(&self) -> Result<Basis> {
        let n = self.n;
        let elems = match &self.repr {
            Repr::Coords(f) => {
                check_size(self.dims().1)?;
                let diag = (0..n).map(|i| vec![(i, i, 1.0)]);
                let off = all_pairs(n)
                    .filter(|&(i, j)| !f(i, j))
                    .map(|(i, j)| vec![(i, j, 1.0)]);
                diag.chain(off).collect()
            }
            Repr::Explicit(e) => complement(n, e)?,
            Repr::Perp(e) => e.clone(),
            Repr::TraceZero => vec![(0..n).map(|i| (i, i, 1.0)).collect()],
        };
        self.finish(elems, "L^perp")
    }

    /// P_L(X) for a symmetric X: a mask for coordinate patterns, closed form for trace-zero,
    /// else through whichever basis is explicit.
    pub fn project_l(&self, x: &Array2<f64>) -> Result<Array2<f64>> {
        match &self.repr {
            Repr::Coords(f) => Ok(Array2::from_shape_fn(x.dim(), |(i, j)| {
                let (lo, hi) = (i.min(j), i.max(j));
                if lo != hi && f(lo, hi) {
                    x[[i, j]]
                } else {
                    0.0
                }
            })),
            Repr::TraceZero => {
                let mut p = x.clone();
                let shift = x.diag().sum() / self.n as f64;
                p.diag_mut().mapv_inplace(|v| v - shift);
                Ok(p)
            }
            Repr::Explicit(_) => self.basis()?.project(x),
            Repr::Perp(_) => self.perp_basis()?.project_out(x),
        }
    }

    fn finish(&self, elems: Vec<SymSparse>, what: &str) -> Result<Basis> {
        let basis = Basis::new(self.n, elems, self.strict)?;
        if !basis.dropped.is_empty() && self.dependence.get().is_none() {
            let w = format!(
                "the spanning set of {what} is linearly dependent; dropped {} element(s) {:?}, \
                 dimension used {}",
                basis.dropped.len(),
                &basis.dropped[..basis.dropped.len().min(10)],
                basis.len()
            );
            eprintln!("warning: {w}");
            let _ = self.dependence.set(w);
        }
        Ok(basis)
    }

    /// The linear-dependence warning, if a basis built so far dropped elements.
    pub fn dependence_warning(&self) -> Option<String> {
        self.dependence.get().cloned()
    }
}

fn check_size(m: usize) -> Result<()> {
    if m > MAX_ELEMENTS {
        return Err(usage(format!(
            "this method needs an explicit basis with {m} elements (limit {MAX_ELEMENTS}); \
             use a closed form or the other formulation"
        )));
    }
    Ok(())
}

/// Off-diagonal pairs i < j in row-major order.
pub fn all_pairs(n: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..n).flat_map(move |i| (i + 1..n).map(move |j| (i, j)))
}

/// L^⊥ = span{E₀} with E₀ ≻ 0 (or −E₀ ≻ 0) has the closed form of §3.9.3.
fn span_closed_form(elems: &[SymSparse], n: usize) -> Option<Closed> {
    if elems.len() != 1 {
        return None;
    }
    let mut e = Array2::zeros((n, n));
    for &(i, j, v) in &elems[0] {
        e[[i, j]] = v;
        e[[j, i]] = v;
    }
    use ndarray_linalg::Cholesky;
    if e.cholesky(UPLO::Lower).is_ok() {
        return Some(Closed::Span(e));
    }
    let neg = -&e;
    neg.cholesky(UPLO::Lower)
        .is_ok()
        .then_some(Closed::Span(neg))
}
