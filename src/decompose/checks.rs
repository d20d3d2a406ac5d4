//! Range checks of the decompose config's sections (see [`super::config`]'s `Validate`): each
//! problem names its key, so the error says where the value came from.
use super::config::{DecomposeConfig, MatrixSpec, Method, PatternSpec};
use crate::config::{changed_keys, Checker};

pub fn matrix(m: &MatrixSpec, c: &mut Checker) {
    match m {
        MatrixSpec::RandomSpd { n, condition } => {
            c.at_least("matrix.n", *n, 1);
            c.check(
                "matrix.condition",
                condition.is_finite() && *condition >= 1.0,
                format!("must be >= 1, got {condition}"),
            );
        }
        MatrixSpec::Wishart { n, scale, .. } => {
            c.at_least("matrix.n", *n, 1);
            c.positive("matrix.scale", *scale);
        }
        MatrixSpec::Banded { n, .. } => c.at_least("matrix.n", *n, 1),
        MatrixSpec::MixedFbm {
            periods,
            hurst,
            alpha,
        } => {
            c.at_least("matrix.periods", *periods, 1);
            twice_fits("matrix.periods", *periods, c);
            c.check(
                "matrix.hurst",
                *hurst > 0.0 && *hurst < 1.0,
                format!("must be in (0, 1), got {hurst}"),
            );
            c.check("matrix.alpha", alpha_ok(*alpha), alpha_range(*alpha));
        }
        MatrixSpec::BlockExchangeable {
            sizes, diagonal, ..
        } => {
            c.relation(
                "matrix.diagonal",
                &["matrix.sizes"],
                sizes.len() == diagonal.len() && !sizes.is_empty(),
                format!(
                    "needs one value per block: {} sizes, {} diagonal values",
                    sizes.len(),
                    diagonal.len()
                ),
            );
            sum_fits("matrix.sizes", sizes, c);
            // As `block-pattern` requires: a block of size 0 and its diagonal value were
            // silently dropped.
            c.check(
                "matrix.sizes",
                !sizes.contains(&0),
                format!("each block needs size >= 1, got {sizes:?}"),
            );
        }
        MatrixSpec::File { path } => c.check(
            "matrix.path",
            path.exists(),
            format!("no such file {}", path.display()),
        ),
    }
}

/// Block sizes whose sum is a number: the sum wrapped around before, so sizes
/// [2^64 − 1, 5] summed to 4, passed as n = 4 and panicked on a capacity overflow (exit 101).
pub fn sum_fits(key: &str, sizes: &[usize], c: &mut Checker) {
    let sum = sizes.iter().try_fold(0usize, |s, &x| s.checked_add(x));
    c.check(
        key,
        sum.is_some(),
        format!("the sizes {sizes:?} add up to more than {}", usize::MAX),
    );
}

/// `periods` whose 2·periods observations are a number (it wrapped to 0 before: a panic).
pub fn twice_fits(key: &str, periods: usize, c: &mut Checker) {
    c.check(
        key,
        periods.checked_mul(2).is_some(),
        format!(
            "{periods} periods make 2 x {periods} observations, past the largest size {}",
            usize::MAX
        ),
    );
}

/// `random-trace-free`: at most n(n+1)/2 − 1 elements, the dimension of the trace-free
/// symmetric matrices (n = 0: A's size is not known before it is read). More cannot be
/// independent, and the dependence check's Gram matrix is dim×dim: dim = 10⁵ at n = 4 ran
/// for minutes in gigabytes before this.
pub fn trace_free_dim(dim: usize, n: usize, c: &mut Checker) {
    let most = n.saturating_mul(n.saturating_add(1)) / 2 - usize::from(n > 0);
    c.check(
        "subspace.dim",
        n == 0 || dim <= most,
        format!(
            "must be at most n(n+1)/2 - 1 = {most}, the dimension of the trace-free symmetric \
             {n}x{n} matrices (more cannot be linearly independent; `kind: trace-zero` is all \
             of them), got {dim}"
        ),
    );
}

/// Finance mode solves its Markovian structure by primal Newton with the explicit Hessian and
/// the others in closed form, and writes no B or C: another `solver.method`, the CG and basis
/// keys of `solver` and `output.*` were ignored; now refused when changed from the default.
pub fn finance_unread(cfg: &DecomposeConfig, default: &DecomposeConfig, c: &mut Checker) {
    let why = "is not read in mode finance (its Markovian structure is solved by primal \
               Newton, `solver.method: newton`, the others in closed form; it writes no B or C)";
    if !matches!(cfg.solver.method, Method::Auto | Method::Newton) {
        c.relation("solver.method", &["mode.kind"], false, why);
    }
    const UNREAD: [&str; 7] = [
        "solver.max_full_hessian",
        "solver.cg_max_iter",
        "solver.cg_forcing",
        "solver.cg_tol",
        "solver.cg_jacobi",
        "solver.strict_basis",
        "solver.dual_start_scale",
    ];
    let solver = changed_keys("solver", &cfg.solver, Some(&default.solver))
        .into_iter()
        .filter(|k| UNREAD.contains(&k.as_str()));
    let output = changed_keys("output", &cfg.output, Some(&default.output));
    for key in solver.chain(output) {
        c.relation(&key, &["mode.kind"], false, why);
    }
}

/// The fBM weight α of spec §5.4 (S = W + α·B^H): finite and non-zero. α = 0 makes each price
/// increment X_l equal its Brownian increment Y_l, so Σ is singular (Λ = Σ⁻¹ does not exist).
pub fn alpha_ok(alpha: f64) -> bool {
    alpha.is_finite() && alpha != 0.0
}

pub fn alpha_range(alpha: f64) -> String {
    format!("must be finite and non-zero (the fBM weight of spec 5.4; 0 makes the covariance singular), got {alpha}")
}

/// Exactly one source of pairs, and its file exists (its entries are checked when L is built).
pub fn pattern(p: &PatternSpec, c: &mut Checker) {
    let given = [
        p.pairs.is_some(),
        p.pairs_file.is_some(),
        p.mask_file.is_some(),
    ];
    let count = given.iter().filter(|g| **g).count();
    c.relation(
        "subspace.pairs",
        &["subspace.pairs_file", "subspace.mask_file"],
        count == 1,
        format!("give exactly one of `pairs`, `pairs_file` and `mask_file` ({count} given)"),
    );
    for (key, file) in [
        ("subspace.pairs_file", &p.pairs_file),
        ("subspace.mask_file", &p.mask_file),
    ] {
        if let Some(f) = file {
            c.check(key, f.exists(), format!("no such file {}", f.display()));
        }
    }
}

/// `block-pattern`: every block index names a block, no block or pair is listed twice, and a
/// `cross_excluded` pair names two different blocks (the entries of one block are its
/// within-block entries, which `within_excluded` drops).
pub fn block_pattern(sizes: &[usize], within: &[usize], cross: &[[usize; 2]], c: &mut Checker) {
    let r = sizes.len();
    sum_fits("subspace.sizes", sizes, c);
    c.check(
        "subspace.sizes",
        !sizes.is_empty() && !sizes.contains(&0),
        format!("needs at least one block, each of size >= 1, got {sizes:?}"),
    );
    let range = |b: usize| {
        format!(
            "block index {b} is out of range: there are {r} blocks (0-based, 0..={})",
            r.saturating_sub(1)
        )
    };
    for (k, &b) in within.iter().enumerate() {
        if b >= r {
            c.relation(
                "subspace.within_excluded",
                &["subspace.sizes"],
                false,
                format!("entry {k}: {}", range(b)),
            );
        } else if within[..k].contains(&b) {
            c.check(
                "subspace.within_excluded",
                false,
                format!("entry {k}: block {b} is listed twice"),
            );
        }
    }
    for (k, &[a, b]) in cross.iter().enumerate() {
        let key = "subspace.cross_excluded";
        if let Some(&bad) = [a, b].iter().find(|&&x| x >= r) {
            c.relation(
                key,
                &["subspace.sizes"],
                false,
                format!("entry {k} = [{a}, {b}]: {}", range(bad)),
            );
        } else if a == b {
            c.check(
                key,
                false,
                format!(
                "entry {k} = [{a}, {b}] pairs block {a} with itself: this list drops the entries \
                 between two different blocks; to drop block {a}'s own entries list {a} in \
                 `subspace.within_excluded`"
            ),
            );
        } else if let Some(k0) = cross[..k]
            .iter()
            .position(|&[x, y]| [x, y] == [a, b] || [y, x] == [a, b])
        {
            c.check(
                key,
                false,
                format!(
                    "entry {k} = [{a}, {b}] is listed twice: entry {k0} holds the same pair of \
                 blocks ([a, b] and [b, a] are one pair)"
                ),
            );
        }
    }
}

/// A finance list (`mode.hurst`, `mode.structures`) names each case once: a repeat was solved
/// twice and written as two finance.csv rows, but its summary.json entry `H=<h> <structure>`
/// (and `strategy_<structure>.csv`) kept only the later one, while `cases` counted both.
pub fn no_repeats<T: PartialEq + std::fmt::Debug>(key: &str, list: &[T], c: &mut Checker) {
    let repeat = (1..list.len()).find_map(|k| {
        let first = list[..k].iter().position(|v| *v == list[k])?;
        Some((first, k))
    });
    if let Some((first, k)) = repeat {
        c.check(
            key,
            false,
            format!(
                "entry {k} ({}) repeats entry {first}: each value is one case of the run (one \
                 summary.json entry), so list it once",
                format!("{:?}", list[k]).to_lowercase()
            ),
        );
    }
}
