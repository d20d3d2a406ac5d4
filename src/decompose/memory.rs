//! Peak-memory estimate of a decompose run from its resolved config, made before anything
//! large is allocated, and the memory available to compare it with (`limits.*`).
//!
//! The model (bytes), calibrated on measured peak RSS (VmHWM; docs/decompose.md, "Memory"):
//! - `BASE` for the process itself;
//! - `DENSE_N2` n×n doubles: A, its build temporaries, M(x), its Cholesky factor, W = M⁻¹ and
//!   the triangular-inverse temporaries, C, B and the certificates' copies (every method
//!   holds several dense n×n matrices at once; CG adds only vectors of length m);
//! - `HESS_D2` d×d doubles for an explicit Hessian (d = m primal, p dual): H, H + δI and
//!   the copy the Cholesky solve factorizes;
//! - per stored basis element: `ELEM_BYTES` for a one-entry coordinate element (its two
//!   sparse vectors, Gram entry, index maps), 36 bytes per entry for dense elements.
use super::config::{DecomposeConfig, MatrixSpec, Method, Mode, SubspaceSpec};
use std::path::Path;

const BASE: f64 = 12e6;
const DENSE_N2: f64 = 11.0;
const HESS_D2: f64 = 3.0;
const ELEM_BYTES: f64 = 300.0;

/// What a run will allocate, as far as the config tells before building anything.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub n: usize,
    /// The method `auto` resolves to (or the one forced).
    pub method: Method,
    pub bytes: f64,
}

/// Dimensions read off the subspace spec: m = dim L, p = dim L^⊥, bytes of the stored
/// elements of L and of L^⊥, and whether a closed form or a declared symmetry applies.
struct Dims {
    m: f64,
    p: f64,
    elem_l: f64,
    elem_perp: f64,
    closed: bool,
    group: bool,
    perp_cheap: bool,
}

/// Size n of A, without building it (files: from the header or the first line).
pub fn matrix_n(spec: &MatrixSpec) -> usize {
    match spec {
        MatrixSpec::RandomSpd { n, .. }
        | MatrixSpec::Wishart { n, .. }
        | MatrixSpec::Banded { n, .. } => *n,
        MatrixSpec::BlockExchangeable { sizes, .. } => {
            sizes.iter().fold(0, |s: usize, &x| s.saturating_add(x))
        }
        MatrixSpec::MixedFbm { periods, .. } => periods.saturating_mul(2),
        MatrixSpec::File { path } => file_n(path),
    }
}

fn file_n(path: &Path) -> usize {
    let len = std::fs::metadata(path).map_or(0, |m| m.len()) as f64;
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"))
    {
        return ((len - 128.0).max(0.0) / 8.0).sqrt() as usize;
    }
    use std::io::BufRead;
    if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        // A FIFO's first line is the matrix's: reading it here would take it from the run
        // (and the open would wait for the writer). The run's own read names any problem.
        return 0;
    }
    let mut first = String::new();
    let read = std::fs::File::open(path)
        .map(std::io::BufReader::new)
        .and_then(|mut r| r.read_line(&mut first));
    match read {
        Ok(_) if !first.trim().is_empty() => first.split(',').count(),
        _ => 0,
    }
}

/// The key that sets the size of A, to blame when even the cheapest method does not fit.
fn size_key(cfg: &DecomposeConfig) -> &'static str {
    match (&cfg.mode, &cfg.matrix) {
        (Mode::Finance(_), _) => "mode.periods",
        (_, MatrixSpec::BlockExchangeable { .. }) => "matrix.sizes",
        (_, MatrixSpec::MixedFbm { .. }) => "matrix.periods",
        (_, MatrixSpec::File { .. }) => "matrix.path",
        _ => "matrix.n",
    }
}

fn dims(spec: &SubspaceSpec, n: usize) -> Dims {
    let nf = n as f64;
    let pairs = nf * (nf - 1.0) / 2.0;
    let total = pairs + nf;
    let coords = |m: f64| Dims {
        m,
        p: total - m,
        elem_l: m * ELEM_BYTES,
        elem_perp: (total - m) * ELEM_BYTES,
        closed: false,
        group: false,
        perp_cheap: true,
    };
    let dense = |m: f64| Dims {
        m,
        p: total - m,
        elem_l: m * 36.0 * nf * nf,
        elem_perp: (total - m) * ELEM_BYTES,
        closed: false,
        group: false,
        perp_cheap: false,
    };
    let closed = |m: f64| Dims {
        closed: true,
        ..coords(m)
    };
    match spec {
        SubspaceSpec::RandomPattern { density } => coords(density * pairs),
        SubspaceSpec::Pattern(p) => {
            let m = super::pattern::count(p, n);
            Dims {
                closed: m == 0,
                ..coords(m as f64)
            }
        }
        SubspaceSpec::ComplementPattern(p) => coords(pairs - super::pattern::count(p, n) as f64),
        SubspaceSpec::Offdiag {} | SubspaceSpec::BlockOffdiag { .. } => closed(pairs),
        SubspaceSpec::BandComplement { bandwidth } => {
            closed(band_pairs(n, n.saturating_sub(1)) - band_pairs(n, *bandwidth))
        }
        SubspaceSpec::TraceZero {} => closed(total - 1.0),
        SubspaceSpec::BandOffdiag { bandwidth } => coords(band_pairs(n, *bandwidth)),
        SubspaceSpec::RandomTraceFree { dim } => dense(*dim as f64),
        SubspaceSpec::BasisFile { path } => dense(npy_count(path, n)),
        SubspaceSpec::PerpBasisFile { path } => {
            let p = npy_count(path, n);
            Dims {
                elem_perp: p * 36.0 * nf * nf,
                perp_cheap: true,
                ..dense(total - p)
            }
        }
        SubspaceSpec::BlockPattern {
            sizes,
            within_excluded,
            cross_excluded,
        } => Dims {
            group: true,
            ..coords(block_pairs(sizes, within_excluded, cross_excluded))
        },
        SubspaceSpec::Circulant { lags, columns } => {
            let k = if lags.is_empty() && columns.is_empty() {
                (n / 2) as f64
            } else {
                (lags.len() + columns.len()) as f64
            };
            Dims {
                elem_l: k * 48.0 * nf,
                ..coords(k)
            }
        }
    }
}

/// Pairs of a block pattern: within-block pairs of included blocks, cross pairs of included
/// block pairs.
fn block_pairs(sizes: &[usize], within_ex: &[usize], cross_ex: &[[usize; 2]]) -> f64 {
    let s = |a: usize| sizes[a] as f64;
    let within: f64 = (0..sizes.len())
        .filter(|a| !within_ex.contains(a))
        .map(|a| s(a) * (s(a) - 1.0) / 2.0)
        .sum();
    let excluded = |a: usize, b: usize| {
        cross_ex
            .iter()
            .any(|&[x, y]| (x, y) == (a, b) || (y, x) == (a, b))
    };
    let cross: f64 = (0..sizes.len())
        .flat_map(|a| (a + 1..sizes.len()).map(move |b| (a, b)))
        .filter(|&(a, b)| !excluded(a, b))
        .map(|(a, b)| s(a) * s(b))
        .sum();
    within + cross
}

/// Off-diagonal pairs with 1 ≤ |i − j| ≤ b.
fn band_pairs(n: usize, b: usize) -> f64 {
    (1..=b.min(n.saturating_sub(1)))
        .map(|k| (n - k) as f64)
        .sum()
}

/// Number of (n, n) slices in a float64 `.npy` of shape (k, n, n), from its size.
fn npy_count(path: &Path, n: usize) -> f64 {
    let len = std::fs::metadata(path).map_or(0, |m| m.len()) as f64;
    ((len - 128.0).max(0.0) / (8.0 * (n * n).max(1) as f64)).round()
}

/// Bytes a run with `method` needs, given n and the subspace dimensions.
fn bytes(method: Method, n: usize, d: &Dims) -> f64 {
    let dense = BASE + DENSE_N2 * 8.0 * (n as f64).powi(2);
    dense
        + match method {
            Method::Newton => HESS_D2 * 8.0 * d.m * d.m + 2.0 * d.elem_l,
            Method::NewtonCg => 2.0 * d.elem_l,
            Method::DualNewton => HESS_D2 * 8.0 * d.p * d.p + d.elem_perp,
            Method::DualNewtonCg => d.elem_perp,
            Method::Circulant => d.elem_l,
            Method::ClosedForm | Method::BlockReduced | Method::Auto => 0.0,
        }
}

/// `auto` of §2.4 as [`super::solve::choose`] will resolve it, skipping an explicit Hessian
/// that does not fit in `budget` (then the matrix-free method of the same formulation).
fn resolve(cfg: &DecomposeConfig, n: usize, d: &Dims, budget: f64) -> Method {
    let s = &cfg.solver;
    if s.method != Method::Auto {
        return s.method;
    }
    if d.closed {
        return Method::ClosedForm;
    }
    if d.group {
        return Method::BlockReduced;
    }
    let fits = |m: Method| bytes(m, n, d) <= budget;
    let full = s.max_full_hessian as f64;
    if d.m <= full && fits(Method::Newton) {
        Method::Newton
    } else if d.perp_cheap && d.p <= d.m.min(full) && fits(Method::DualNewton) {
        Method::DualNewton
    } else {
        Method::NewtonCg
    }
}

/// The estimate for `cfg` when `budget` bytes are available (finance mode: its matrices
/// are 2·periods square, counted as dense n×n).
pub fn estimate(cfg: &DecomposeConfig, budget: f64) -> Estimate {
    if let Mode::Finance(f) = &cfg.mode {
        let n = f.periods.saturating_mul(2);
        let d = dims(&SubspaceSpec::Offdiag {}, n);
        let bytes = bytes(Method::Newton, n, &Dims { m: 0.0, ..d });
        return Estimate {
            n,
            method: cfg.solver.method,
            bytes,
        };
    }
    let n = matrix_n(&cfg.matrix);
    let d = dims(&cfg.subspace, n);
    let method = resolve(cfg, n, &d, budget);
    Estimate {
        n,
        method,
        bytes: bytes(method, n, &d),
    }
}

/// The method to force when `auto` would pick an explicit Hessian that does not fit in
/// `budget` (§2.4 resolved again on the built subspace could otherwise pick it).
pub fn auto_override(cfg: &DecomposeConfig, budget: f64) -> Option<Method> {
    if cfg.solver.method != Method::Auto || matches!(cfg.mode, Mode::Finance(_)) {
        return None;
    }
    let est = estimate(cfg, budget);
    let unlimited = estimate(cfg, f64::INFINITY);
    (est.method != unlimited.method).then_some(est.method)
}

/// The cheaper method of the same formulation, and its estimate, if one exists.
pub fn cheaper(cfg: &DecomposeConfig, est: &Estimate) -> Option<(Method, f64)> {
    let alt = match est.method {
        Method::Newton => Method::NewtonCg,
        Method::DualNewton => Method::DualNewtonCg,
        _ => return None,
    };
    let n = matrix_n(&cfg.matrix);
    Some((alt, bytes(alt, n, &dims(&cfg.subspace, n))))
}

pub use crate::device::memory::{available, peak_rss};

/// The budget the check compares with: `limits.max_memory_gb` if set, else [`available`].
pub fn budget(cfg: &DecomposeConfig) -> f64 {
    if cfg.limits.max_memory_gb > 0.0 {
        return cfg.limits.max_memory_gb * 1e9;
    }
    available().unwrap_or(f64::INFINITY)
}

pub use crate::study::memory::show;

/// What a study needs to know to run this config beside others (`--jobs`): the estimate and
/// the budget the run's own check compares it with; nothing when `limits.memory_check` is off.
pub fn need(cfg: &DecomposeConfig) -> Option<crate::study::memory::MemoryNeed> {
    if !cfg.limits.memory_check {
        return None;
    }
    let budget = budget(cfg);
    Some(crate::study::memory::MemoryNeed {
        bytes: estimate(cfg, budget).bytes,
        budget,
    })
}

/// The refusal, if the run does not fit: which key to blame and the message.
pub fn refusal(cfg: &DecomposeConfig) -> Option<(&'static str, String)> {
    if !cfg.limits.memory_check {
        return None;
    }
    let budget = budget(cfg);
    let est = estimate(cfg, budget);
    if est.bytes <= budget {
        return None;
    }
    let source = if cfg.limits.max_memory_gb > 0.0 {
        "limits.max_memory_gb"
    } else {
        "MemAvailable, or a lower cgroup limit"
    };
    let mut msg = format!(
        "the run would need about {} (n = {}, method {}) but only {} is available ({source}); ",
        show(est.bytes),
        est.n,
        method_name(est.method),
        show(budget)
    );
    let key = match cheaper(cfg, &est) {
        Some((alt, b)) if b <= budget => {
            msg.push_str(&format!(
                "the explicit Hessian does not fit: use `solver.method: {}` (about {}), or ",
                method_name(alt),
                show(b)
            ));
            "solver.method"
        }
        _ => {
            msg.push_str("reduce the size of A, or ");
            size_key(cfg)
        }
    };
    msg.push_str("set `limits.memory_check: false` to run anyway");
    Some((key, msg))
}

pub fn method_name(m: Method) -> String {
    serde_yaml_ng::to_string(&m)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}
