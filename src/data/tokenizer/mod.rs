//! Tokenizers: one [`Tokenizer`] enum over four kinds, built from a [`TokenizerConfig`] and a
//! corpus, saved to and reloaded from JSON (`tokenizer.json` in a run directory).
//!
//! | kind | ids | unknown input |
//! |---|---|---|
//! | `char` | the sorted set of the corpus's chars, then the specials | error naming the char |
//! | `word` | the `top_k` most frequent words by rank, then `<unk>`, then the specials | `<unk>` |
//! | `bytes` | bytes 0–255, then the specials | none |
//! | `bpe` | HuggingFace byte-level BPE (`tokenizers` crate): specials first, then the 256 byte symbols, then merges | none |
//!
//! Specials (`specials: ["<bos>", "<eos>", "<pad>"]`, any names) get their own ids; `encode`
//! reads text literally and never produces them (the caller adds them by id), `decode` writes
//! them by name. [`Tokenizer::bos`]/[`eos`](Tokenizer::eos)/[`pad`](Tokenizer::pad) are the ids
//! of the specials named `<bos>`, `<eos>`, `<pad>`, if present.
//!
//! Reading order: this file, then `chars.rs`, `word.rs`, `bytes.rs`, `bpe.rs`.
mod bpe;
mod bytes;
mod chars;
mod word;

pub use bpe::BpeTokenizer;
pub use bytes::BytesTokenizer;
pub use chars::CharTokenizer;
pub use word::{split_words, WordTokenizer};

use crate::config::{Checker, Validate};
use crate::error::usage;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The tokenizer section of a config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum TokenizerConfig {
    Char {
        #[serde(default)]
        specials: Vec<String>,
    },
    Word {
        #[serde(default = "d_top_k")]
        top_k: usize,
        #[serde(default)]
        specials: Vec<String>,
    },
    Bytes {
        #[serde(default)]
        specials: Vec<String>,
    },
    Bpe {
        vocab_size: usize,
        #[serde(default)]
        specials: Vec<String>,
    },
}

fn d_top_k() -> usize {
    4000
}

impl TokenizerConfig {
    fn specials(&self) -> &[String] {
        match self {
            TokenizerConfig::Char { specials }
            | TokenizerConfig::Word { specials, .. }
            | TokenizerConfig::Bytes { specials }
            | TokenizerConfig::Bpe { specials, .. } => specials,
        }
    }
}

impl Validate for TokenizerConfig {
    fn validate(&self, c: &mut Checker) {
        self.validate_at(c, "tokenizer");
    }
}

impl TokenizerConfig {
    /// Range checks, with key paths under `at` (the section's path in the whole config).
    pub fn validate_at(&self, c: &mut Checker, at: &str) {
        let specials = self.specials();
        for (i, s) in specials.iter().enumerate() {
            c.check(
                &format!("{at}.specials"),
                !s.is_empty() && !specials[..i].contains(s),
                format!("`{s}` is empty or listed twice"),
            );
        }
        match self {
            TokenizerConfig::Word { top_k, specials } => {
                c.at_least(&format!("{at}.top_k"), *top_k, 1);
                c.check(
                    &format!("{at}.specials"),
                    !specials.iter().any(|s| s == word::UNK),
                    format!("`{}` is always there; do not list it", word::UNK),
                );
            }
            TokenizerConfig::Bpe {
                vocab_size,
                specials,
            } => c.at_least(
                &format!("{at}.vocab_size"),
                *vocab_size,
                256 + specials.len(),
            ),
            _ => {}
        }
    }
}

/// A built tokenizer (module doc).
#[derive(Clone, Debug)]
pub enum Tokenizer {
    Char(CharTokenizer),
    Word(WordTokenizer),
    Bytes(BytesTokenizer),
    Bpe(Box<BpeTokenizer>),
}

/// Our own JSON form (`bpe` saves HuggingFace's tokenizer.json instead).
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
enum Saved {
    Char {
        chars: Vec<char>,
        specials: Vec<String>,
    },
    Word {
        words: Vec<String>,
        specials: Vec<String>,
    },
    Bytes {
        specials: Vec<String>,
    },
}

impl Tokenizer {
    /// Build the tokenizer of `cfg` from the full corpus text.
    pub fn build(cfg: &TokenizerConfig, corpus: &str) -> Result<Tokenizer> {
        let mut checker = Checker::default();
        cfg.validate(&mut checker);
        if let Some((key, why)) = checker.problems.first() {
            return Err(usage(format!("tokenizer: `{key}` {why}")));
        }
        let specials = cfg.specials().to_vec();
        Ok(match cfg {
            TokenizerConfig::Char { .. } => {
                Tokenizer::Char(CharTokenizer::from_corpus(corpus, specials))
            }
            TokenizerConfig::Word { top_k, .. } => {
                Tokenizer::Word(WordTokenizer::from_corpus(corpus, *top_k, specials))
            }
            TokenizerConfig::Bytes { .. } => Tokenizer::Bytes(BytesTokenizer::new(specials)),
            TokenizerConfig::Bpe { vocab_size, .. } => Tokenizer::Bpe(Box::new(
                BpeTokenizer::train(corpus, *vocab_size, &specials)?,
            )),
        })
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Tokenizer::Char(_) => "char",
            Tokenizer::Word(_) => "word",
            Tokenizer::Bytes(_) => "bytes",
            Tokenizer::Bpe(_) => "bpe",
        }
    }

    /// Token ids of `text` (read literally: specials are never produced).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        match self {
            Tokenizer::Char(t) => t.encode(text),
            Tokenizer::Word(t) => Ok(t.encode(text)),
            Tokenizer::Bytes(t) => Ok(t.encode(text)),
            Tokenizer::Bpe(t) => t.encode(text),
        }
    }

    /// Text of `ids`; specials are written by name. An id outside the vocabulary is an error.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        let vocab = self.vocab_size();
        if let Some(bad) = ids.iter().find(|&&id| id as usize >= vocab) {
            bail!(
                "token id {bad} is outside the {} tokenizer's vocabulary of {vocab}",
                self.kind()
            );
        }
        match self {
            Tokenizer::Char(t) => Ok(t.decode(ids)),
            Tokenizer::Word(t) => Ok(t.decode(ids)),
            Tokenizer::Bytes(t) => Ok(t.decode(ids)),
            Tokenizer::Bpe(t) => t.decode(ids),
        }
    }

    /// Number of ids, specials included.
    pub fn vocab_size(&self) -> usize {
        match self {
            Tokenizer::Char(t) => t.vocab_size(),
            Tokenizer::Word(t) => t.vocab_size(),
            Tokenizer::Bytes(t) => t.vocab_size(),
            Tokenizer::Bpe(t) => t.vocab_size(),
        }
    }

    /// The id of the special token `name`, if this tokenizer has it.
    pub fn special(&self, name: &str) -> Option<u32> {
        match self {
            Tokenizer::Char(t) => t.special(name),
            Tokenizer::Word(t) => t.special(name),
            Tokenizer::Bytes(t) => t.special(name),
            Tokenizer::Bpe(t) => t.special(name),
        }
    }

    pub fn bos(&self) -> Option<u32> {
        self.special("<bos>")
    }
    pub fn eos(&self) -> Option<u32> {
        self.special("<eos>")
    }
    pub fn pad(&self) -> Option<u32> {
        self.special("<pad>")
    }

    /// The JSON that [`Tokenizer::from_json`] reads back into the same tokenizer.
    pub fn to_json(&self) -> Result<String> {
        let saved = match self {
            Tokenizer::Char(t) => Saved::Char {
                chars: t.chars().to_vec(),
                specials: t.specials().to_vec(),
            },
            Tokenizer::Word(t) => Saved::Word {
                words: t.words().to_vec(),
                specials: t.specials().to_vec(),
            },
            Tokenizer::Bytes(t) => Saved::Bytes {
                specials: t.specials().to_vec(),
            },
            Tokenizer::Bpe(t) => return t.to_json(),
        };
        Ok(serde_json::to_string_pretty(&saved)? + "\n")
    }

    /// Read [`Tokenizer::to_json`]'s output (or any HuggingFace byte-level BPE tokenizer.json).
    pub fn from_json(text: &str) -> Result<Tokenizer> {
        let value: serde_json::Value = serde_json::from_str(text).context("invalid JSON")?;
        if value.get("model").is_some() && value.get("kind").is_none() {
            return Ok(Tokenizer::Bpe(Box::new(BpeTokenizer::from_json(text)?)));
        }
        let saved: Saved = serde_json::from_value(value).context("not a lab tokenizer")?;
        Ok(match saved {
            Saved::Char { chars, specials } => {
                Tokenizer::Char(CharTokenizer::from_parts(chars, specials)?)
            }
            Saved::Word { words, specials } => {
                Tokenizer::Word(WordTokenizer::from_parts(words, specials)?)
            }
            Saved::Bytes { specials } => Tokenizer::Bytes(BytesTokenizer::new(specials)),
        })
    }

    /// Write [`Tokenizer::to_json`] to `path` atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::run::write_atomic(path, self.to_json()?.as_bytes())
    }

    /// Read a tokenizer saved with [`Tokenizer::save`]; errors name the path.
    pub fn load(path: &Path) -> Result<Tokenizer> {
        let text = crate::input::read_to_string(path)
            .with_context(|| format!("reading tokenizer {}", path.display()))?;
        Tokenizer::from_json(&text).with_context(|| format!("tokenizer {}", path.display()))
    }
}

/// Names of special tokens and the id of the first one (they are consecutive).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Specials {
    pub names: Vec<String>,
    pub first: u32,
}

impl Specials {
    pub fn id(&self, name: &str) -> Option<u32> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| self.first + i as u32)
    }

    /// The name of `id` if it is a special.
    pub fn name(&self, id: u32) -> Option<&str> {
        id.checked_sub(self.first)
            .and_then(|i| self.names.get(i as usize))
            .map(String::as_str)
    }
}
