//! H7's checks on the theory rows of one corpus (`theory.rs` module doc has the rules), and
//! when they cannot be made: fewer than two orders k show no trend, and a training split whose
//! `H_k` is already 0 at the smallest k (one repeated character, a strictly periodic text) has
//! no entropy left to fall and no mass to concentrate. Such a corpus is *not testable*: neither
//! a pass nor a failure of the hypothesis.
use super::theory::{by_corpus, TheoryRow};

/// An `H_k` at most this is zero (a sum of `ln(n/n)` terms is exactly 0; this allows rounding).
const ZERO_ENTROPY: f64 = 1e-12;

/// H7's checks on one corpus.
#[derive(Clone, Debug, PartialEq)]
pub struct H7Check {
    pub corpus: String,
    pub decreasing: bool,
    /// The first k with `H_k < h` (None: no true rate, or never below).
    pub below_from: Option<usize>,
    /// `None` without a true rate.
    pub below_rate: Option<bool>,
    /// The k of the smallest val CE.
    pub val_min_k: usize,
    pub val_rises: bool,
    /// Why the corpus cannot test H7 (then the checks above are not a verdict).
    pub not_testable: Option<String>,
}

/// What the checks of one corpus say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum H7Outcome {
    Pass,
    Fail,
    NotTestable,
}

impl H7Outcome {
    /// `pass`, `FAIL` or `not testable`, as `theory.md` and the log print it.
    pub fn as_str(self) -> &'static str {
        match self {
            H7Outcome::Pass => "pass",
            H7Outcome::Fail => "FAIL",
            H7Outcome::NotTestable => "not testable",
        }
    }
}

impl H7Check {
    /// Every check holds on a corpus that can test H7.
    pub fn pass(&self) -> bool {
        self.outcome() == H7Outcome::Pass
    }

    pub fn outcome(&self) -> H7Outcome {
        if self.not_testable.is_some() {
            H7Outcome::NotTestable
        } else if self.decreasing && self.below_rate != Some(false) && self.val_rises {
            H7Outcome::Pass
        } else {
            H7Outcome::Fail
        }
    }
}

/// H7 per corpus of `rows`.
pub fn h7_checks(rows: &[TheoryRow]) -> Vec<H7Check> {
    by_corpus(rows)
        .into_iter()
        .map(|(corpus, rs)| check_corpus(corpus, &rs))
        .collect()
}

/// Why rows `rs` (sorted by k) cannot test H7, if they cannot.
fn not_testable(rs: &[&TheoryRow]) -> Option<String> {
    let first = rs.first()?;
    if rs.len() < 2 {
        return Some(format!(
            "only one order (k = {}) was computed; a trend in k needs at least two \
             (list more in theory.orders)",
            first.k
        ));
    }
    (first.h_k_train <= ZERO_ENTROPY).then(|| {
        format!(
            "H_k(train) is already 0 at the smallest order k = {}: the training text is fully \
             determined by its previous {} token(s) (e.g. one repeated character), so H_k cannot \
             fall with k and held-out CE cannot show overfitting (use a corpus with varied text)",
            first.k, first.k
        )
    })
}

fn check_corpus(corpus: String, rs: &[&TheoryRow]) -> H7Check {
    let decreasing = rs.windows(2).all(|w| {
        let slack = (w[1].k - w[0].k) as f64 * w[1].position_slack;
        w[1].h_k_train <= w[0].h_k_train + slack
    });
    let rate = rs.first().and_then(|r| r.true_rate);
    let first_below = rate.and_then(|h| rs.iter().position(|r| r.h_k_train < h));
    let below_rate =
        rate.map(|h| first_below.is_some_and(|i| rs[i..].iter().all(|r| r.h_k_train < h)));
    let imin = (0..rs.len())
        .min_by(|&a, &b| rs[a].val_ce.total_cmp(&rs[b].val_ce))
        .unwrap_or(0);
    let val_rises = imin + 1 < rs.len() && rs[imin..].windows(2).all(|w| w[1].val_ce > w[0].val_ce);
    H7Check {
        corpus,
        decreasing,
        below_from: first_below.map(|i| rs[i].k),
        below_rate,
        val_min_k: rs.get(imin).map_or(0, |r| r.k),
        val_rises,
        not_testable: not_testable(rs),
    }
}
