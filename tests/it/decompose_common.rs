//! Helpers shared by the decompose integration tests.

use crate::common::zip_eq;
use lab::decompose::config::{DecomposeConfig, Method, SolverConfig};
use lab::decompose::solve::{self, Outcome};
use lab::decompose::structures::Subspace;
use lab::decompose::subspace::SymSparse;
use ndarray::{Array1, Array2};
use ndarray_linalg::{Cholesky, EigValsh, Inverse, UPLO};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

pub fn opts(method: Method) -> SolverConfig {
    let mut o = DecomposeConfig::embedded_default().solver;
    o.method = method;
    // Let the residual test decide, so every solver reaches B ∈ L^⊥ to 1e-10.
    o.tol_decrement = 1e-24;
    o
}

pub fn run(a: &Array2<f64>, sub: &Subspace, method: Method) -> anyhow::Result<Outcome> {
    solve::decompose(a, sub, &opts(method), &mut |_| Ok(()))
}

pub const ITERATIVE: [Method; 4] = [
    Method::Newton,
    Method::NewtonCg,
    Method::DualNewton,
    Method::DualNewtonCg,
];

pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// A = G Gᵀ / n + I (spec §7.2).
pub fn random_a(n: usize, rng: &mut impl Rng) -> Array2<f64> {
    let g = Array2::from_shape_fn((n, n), |_| rng.sample::<f64, _>(StandardNormal));
    let a = g.dot(&g.t()) / n as f64 + Array2::<f64>::eye(n);
    (&a + &a.t()) * 0.5
}

/// Random trace-free symmetric matrices (nondegenerate: I ∈ L^⊥).
pub fn random_trace_free(n: usize, m: usize, rng: &mut impl Rng) -> Vec<Array2<f64>> {
    (0..m)
        .map(|_| {
            let g = Array2::from_shape_fn((n, n), |_| rng.sample::<f64, _>(StandardNormal));
            let mut s = (&g + &g.t()) * 0.5;
            let t = s.diag().sum() / n as f64;
            s.diag_mut().mapv_inplace(|v| v - t);
            s
        })
        .collect()
}

pub fn sparse(d: &Array2<f64>) -> SymSparse {
    lab::decompose::subspace::sparse_of(d)
}

pub fn random_pairs(n: usize, density: f64, rng: &mut impl Rng) -> Vec<[usize; 2]> {
    let mut v = Vec::new();
    for i in 0..n {
        for j in i + 1..n {
            if rng.gen::<f64>() < density {
                v.push([i, j]);
            }
        }
    }
    v
}

pub fn fro(x: &Array2<f64>) -> f64 {
    x.iter().map(|v| v * v).sum::<f64>().sqrt()
}

pub fn rel(x: &Array2<f64>, y: &Array2<f64>) -> f64 {
    fro(&(x - y)) / fro(y).max(1e-300)
}

pub fn inv(x: &Array2<f64>) -> Array2<f64> {
    let i = x.inv().expect("invertible");
    (&i + &i.t()) * 0.5
}

pub fn min_eig(x: &Array2<f64>) -> f64 {
    x.eigvalsh(UPLO::Lower)
        .expect("eig")
        .iter()
        .cloned()
        .fold(f64::INFINITY, f64::min)
}

pub fn ln_det(x: &Array2<f64>) -> f64 {
    2.0 * x
        .cholesky(UPLO::Lower)
        .expect("PD")
        .diag()
        .mapv(f64::ln)
        .sum()
}

/// The invariants of spec §7.2 for a result w.r.t. dense elements `ds` spanning L.
pub fn check_invariants(a: &Array2<f64>, ds: &[Array2<f64>], out: &Outcome, what: &str) {
    let (b, c) = (&out.b, &out.c);
    let n = a.nrows();
    assert!(out.converged, "{what}: not converged");
    let recon = fro(&(a - &(&inv(b) + c))) / fro(a);
    assert!(recon <= 1e-10, "{what}: reconstruction {recon:e}");
    assert!(
        rel(b, &b.t().to_owned()) <= 1e-14,
        "{what}: B not symmetric"
    );
    assert!(min_eig(b) > 0.0, "{what}: B not PD");
    for (k, d) in ds.iter().enumerate() {
        let ip = (b * d).sum() / (fro(b) * fro(d));
        assert!(ip.abs() <= 1e-10, "{what}: <B, D_{k}> = {ip:e}");
    }
    assert!(
        in_span(c, ds) <= 1e-10,
        "{what}: C not in L ({:e})",
        in_span(c, ds)
    );
    let tr = (a * b).sum();
    assert!(
        (tr - n as f64).abs() <= 1e-10 * n as f64,
        "{what}: tr(AB) = {tr}"
    );
    assert!(
        -ln_det(b) >= ln_det(a) - 1e-12,
        "{what}: log det B^-1 < log det A"
    );
}

/// ‖C − P_span(C)‖_F / max(‖C‖_F, 1) by least squares on the dense elements.
pub fn in_span(c: &Array2<f64>, ds: &[Array2<f64>]) -> f64 {
    if ds.is_empty() {
        return fro(c);
    }
    let m = ds.len();
    let g = Array2::from_shape_fn((m, m), |(k, l)| (&ds[k] * &ds[l]).sum());
    let rhs = Array1::from_shape_fn(m, |k| (&ds[k] * c).sum());
    let coef = g.inv().expect("independent").dot(&rhs);
    let mut p = Array2::<f64>::zeros(c.dim());
    for (d, x) in zip_eq(ds, &coef) {
        p = p + d * *x;
    }
    fro(&(c - &p)) / fro(c).max(1.0)
}

/// A random SPD symmetric circulant: symmetric first column, diagonal shifted past λ_min.
pub fn circulant_a(n: usize, seed: u64) -> Array2<f64> {
    let mut r = rng(seed);
    let mut c = Array1::from_shape_fn(n, |_| r.gen::<f64>() - 0.5);
    for k in 1..n {
        c[n - k] = c[k];
    }
    let lam = lab::decompose::circulant::eig(&c);
    c[0] += 0.5 - lam.iter().cloned().fold(f64::INFINITY, f64::min);
    lab::decompose::circulant::dense(&c)
}

pub fn pair_matrix(n: usize, i: usize, j: usize) -> Array2<f64> {
    let mut d = Array2::zeros((n, n));
    d[[i, j]] = 1.0;
    d[[j, i]] = 1.0;
    d
}

/// Whether a run's summary warns that its duality gap was not held to the tolerance (B − P_L(B)
/// moves B by at least λ_min(B), `certify::gap_not_decisive`): the other certificates decide.
pub fn gap_not_held(summary: &serde_json::Value) -> bool {
    summary["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .any(|w| {
            w.as_str().is_some_and(|w| {
                w.starts_with("duality gap") && w.contains("other certificates decide")
            })
        })
}
