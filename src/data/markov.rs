//! The synthetic order-m Markov source: a text whose true entropy rate is known.
//!
//! Construction (all from one `ChaCha8Rng` seeded with `seed`): for every context in
//! `V^order` (in index order, see [`MarkovSource::context_index`]) a transition row is drawn
//! from Dirichlet(α·1); then the chain starts at context (0, 1, ..., order-1) (mod V), burns in
//! 1,000 symbols, and emits `train_len` then `val_len` symbols by inverse-CDF sampling (one
//! uniform draw per symbol). Symbol i is rendered as the i-th character of [`ALPHABET`]
//! (`a`–`z`, then `A`–`Z`, then `0`–`9`).
//!
//! Entropy rate (nats per symbol): `h = Σ_c π(c) H(P(·|c))`, where π is the stationary
//! distribution of the context chain, found by power iteration from the uniform distribution
//! until the L1 change is below 1e-13 (at most 10,000 iterations; otherwise an error).
use crate::config::{Checker, Validate};
use crate::error::usage;
use anyhow::{bail, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Dirichlet, Distribution};
use serde::{Deserialize, Serialize};

/// How symbols are written.
pub const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
pub const BURN_IN: usize = 1000;
pub const STATIONARY_TOL: f64 = 1e-13;
pub const STATIONARY_MAX_ITERS: usize = 10_000;
/// Largest transition table (contexts × vocab entries) a config may ask for.
pub const MAX_TABLE: usize = 1 << 24;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarkovConfig {
    #[serde(default = "d_vocab")]
    pub vocab: usize,
    #[serde(default = "d_order")]
    pub order: usize,
    #[serde(default = "d_alpha")]
    pub alpha: f64,
    #[serde(default = "d_train_len")]
    pub train_len: usize,
    #[serde(default = "d_val_len")]
    pub val_len: usize,
    #[serde(default)]
    pub seed: u64,
}

fn d_vocab() -> usize {
    32
}
fn d_order() -> usize {
    2
}
fn d_alpha() -> f64 {
    0.1
}
fn d_train_len() -> usize {
    200_000
}
fn d_val_len() -> usize {
    20_000
}

impl Default for MarkovConfig {
    fn default() -> Self {
        MarkovConfig {
            vocab: d_vocab(),
            order: d_order(),
            alpha: d_alpha(),
            train_len: d_train_len(),
            val_len: d_val_len(),
            seed: 0,
        }
    }
}

impl Validate for MarkovConfig {
    fn validate(&self, c: &mut Checker) {
        self.validate_at(c, "corpus");
    }
}

impl MarkovConfig {
    /// Range checks, with key paths under `at` (the section's path in the whole config).
    pub fn validate_at(&self, c: &mut Checker, at: &str) {
        c.check(
            &format!("{at}.vocab"),
            (2..=ALPHABET.len()).contains(&self.vocab),
            format!("must be in 2..={}, got {}", ALPHABET.len(), self.vocab),
        );
        c.at_least(&format!("{at}.order"), self.order, 1);
        c.check(
            &format!("{at}.order"),
            table_size(self.vocab, self.order).is_some(),
            format!(
                "vocab^(order+1) must be at most {MAX_TABLE}, got {}^{}",
                self.vocab,
                self.order + 1
            ),
        );
        c.positive(&format!("{at}.alpha"), self.alpha);
        c.at_least(&format!("{at}.train_len"), self.train_len, 1);
        let max = super::MAX_GENERATED_CHARS;
        c.check(
            &format!("{at}.train_len"),
            self.train_len
                .checked_add(self.val_len)
                .is_some_and(|n| n <= max),
            format!(
                "train_len + val_len must be at most {max} symbols, got {} + {}",
                self.train_len, self.val_len
            ),
        );
    }
}

/// vocab^(order+1) if it is at most [`MAX_TABLE`].
fn table_size(vocab: usize, order: usize) -> Option<usize> {
    let mut n: usize = 1;
    for _ in 0..=order {
        n = n.checked_mul(vocab).filter(|&n| n <= MAX_TABLE)?;
    }
    Some(n)
}

/// The chain: `probs[c * vocab + x]` = P(next = x | context c).
#[derive(Clone, Debug)]
pub struct MarkovSource {
    vocab: usize,
    order: usize,
    probs: Vec<f64>,
    /// The RNG right after the table was drawn: sampling continues from here.
    rng: ChaCha8Rng,
}

impl MarkovSource {
    /// Draw the transition table of `cfg` (module doc).
    pub fn new(cfg: &MarkovConfig) -> Result<MarkovSource> {
        let mut checker = Checker::default();
        cfg.validate(&mut checker);
        if let Some((key, why)) = checker.problems.first() {
            return Err(usage(format!("markov corpus: `{key}` {why}")));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let dirichlet = Dirichlet::new(&vec![cfg.alpha; cfg.vocab])?;
        let contexts = cfg.vocab.pow(cfg.order as u32);
        let mut probs = Vec::with_capacity(contexts * cfg.vocab);
        for c in 0..contexts {
            let row: Vec<f64> = dirichlet.sample(&mut rng);
            let sum: f64 = row.iter().sum();
            if !row.iter().all(|p| p.is_finite()) || (sum - 1.0).abs() > 1e-9 {
                return Err(usage(format!(
                    "markov corpus: `alpha` = {:e} is too small: the Dirichlet row of context \
                     {c} is not a distribution in floating point; raise alpha",
                    cfg.alpha
                )));
            }
            probs.extend(row);
        }
        let mut source = MarkovSource::from_table(cfg.vocab, cfg.order, probs)?;
        source.rng = rng;
        Ok(source)
    }

    /// A chain from a given table (rows of `vocab` probabilities, one per context, each
    /// summing to 1 within 1e-9). Its sampling RNG is seeded with 0.
    pub fn from_table(vocab: usize, order: usize, probs: Vec<f64>) -> Result<MarkovSource> {
        let Some(size) = table_size(vocab, order).filter(|_| vocab >= 2 && order >= 1) else {
            bail!("markov table: bad vocab {vocab} / order {order}");
        };
        if probs.len() != size {
            bail!("markov table: {} entries, expected {size}", probs.len());
        }
        for (c, row) in probs.chunks(vocab).enumerate() {
            let sum: f64 = row.iter().sum();
            if row.iter().any(|p| !(p.is_finite() && *p >= 0.0)) || (sum - 1.0).abs() > 1e-9 {
                bail!("markov table: row {c} is not a distribution: {row:?}");
            }
        }
        Ok(MarkovSource {
            vocab,
            order,
            probs,
            rng: ChaCha8Rng::seed_from_u64(0),
        })
    }

    pub fn vocab(&self) -> usize {
        self.vocab
    }
    pub fn order(&self) -> usize {
        self.order
    }
    pub fn num_contexts(&self) -> usize {
        self.probs.len() / self.vocab
    }
    /// The whole table, row-major: contexts × vocab.
    pub fn transition_table(&self) -> &[f64] {
        &self.probs
    }
    /// P(·|context c).
    pub fn row(&self, c: usize) -> &[f64] {
        &self.probs[c * self.vocab..(c + 1) * self.vocab]
    }

    /// Index of a context given oldest symbol first: Σ s_i · V^(order-1-i).
    pub fn context_index(&self, symbols: &[usize]) -> usize {
        symbols.iter().fold(0, |acc, &s| acc * self.vocab + s)
    }

    /// The context after context `c` emits `x`.
    pub fn next_context(&self, c: usize, x: usize) -> usize {
        (c % (self.num_contexts() / self.vocab)) * self.vocab + x
    }

    /// The start context (0, 1, ..., order-1), each mod vocab.
    pub fn start_context(&self) -> usize {
        let symbols: Vec<usize> = (0..self.order).map(|i| i % self.vocab).collect();
        self.context_index(&symbols)
    }

    /// Stationary distribution of the context chain (module doc); an error if the power
    /// iteration does not converge (e.g. a periodic chain).
    pub fn stationary(&self) -> Result<Vec<f64>> {
        let n = self.num_contexts();
        let mut pi = vec![1.0 / n as f64; n];
        let mut next = vec![0.0; n];
        for _ in 0..STATIONARY_MAX_ITERS {
            next.iter_mut().for_each(|v| *v = 0.0);
            for (c, &mass) in pi.iter().enumerate() {
                if mass == 0.0 {
                    continue;
                }
                for (x, &p) in self.row(c).iter().enumerate() {
                    next[self.next_context(c, x)] += mass * p;
                }
            }
            let change: f64 = pi.iter().zip(&next).map(|(a, b)| (a - b).abs()).sum();
            std::mem::swap(&mut pi, &mut next);
            if change < STATIONARY_TOL {
                return Ok(pi);
            }
        }
        Err(usage(format!(
            "markov source: the stationary distribution did not converge to L1 change < \
             {STATIONARY_TOL:e} in {STATIONARY_MAX_ITERS} power iterations (a periodic or \
             nearly deterministic chain: for a generated corpus, raise `alpha`), so its entropy \
             rate is unknown"
        )))
    }

    /// True entropy rate in nats per symbol (E13).
    pub fn entropy_rate(&self) -> Result<f64> {
        let pi = self.stationary()?;
        Ok(pi
            .iter()
            .enumerate()
            .map(|(c, &w)| w * entropy(self.row(c)))
            .sum())
    }

    /// `n` symbols from context `c` by inverse-CDF sampling; returns them and the last context.
    pub fn sample(&self, rng: &mut impl Rng, mut c: usize, n: usize) -> (Vec<u8>, usize) {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let x = inverse_cdf(self.row(c), rng.gen::<f64>());
            out.push(x as u8);
            c = self.next_context(c, x);
        }
        (out, c)
    }

    /// The train and val texts of `cfg` (module doc), rendered as letters.
    pub fn generate(&self, cfg: &MarkovConfig) -> (String, String) {
        let mut rng = self.rng.clone();
        let (_, c) = self.sample(&mut rng, self.start_context(), BURN_IN);
        let (train, c) = self.sample(&mut rng, c, cfg.train_len);
        let (val, _) = self.sample(&mut rng, c, cfg.val_len);
        (render(&train), render(&val))
    }
}

/// Symbols as letters ([`ALPHABET`]).
pub fn render(symbols: &[u8]) -> String {
    symbols
        .iter()
        .map(|&s| ALPHABET[s as usize] as char)
        .collect()
}

/// Shannon entropy in nats (0 log 0 = 0).
pub fn entropy(p: &[f64]) -> f64 {
    p.iter().filter(|&&q| q > 0.0).map(|&q| -q * q.ln()).sum()
}

/// The first index whose cumulative probability exceeds `u`; rounding leftovers go to the last
/// index with positive probability.
fn inverse_cdf(row: &[f64], u: f64) -> usize {
    let mut cum = 0.0;
    for (x, &p) in row.iter().enumerate() {
        cum += p;
        if u < cum {
            return x;
        }
    }
    row.iter().rposition(|&p| p > 0.0).unwrap_or(row.len() - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_cdf_picks_by_cumulative_mass() {
        let row = [0.25, 0.0, 0.5, 0.25];
        assert_eq!(inverse_cdf(&row, 0.0), 0);
        assert_eq!(inverse_cdf(&row, 0.2499), 0);
        assert_eq!(inverse_cdf(&row, 0.25), 2);
        assert_eq!(inverse_cdf(&row, 0.76), 3);
        assert_eq!(inverse_cdf(&[0.5, 0.5, 0.0], 1.0), 1);
    }

    #[test]
    fn contexts_shift_in_the_new_symbol() {
        let s = MarkovSource::from_table(3, 2, vec![1.0 / 3.0; 27]).unwrap();
        assert_eq!(s.context_index(&[2, 1]), 7);
        assert_eq!(s.next_context(7, 0), s.context_index(&[1, 0]));
        assert_eq!(s.start_context(), s.context_index(&[0, 1]));
    }

    #[test]
    fn bad_tables_are_refused() {
        assert!(MarkovSource::from_table(2, 1, vec![0.5, 0.5, 0.9, 0.2]).is_err());
        assert!(MarkovSource::from_table(2, 1, vec![0.5, 0.5]).is_err());
        let cfg = MarkovConfig {
            vocab: 99,
            ..MarkovConfig::default()
        };
        let err = MarkovSource::new(&cfg).unwrap_err().to_string();
        assert!(err.contains("corpus.vocab"), "{err}");
    }

    #[test]
    fn generation_is_seeded_and_sized() {
        let cfg = MarkovConfig {
            vocab: 16,
            train_len: 500,
            val_len: 50,
            ..MarkovConfig::default()
        };
        let a = MarkovSource::new(&cfg).unwrap().generate(&cfg);
        let b = MarkovSource::new(&cfg).unwrap().generate(&cfg);
        assert_eq!(a, b);
        assert_eq!((a.0.len(), a.1.len()), (500, 50));
        assert!(a.0.bytes().all(|c| (b'a'..=b'p').contains(&c)));
        let other = MarkovConfig {
            seed: 1,
            ..cfg.clone()
        };
        assert_ne!(MarkovSource::new(&other).unwrap().generate(&other), a);
    }
}
