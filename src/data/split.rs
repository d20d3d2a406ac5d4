//! Contiguous splits of a token stream.
//!
//! Two-way (default): train = the first `floor(train_frac · N)` tokens, val = the rest.
//! Three-way (`val_frac` set): train as above, val = the next `floor(val_frac · N)` tokens,
//! test = the rest. A corpus with its own parts (Markov: `train_len`, then `val_len`) is split
//! there instead: its two texts are encoded separately and `train_frac` is not used.
//! `train_tokens: M` then keeps only the first M training tokens (all of them if fewer).
use super::corpus::Corpus;
use super::tokenizer::Tokenizer;
use crate::config::{Checker, Validate};
use crate::error::usage;
use anyhow::Result;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitConfig {
    #[serde(default = "d_train_frac")]
    pub train_frac: f64,
    #[serde(default)]
    pub val_frac: Option<f64>,
    #[serde(default)]
    pub train_tokens: Option<usize>,
}

fn d_train_frac() -> f64 {
    0.9
}

impl Default for SplitConfig {
    fn default() -> Self {
        SplitConfig {
            train_frac: d_train_frac(),
            val_frac: None,
            train_tokens: None,
        }
    }
}

impl Validate for SplitConfig {
    fn validate(&self, c: &mut Checker) {
        self.validate_at(c, "split");
    }
}

impl SplitConfig {
    /// Range checks, with key paths under `at` (the section's path in the whole config).
    pub fn validate_at(&self, c: &mut Checker, at: &str) {
        c.in_open_unit(&format!("{at}.train_frac"), self.train_frac);
        if let Some(v) = self.val_frac {
            c.check(
                &format!("{at}.val_frac"),
                v > 0.0 && self.train_frac + v < 1.0,
                format!(
                    "must be > 0 and leave room for a test part (train_frac + val_frac < 1), \
                     got {v}"
                ),
            );
        }
        if let Some(m) = self.train_tokens {
            c.at_least(&format!("{at}.train_tokens"), m, 1);
        }
    }
}

/// The token streams of a split (`test` is empty for a two-way split).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Splits {
    pub train: Vec<u32>,
    pub val: Vec<u32>,
    pub test: Vec<u32>,
    /// Training tokens before the `train_tokens` cap.
    pub train_available: usize,
}

impl SplitConfig {
    /// Split one token stream by fraction (module doc).
    pub fn split_tokens(&self, tokens: &[u32]) -> Splits {
        let n = tokens.len();
        let train_end = (self.train_frac * n as f64).floor() as usize;
        let val_end = match self.val_frac {
            Some(v) => (train_end + (v * n as f64).floor() as usize).min(n),
            None => n,
        };
        self.capped(
            tokens[..train_end].to_vec(),
            tokens[train_end..val_end].to_vec(),
            tokens[val_end..].to_vec(),
        )
    }

    fn capped(&self, mut train: Vec<u32>, val: Vec<u32>, test: Vec<u32>) -> Splits {
        let train_available = train.len();
        if let Some(m) = self.train_tokens {
            train.truncate(m);
        }
        Splits {
            train,
            val,
            test,
            train_available,
        }
    }

    /// Encode `corpus` with `tok` and split it (module doc).
    pub fn split_corpus(&self, corpus: &Corpus, tok: &Tokenizer) -> Result<Splits> {
        match corpus.val_start {
            None => Ok(self.split_tokens(&tok.encode(&corpus.text)?)),
            Some(_) if self.val_frac.is_some() => Err(usage(
                "split.val_frac: this corpus has its own train and val parts (no test part)",
            )),
            Some(at) => {
                let (train, val) = corpus.text.split_at(at);
                Ok(self.capped(tok.encode(train)?, tok.encode(val)?, Vec::new()))
            }
        }
    }
}

impl Splits {
    /// Refuse a split that cannot hold one window of `seq_len + 1` tokens (the test part only
    /// when there is one), naming the sizes.
    pub fn check_windows(&self, seq_len: usize) -> Result<()> {
        let need = seq_len + 1;
        let parts = [
            ("train", &self.train),
            ("val", &self.val),
            ("test", &self.test),
        ];
        for (name, part) in parts {
            if (name != "test" || !part.is_empty()) && part.len() < need {
                return Err(usage(format!(
                    "the {name} split has {} tokens, too few for one window of seq_len + 1 = \
                     {need} (train {}, val {}, test {})",
                    part.len(),
                    self.train.len(),
                    self.val.len(),
                    self.test.len()
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_floor_and_the_cap_keeps_the_first_tokens() {
        let tokens: Vec<u32> = (0..1001).collect();
        let s = SplitConfig::default().split_tokens(&tokens);
        assert_eq!((s.train.len(), s.val.len(), s.test.len()), (900, 101, 0));
        assert_eq!(s.val[0], 900);
        let three = SplitConfig {
            val_frac: Some(0.05),
            train_tokens: Some(10),
            ..SplitConfig::default()
        };
        let s = three.split_tokens(&tokens);
        assert_eq!((s.train.len(), s.val.len(), s.test.len()), (10, 50, 51));
        assert_eq!(s.train_available, 900);
        assert_eq!(s.train, (0..10).collect::<Vec<u32>>());
        assert_eq!((s.val[0], s.test[0]), (900, 950));
    }

    #[test]
    fn short_splits_are_refused_with_their_sizes() {
        let s = SplitConfig::default().split_tokens(&(0..100).collect::<Vec<u32>>());
        assert!(s.check_windows(9).is_ok());
        let err = s.check_windows(10).unwrap_err().to_string();
        assert!(err.contains("val split has 10 tokens"), "{err}");
        assert!(err.contains("seq_len + 1 = 11"), "{err}");
    }
}
