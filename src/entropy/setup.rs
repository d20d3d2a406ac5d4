//! The data every task starts from: corpus → tokenizer (fit on the whole corpus, so the
//! vocabulary is the corpus's symbol set, §3.1) → contiguous train/val split, capped at
//! `data.split.train_tokens`; and the true entropy rate when the source is synthetic.
use super::config::DataSection;
use crate::data::{CorpusConfig, Splits, Tokenizer};
use crate::error::usage;
use anyhow::{Context, Result};

pub struct Data {
    pub tokenizer: Tokenizer,
    pub splits: Splits,
    /// The analytic entropy rate (nats/token) of a synthetic Markov corpus with a char
    /// tokenizer; None for real text.
    pub true_rate: Option<f64>,
}

impl Data {
    /// Checks the val split can be scored and adds the synthetic source's true entropy rate
    /// (the same for a lab tokenizer and a TorchScript module's vocabulary).
    pub fn new(d: &DataSection, tokenizer: Tokenizer, splits: Splits) -> Result<Data> {
        if splits.val.len() < 2 {
            return Err(usage(format!(
                "{}: the val split has {} tokens; it needs at least 2 (check \
                 data.split.train_frac, {})",
                super::fit::corpus_name(&d.corpus),
                splits.val.len(),
                d.split.train_frac
            )));
        }
        let true_rate = match (&d.corpus, tokenizer.kind()) {
            (CorpusConfig::Markov(m), "char") => {
                let source = crate::data::markov::MarkovSource::new(m);
                let rate = source.and_then(|s| s.entropy_rate());
                Some(rate.with_context(|| super::fit::corpus_name(&d.corpus))?)
            }
            _ => None,
        };
        Ok(Data {
            tokenizer,
            splits,
            true_rate,
        })
    }

    pub fn vocab(&self) -> usize {
        self.tokenizer.vocab_size()
    }
}

pub fn load(d: &DataSection) -> Result<Data> {
    let corpus = d
        .corpus
        .load()
        .with_context(|| super::fit::corpus_name(&d.corpus))?;
    if corpus.text.is_empty() {
        return Err(usage(format!(
            "data.corpus ({}) is empty: there is no text to train or score on",
            d.corpus.kind()
        )));
    }
    let tokenizer = Tokenizer::build(&d.tokenizer, &corpus.text)?;
    let splits = d.split.split_corpus(&corpus, &tokenizer)?;
    if let Some(m) = d.split.train_tokens {
        if m > splits.train_available {
            return Err(usage(format!(
                "data.split.train_tokens is {m} but the training split has only {} tokens; \
                 lower it or leave it out to use the whole split",
                splits.train_available
            )));
        }
    }
    Data::new(d, tokenizer, splits)
}
