//! Group-invariant reduction for block-exchangeable structure (spec §3.8). A block-constant X
//! with per-block diagonal dᵢ, within-block off-diagonal oᵢ and cross values c_ij is orthogonally
//! similar to ⊕ᵢ (dᵢ − oᵢ) I_{nᵢ−1} ⊕ K, K_ii = dᵢ + (nᵢ − 1)oᵢ, K_ij = √(nᵢnⱼ) c_ij, so
//! Φ = −Σᵢ (nᵢ − 1) log sᵢ − log det K with sᵢ = dᵢ − oᵢ: an r-sized problem, independent of n.
use super::config::SolverConfig;
use super::driver::{self, exact_step, Gradient, Log, NewtonOracle, Report, Search, Start};
use crate::error::usage;
use anyhow::{bail, Result};
use ndarray::{Array1, Array2};
use ndarray_linalg::{FactorizeC, InverseC, UPLO};

/// Within-block permutation symmetry of a block pattern (§3.8).
#[derive(Clone, Debug)]
pub struct BlockGroup {
    pub sizes: Vec<usize>,
    /// Block of each index.
    pub block: Vec<usize>,
    pub within: Vec<bool>,
    /// cross[a][b]: block pair (a, b) is in L.
    pub cross: Vec<Vec<bool>>,
}

impl BlockGroup {
    pub fn new(
        n: usize,
        sizes: &[usize],
        within_ex: &[usize],
        cross_ex: &[[usize; 2]],
    ) -> Result<Self> {
        let r = sizes.len();
        let total: usize = sizes.iter().sum();
        if total != n || sizes.contains(&0) {
            return Err(usage(format!(
                "subspace.sizes {sizes:?} must be positive and sum to n = {n} (they sum to {total})"
            )));
        }
        if let Some(b) = within_ex
            .iter()
            .chain(cross_ex.iter().flatten())
            .find(|&&b| b >= r)
        {
            return Err(usage(format!(
                "subspace: block index {b} out of range ({r} blocks)"
            )));
        }
        let block = sizes
            .iter()
            .enumerate()
            .flat_map(|(k, &s)| std::iter::repeat_n(k, s))
            .collect();
        let within = (0..r).map(|a| !within_ex.contains(&a)).collect();
        let cross = (0..r)
            .map(|a| {
                (0..r)
                    .map(|b| !cross_ex.contains(&[a, b]) && !cross_ex.contains(&[b, a]))
                    .collect()
            })
            .collect();
        Ok(BlockGroup {
            sizes: sizes.to_vec(),
            block,
            within,
            cross,
        })
    }

    /// Whether sym(eᵢeⱼᵀ), i < j, is in L.
    pub fn in_l(&self, i: usize, j: usize) -> bool {
        let (a, b) = (self.block[i], self.block[j]);
        if a == b {
            self.within[a]
        } else {
            self.cross[a][b]
        }
    }
}

/// Block-constant parameters: s = d − o per block and the r×r matrix K.
#[derive(Clone, Debug)]
struct Params {
    s: Array1<f64>,
    k: Array2<f64>,
}

/// B and C from a Newton solve on a reduced problem (also used by the circulant solver).
pub struct Reduced {
    pub b: Array2<f64>,
    pub c: Array2<f64>,
    pub x: Array1<f64>,
    pub report: Report,
}

/// Invariant generators of L^G: `Within(a)` (all off-diagonal pairs of block a) and
/// `Cross(a, b)` (all pairs between blocks a < b), with their Gram norms ‖D‖²_F.
fn generators(g: &BlockGroup) -> Vec<(usize, usize, f64)> {
    let r = g.sizes.len();
    let mut gens = Vec::new();
    for a in 0..r {
        let na = g.sizes[a] as f64;
        if g.within[a] && g.sizes[a] > 1 {
            gens.push((a, a, na * (na - 1.0)));
        }
        for b in a + 1..r {
            if g.cross[a][b] {
                gens.push((a, b, 2.0 * na * g.sizes[b] as f64));
            }
        }
    }
    gens
}

/// The generator in compressed coordinates.
fn gen_params(g: &BlockGroup, (a, b, _): (usize, usize, f64)) -> Params {
    let r = g.sizes.len();
    let mut p = Params {
        s: Array1::zeros(r),
        k: Array2::zeros((r, r)),
    };
    if a == b {
        p.s[a] = -1.0;
        p.k[[a, a]] = g.sizes[a] as f64 - 1.0;
    } else {
        let v = (g.sizes[a] as f64 * g.sizes[b] as f64).sqrt();
        p.k[[a, b]] = v;
        p.k[[b, a]] = v;
    }
    p
}

/// Index range of each block.
fn ranges(g: &BlockGroup) -> Vec<std::ops::Range<usize>> {
    let mut start = 0;
    g.sizes
        .iter()
        .map(|&s| {
            start += s;
            start - s..start
        })
        .collect()
}

/// Block means of A; errors if A is not invariant (relative deviation > 1e-10, §3.8). Two
/// streaming passes over contiguous row segments (sums, then squared deviations), no n×n
/// temporaries.
fn read_a(a: &Array2<f64>, g: &BlockGroup) -> Result<(Array1<f64>, Array1<f64>, Array2<f64>)> {
    let a = a.as_standard_layout();
    let (r, rg) = (g.sizes.len(), ranges(g));
    let nf = |p: usize| g.sizes[p] as f64;
    let (mut diag, mut sums) = (Array1::<f64>::zeros(r), Array2::<f64>::zeros((r, r)));
    for (i, row) in a.rows().into_iter().enumerate() {
        let (row, p) = (row.to_slice().expect("standard layout"), g.block[i]);
        diag[p] += row[i];
        for (q, seg) in rg.iter().enumerate() {
            sums[[p, q]] += row[seg.clone()].iter().sum::<f64>();
        }
    }
    let d = Array1::from_shape_fn(r, |p| diag[p] / nf(p));
    let o = Array1::from_shape_fn(r, |p| {
        let pairs = nf(p) * (nf(p) - 1.0);
        if pairs > 0.0 {
            (sums[[p, p]] - diag[p]) / pairs
        } else {
            0.0
        }
    });
    let c = Array2::from_shape_fn((r, r), |(p, q)| {
        if p == q {
            0.0
        } else {
            sums[[p, q]] / (nf(p) * nf(q))
        }
    });
    let (mut dev, mut norm) = (0.0, 0.0);
    for (i, row) in a.rows().into_iter().enumerate() {
        let (row, p) = (row.to_slice().expect("standard layout"), g.block[i]);
        for (q, seg) in rg.iter().enumerate() {
            let want = if p == q { o[p] } else { c[[p, q]] };
            // The diagonal entry is left out here (no add-then-subtract cancellation).
            let (lo, hi) = if p == q {
                (&row[seg.start..i], &row[i + 1..seg.end])
            } else {
                (&row[seg.clone()], &row[0..0])
            };
            for &v in lo.iter().chain(hi) {
                dev += (v - want) * (v - want);
                norm += v * v;
            }
        }
        dev += (row[i] - d[p]).powi(2);
        norm += row[i] * row[i];
    }
    let dev = dev.max(0.0).sqrt() / norm.sqrt();
    if dev > 1e-10 {
        return Err(usage(format!(
            "A is not invariant under the declared block permutations (relative deviation \
             {dev:.3e} > 1e-10), so the block-reduced method does not apply (spec section 3.8)"
        )));
    }
    Ok((d, o, c))
}

/// The block-constant n×n matrix, filled row segment by row segment.
fn assemble(g: &BlockGroup, d: &Array1<f64>, o: &Array1<f64>, c: &Array2<f64>) -> Array2<f64> {
    let n = g.block.len();
    let rg = ranges(g);
    let mut x = Array2::<f64>::zeros((n, n));
    for (i, mut row) in x.rows_mut().into_iter().enumerate() {
        let (row, p) = (row.as_slice_mut().expect("standard layout"), g.block[i]);
        for (q, seg) in rg.iter().enumerate() {
            row[seg.clone()].fill(if p == q { o[p] } else { c[[p, q]] });
        }
        row[i] = d[p];
    }
    x
}

/// (d, o, c) from compressed (s, K): d + (n − 1)o = K_ii, d − o = s.
fn expand(g: &BlockGroup, p: &Params) -> (Array1<f64>, Array1<f64>, Array2<f64>) {
    let r = g.sizes.len();
    let nf = |i: usize| g.sizes[i] as f64;
    let o = Array1::from_shape_fn(r, |i| (p.k[[i, i]] - p.s[i]) / nf(i));
    let d = Array1::from_shape_fn(r, |i| p.s[i] + o[i]);
    let c = Array2::from_shape_fn((r, r), |(i, j)| {
        if i == j {
            0.0
        } else {
            p.k[[i, j]] / (nf(i) * nf(j)).sqrt()
        }
    });
    (d, o, c)
}

struct Eval {
    f: f64,
    inv_s: Array1<f64>,
    k_inv: Array2<f64>,
}

/// Φ and the inverses; None outside the domain (some sᵢ ≤ 0 or K not PD).
fn eval(p: &Params, w: &Array1<f64>) -> Option<Eval> {
    if p.s.iter().any(|&v| v <= 0.0) {
        return None;
    }
    let f = p.k.factorizec(UPLO::Lower).ok()?;
    let ln_det_k = 2.0 * f.factor.diag().mapv(f64::ln).sum();
    let phi = -(w * &p.s.mapv(f64::ln)).sum() - ln_det_k;
    let k_inv = f.invc().ok()?;
    Some(Eval {
        f: phi,
        inv_s: p.s.mapv(|v| 1.0 / v),
        k_inv,
    })
}

/// The reduced primal Φ over the coefficients x of the invariant generators (§3.8).
struct Reduction<'a> {
    group: &'a BlockGroup,
    /// nᵢ − 1, the multiplicity of each sᵢ in Φ.
    weights: Array1<f64>,
    /// A in compressed coordinates and the generators' directions there.
    base: Params,
    dirs: Vec<Params>,
    gens: Vec<(usize, usize, f64)>,
}

impl Reduction<'_> {
    /// A − C(x) in compressed coordinates.
    fn at(&self, x: &Array1<f64>) -> Params {
        let mut p = self.base.clone();
        for (dk, &xk) in self.dirs.iter().zip(x) {
            p.s.scaled_add(-xk, &dk.s);
            p.k.scaled_add(-xk, &dk.k);
        }
        p
    }
}

impl NewtonOracle for Reduction<'_> {
    type Eval = Eval;
    /// The exact Hessian.
    type Local = Array2<f64>;

    fn value(&self, x: &Array1<f64>) -> Option<(f64, Eval)> {
        eval(&self.at(x), &self.weights).map(|e| (e.f, e))
    }

    /// g_k = Σ wᵢ s_kᵢ/sᵢ + tr(K⁻¹K_k); H_kl = Σ wᵢ s_kᵢ s_lᵢ/sᵢ² + tr(K⁻¹K_k K⁻¹K_l).
    fn gradient(&self, ev: &Eval) -> Result<Gradient<Array2<f64>>> {
        let (w, dirs, m) = (&self.weights, &self.dirs, self.gens.len());
        let kk: Vec<Array2<f64>> = dirs.iter().map(|dk| ev.k_inv.dot(&dk.k)).collect();
        let g = Array1::from_shape_fn(m, |k| {
            (w * &dirs[k].s * &ev.inv_s).sum() + kk[k].diag().sum()
        });
        let hess = Array2::from_shape_fn((m, m), |(k, l)| {
            (w * &dirs[k].s * &dirs[l].s * &ev.inv_s * &ev.inv_s).sum()
                + (&kk[k] * &kk[l].t()).sum()
        });
        let b = Params {
            s: ev.inv_s.clone(),
            k: ev.k_inv.clone(),
        };
        let residual = self
            .gens
            .iter()
            .zip(&g)
            .map(|(t, gk)| gk * gk / t.2)
            .sum::<f64>()
            .sqrt()
            / b_frobenius(self.group, &b);
        Ok(Gradient {
            g,
            residual,
            local: hess,
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
}

/// Solve the reduced primal by damped Newton with exact derivatives (§3.2–3.4 rules).
pub fn solve(a: &Array2<f64>, g: &BlockGroup, opts: &SolverConfig, log: Log) -> Result<Reduced> {
    let clock = std::time::Instant::now();
    let (d, o, c) = read_a(a, g)?;
    let r = g.sizes.len();
    let base = Params {
        s: &d - &o,
        k: Array2::from_shape_fn((r, r), |(i, j)| {
            let (ni, nj) = (g.sizes[i] as f64, g.sizes[j] as f64);
            if i == j {
                d[i] + (ni - 1.0) * o[i]
            } else {
                (ni * nj).sqrt() * c[[i, j]]
            }
        }),
    };
    let gens = generators(g);
    let p = Reduction {
        group: g,
        weights: Array1::from_shape_fn(r, |i| g.sizes[i] as f64 - 1.0),
        dirs: gens.iter().map(|&t| gen_params(g, t)).collect(),
        gens,
        base,
    };
    let Some(ev) = eval(&p.base, &p.weights) else {
        bail!("A is not positive definite")
    };
    let x = Array1::zeros(p.gens.len());
    let (f, eval) = (ev.f, ev);
    let start = Start { x, f, eval, clock };
    let end = driver::run(&p, start, opts, log)?;
    let xp = p.at(&end.x);
    let (d, o, c) = expand(g, &xp);
    let mut c_mat = assemble(g, &d, &o, &c);
    c_mat.zip_mut_with(a, |m, &v| *m = v - *m); // C = A − (A − C)
    let (bd, bo, bc) = expand(
        g,
        &Params {
            s: xp.s.mapv(|v| 1.0 / v),
            k: xp.k.invc()?,
        },
    );
    Ok(Reduced {
        b: assemble(g, &bd, &bo, &bc),
        c: c_mat,
        x: end.x,
        report: end.report,
    })
}

/// ‖B‖_F from block parameters: Σ nᵢdᵢ² + nᵢ(nᵢ−1)oᵢ² + Σ_{i≠j} nᵢnⱼc_ij².
fn b_frobenius(g: &BlockGroup, p: &Params) -> f64 {
    let (d, o, c) = expand(g, p);
    let n = |i: usize| g.sizes[i] as f64;
    let mut s = 0.0;
    for i in 0..g.sizes.len() {
        s += n(i) * d[i] * d[i] + n(i) * (n(i) - 1.0) * o[i] * o[i];
        for j in 0..g.sizes.len() {
            s += if i == j {
                0.0
            } else {
                n(i) * n(j) * c[[i, j]] * c[[i, j]]
            };
        }
    }
    s.sqrt()
}
