//! Range checks of the decompose config's sections (see [`super::config`]'s `Validate`): each
//! problem names its key, so the error says where the value came from.
use super::config::{MatrixSpec, PatternSpec};
use crate::config::Checker;

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
            c.check(
                "matrix.hurst",
                *hurst > 0.0 && *hurst < 1.0,
                format!("must be in (0, 1), got {hurst}"),
            );
            c.check("matrix.alpha", alpha_ok(*alpha), alpha_range(*alpha));
        }
        MatrixSpec::BlockExchangeable {
            sizes, diagonal, ..
        } => c.relation(
            "matrix.diagonal",
            &["matrix.sizes"],
            sizes.len() == diagonal.len() && !sizes.is_empty(),
            format!(
                "needs one value per block: {} sizes, {} diagonal values",
                sizes.len(),
                diagonal.len()
            ),
        ),
        MatrixSpec::File { path } => c.check(
            "matrix.path",
            path.exists(),
            format!("no such file {}", path.display()),
        ),
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
