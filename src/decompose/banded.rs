//! Banded kernels for primal Newton-CG (spec §3.6 "Banded", Table 2 Ex. IV): when A and every
//! Dₖ = sym(eᵢeⱼᵀ) lie inside half-bandwidth b, M = A − C(x) stays banded. Banded Cholesky
//! (O(nb²)), the Takahashi selected inverse Z = band(M⁻¹) (O(nb²)) for the gradient, and exact
//! Hessian-vector products by forward-mode differentiation of both recurrences [D]:
//! d/dt band((M − tC(v))⁻¹) = band(W C(v) W), so (Hv)ₖ = ⟨Dₖ, that⟩.
use super::config::SolverConfig;
use super::driver::{self, cg_direction, Gradient, Log, NewtonOracle, Search, Start};
pub use super::dualnum::{Dual, Num};
use super::newton::{self, Solution};
use super::subspace::Basis;
use anyhow::{bail, Result};
use ndarray::{Array1, Array2};

/// Lower band storage: entry (i, i − k), k = 0..=b, at i·(b + 1) + k.
#[derive(Clone, Debug)]
pub struct Band<T> {
    pub n: usize,
    pub b: usize,
    pub v: Vec<T>,
}

impl<T: Num> Band<T> {
    fn at(&self, i: usize, j: usize) -> T {
        let (hi, lo) = if i >= j { (i, j) } else { (j, i) };
        if hi - lo > self.b {
            return T::zero();
        }
        self.v[hi * (self.b + 1) + hi - lo]
    }
    fn set(&mut self, i: usize, j: usize, x: T) {
        self.v[i * (self.b + 1) + i - j] = x;
    }

    /// M = LLᵀ; None when a pivot is not positive (M not PD).
    pub fn cholesky(&self) -> Option<Band<T>> {
        let (n, b) = (self.n, self.b);
        let mut l = Band {
            n,
            b,
            v: vec![T::zero(); self.v.len()],
        };
        for i in 0..n {
            for j in i.saturating_sub(b)..=i {
                let mut s = self.at(i, j);
                for k in i.saturating_sub(b)..j {
                    s = s - l.at(i, k) * l.at(j, k);
                }
                if i == j {
                    if s.re().partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
                        return None;
                    }
                    l.set(i, i, s.sqrt());
                } else {
                    let d = l.at(j, j);
                    l.set(i, j, s / d);
                }
            }
        }
        Some(l)
    }

    /// Takahashi recurrence on the factor: Z_ji = (δ_ji/L_ii − Σ_{k=i+1}^{i+b} Z_jk L_ki)/L_ii.
    pub fn selected_inverse(&self) -> Band<T> {
        let (n, b) = (self.n, self.b);
        let mut z = Band {
            n,
            b,
            v: vec![T::zero(); self.v.len()],
        };
        for i in (0..n).rev() {
            let lii = self.at(i, i);
            let top = (i + b).min(n - 1);
            for j in (i..=top).rev() {
                let mut s = T::zero();
                for k in i + 1..=top {
                    s = s + z.at(j, k) * self.at(k, i);
                }
                let delta = if j == i { T::one() / lii } else { T::zero() };
                z.set(j, i, (delta - s) / lii);
            }
        }
        z
    }
}

impl Band<f64> {
    /// The lower band (half-bandwidth b) of a dense symmetric matrix.
    pub fn from_dense(m: &Array2<f64>, b: usize) -> Band<f64> {
        let n = m.nrows();
        let mut band = Band {
            n,
            b,
            v: vec![0.0; n * (b + 1)],
        };
        for i in 0..n {
            for j in i.saturating_sub(b)..=i {
                band.set(i, j, m[[i, j]]);
            }
        }
        band
    }

    /// The dense M⁻¹ from the banded factor by n pairs of banded triangular solves, O(n²b).
    pub fn dense_inverse(&self) -> Array2<f64> {
        let (n, b) = (self.n, self.b);
        let mut w = Array2::zeros((n, n));
        let mut y = vec![0.0; n];
        for j in 0..n {
            y.iter_mut().for_each(|v| *v = 0.0);
            for i in j..n {
                let mut s = if i == j { 1.0 } else { 0.0 };
                let lo = i.saturating_sub(b).max(j);
                for (k, yk) in y.iter().enumerate().take(i).skip(lo) {
                    s -= self.at(i, k) * yk;
                }
                y[i] = s / self.at(i, i);
            }
            for i in (0..n).rev() {
                let mut s = y[i];
                for k in i + 1..(i + b + 1).min(n) {
                    s -= self.at(k, i) * w[[k, j]];
                }
                w[[i, j]] = s / self.at(i, i);
            }
        }
        newton::symmetrize(&w)
    }
}

/// Applies when every element is one coordinate pair within half-bandwidth b ≤ n/8 and (for
/// the primal, `a` given) A is banded with the same b.
pub fn bandwidth(a: Option<&Array2<f64>>, basis: &Basis) -> Option<usize> {
    let n = basis.n;
    let mut b = 0;
    for d in &basis.elems {
        let [(i, j, _)] = d.as_slice() else {
            return None;
        };
        b = b.max(j - i);
    }
    let Some(a) = a else {
        return (basis.n >= 64 && 8 * b <= basis.n).then_some(b);
    };
    let a_b = a
        .indexed_iter()
        .filter(|(_, v)| **v != 0.0)
        .map(|((i, j), _)| i.abs_diff(j))
        .max()?;
    let b = b.max(a_b);
    (n >= 64 && 8 * b <= n).then_some(b)
}

/// f(x) = ⟨c, x⟩ − log det M(x), M(x) = M₀ + s·C(x) on band storage (primal: M₀ = A, s = −1,
/// c = 0; dual: M₀ = 0, s = +1, cₖ = ⟨A, Eₖ⟩), as in newton::Problem.
struct Banded<'a> {
    a: Band<f64>,
    sign: f64,
    lin: Array1<f64>,
    basis: &'a Basis,
    opts: &'a SolverConfig,
}

impl Banded<'_> {
    fn matrix<T: Num>(
        &self,
        x: &Array1<f64>,
        v: Option<&Array1<f64>>,
        lift: impl Fn(f64, f64) -> T,
    ) -> Band<T> {
        let mut m = Band {
            n: self.a.n,
            b: self.a.b,
            v: self.a.v.iter().map(|&a| lift(a, 0.0)).collect(),
        };
        for (k, d) in self.basis.elems.iter().enumerate() {
            let (i, j, w) = d[0];
            let cur = m.at(j, i);
            let dv = v.map_or(0.0, |v| self.sign * w * v[k]);
            m.set(j, i, cur + lift(self.sign * w * x[k], dv));
        }
        m
    }
    fn value(&self, x: &Array1<f64>) -> Option<(f64, Band<f64>)> {
        let l = self.matrix(x, None, |a, _| a).cholesky()?;
        let ln_det: f64 = (0..l.n).map(|i| l.at(i, i).ln()).sum::<f64>() * 2.0;
        Some((self.lin.dot(x) - ln_det, l))
    }
    /// ⟨Dₖ, Z⟩ for band storage Z of any scalar, returning the chosen part.
    fn inner<T: Num>(&self, z: &Band<T>, part: impl Fn(T) -> f64) -> Array1<f64> {
        let f =
            |&(i, j, w): &(usize, usize, f64)| if i == j { w } else { 2.0 * w } * part(z.at(j, i));
        self.basis.elems.iter().map(|d| f(&d[0])).collect()
    }
    fn hess_vec(&self, x: &Array1<f64>, v: &Array1<f64>) -> Array1<f64> {
        let m = self.matrix(x, Some(v), Dual);
        let z = m
            .cholesky()
            .expect("accepted point is PD")
            .selected_inverse();
        self.inner(&z, |t: Dual| t.1) * (-self.sign)
    }
    fn hess_diag(&self, z: &Band<f64>) -> Array1<f64> {
        let f = |&(i, j, w): &(usize, usize, f64)| {
            let zij = z.at(i, j);
            w * w
                * if i == j {
                    zij * zij
                } else {
                    2.0 * (zij * zij + z.at(i, i) * z.at(j, j))
                }
        };
        self.basis.elems.iter().map(|d| f(&d[0])).collect()
    }
}

impl NewtonOracle for Banded<'_> {
    type Eval = Band<f64>;
    type Local = Band<f64>;

    fn value(&self, x: &Array1<f64>) -> Option<(f64, Band<f64>)> {
        Banded::value(self, x)
    }

    /// From the Takahashi selected inverse Z = band(M⁻¹) of the factor.
    fn gradient(&self, l: &Band<f64>) -> Result<Gradient<Band<f64>>> {
        let z = l.selected_inverse();
        let g = &self.lin - &(self.inner(&z, |t| t) * self.sign);
        let z_norm = z.v.iter().map(|v| v * v).sum::<f64>().sqrt();
        let residual = self.basis.projection_norm(&g)? / z_norm; // relative to ‖band(W)‖
        Ok(Gradient {
            g,
            residual,
            local: z,
        })
    }

    fn direction(
        &self,
        x: &Array1<f64>,
        z: &Band<f64>,
        g: &Array1<f64>,
        g_rel: f64,
    ) -> Result<Search> {
        let pre = self.opts.cg_jacobi.then(|| self.hess_diag(z));
        let hv = |v: &Array1<f64>| self.hess_vec(x, v);
        Ok(cg_direction(hv, pre.as_ref(), g, g_rel, self.opts))
    }
}

/// Newton-CG entirely on band storage (primal from 0, or dual from `dual` = y₀); the dense W
/// is formed once at the end.
pub fn solve(
    a: &Array2<f64>,
    basis: &Basis,
    b: usize,
    dual: Option<&Array1<f64>>,
    opts: &SolverConfig,
    log: Log,
) -> Result<Solution> {
    let clock = std::time::Instant::now();
    let (m0, sign, lin, x) = match dual {
        Some(y0) => {
            let zero = Band {
                n: a.nrows(),
                b,
                v: vec![0.0; a.nrows() * (b + 1)],
            };
            (zero, 1.0, basis.inner_products(a), y0.clone())
        }
        None => {
            let zero = Array1::zeros(basis.len());
            (Band::from_dense(a, b), -1.0, zero.clone(), zero)
        }
    };
    let p = Banded {
        a: m0,
        sign,
        lin,
        basis,
        opts,
    };
    let Some((f, eval)) = p.value(&x) else {
        bail!("the starting point is not feasible (M is not positive definite)")
    };
    let end = driver::run(&p, Start { x, f, eval, clock }, opts, log)?;
    let r = end.report;
    Ok(Solution {
        w: end.eval.dense_inverse(),
        x: end.x,
        objective: r.objective,
        decrement: r.decrement,
        residual: r.residual,
        grad_max: r.grad_max,
        iterations: r.iterations,
        cg_iters: r.cg_iters,
        backtracks: r.backtracks,
        converged: r.converged,
    })
}
