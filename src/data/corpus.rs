//! Corpora as a config section (`CorpusConfig`, tagged by `kind`) and the text they load to.
//!
//! A paper config embeds the section, e.g. `corpus: {kind: kjv}` or
//! `corpus: {kind: file, path: input.txt, sha256: 86c4...}`; [`CorpusConfig::load`] gives a
//! [`Corpus`]: the text plus, for generated sources with their own train/val lengths, where
//! validation text begins.
use super::{fortunes, grammar, kjv, markov};
use crate::config::{Checker, Validate};
use crate::error::usage;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum CorpusConfig {
    /// The KJV Bible, prepared by `make data-kjv` (sha256-checked at every load).
    Kjv {
        #[serde(default = "default_kjv_path")]
        path: PathBuf,
    },
    /// Debian's `fortunes` package: its plain-text files joined in name order.
    Fortunes {
        #[serde(default = "default_fortunes_dir")]
        dir: PathBuf,
    },
    /// Synthetic order-m Markov source with a known entropy rate.
    Markov(markov::MarkovConfig),
    /// Text from a small probabilistic grammar.
    Grammar(grammar::GrammarConfig),
    /// Any UTF-8 text file; `sha256` (hex) is checked when given.
    File {
        path: PathBuf,
        #[serde(default)]
        sha256: Option<String>,
    },
}

fn default_kjv_path() -> PathBuf {
    PathBuf::from(kjv::DEFAULT_PATH)
}

fn default_fortunes_dir() -> PathBuf {
    PathBuf::from(fortunes::DEFAULT_DIR)
}

/// A loaded corpus.
#[derive(Clone, Debug)]
pub struct Corpus {
    pub text: String,
    /// Byte offset in `text` where the source's own validation part begins (Markov:
    /// `train_len` symbols, then `val_len`); `None`: split by fraction.
    pub val_start: Option<usize>,
}

impl CorpusConfig {
    /// The kind as written in configs.
    pub fn kind(&self) -> &'static str {
        match self {
            CorpusConfig::Kjv { .. } => "kjv",
            CorpusConfig::Fortunes { .. } => "fortunes",
            CorpusConfig::Markov(_) => "markov",
            CorpusConfig::Grammar(_) => "grammar",
            CorpusConfig::File { .. } => "file",
        }
    }

    /// Load (or generate) the text.
    pub fn load(&self) -> Result<Corpus> {
        let whole = |text| Corpus {
            text,
            val_start: None,
        };
        Ok(match self {
            CorpusConfig::Kjv { path } => whole(kjv::load(path)?),
            CorpusConfig::Fortunes { dir } => whole(fortunes::load(dir)?),
            CorpusConfig::Markov(cfg) => {
                let source = markov::MarkovSource::new(cfg)?;
                let (train, val) = source.generate(cfg);
                let val_start = train.len();
                Corpus {
                    text: train + &val,
                    val_start: Some(val_start),
                }
            }
            CorpusConfig::Grammar(cfg) => whole(grammar::generate(cfg)),
            CorpusConfig::File { path, sha256 } => whole(read_text(path, sha256.as_deref())?),
        })
    }

    /// Check a corpus read from files, without tokenizing it: the kjv file (with its sha256),
    /// the fortunes folder's files (listed and read as UTF-8), or the `file` (readable, UTF-8,
    /// its sha256 if given, not empty). Generated sources have nothing to check. Errors are
    /// usage errors starting with `at`, the section's key path (e.g. `data.corpus`).
    pub fn check_inputs(&self, at: &str) -> Result<()> {
        let checked = match self {
            CorpusConfig::Kjv { path } => kjv::load(path).map(drop),
            // Read whole: a file that is not UTF-8 is refused naming the key before a run starts.
            CorpusConfig::Fortunes { dir } => fortunes::load(dir).map(drop),
            CorpusConfig::File { path, sha256 } => match read_text(path, sha256.as_deref()) {
                Ok(text) if text.is_empty() => Err(usage(format!(
                    "corpus file {} is empty: there is no text to train or score on",
                    path.display()
                ))),
                other => other.map(drop),
            },
            CorpusConfig::Markov(_) | CorpusConfig::Grammar(_) => Ok(()),
        };
        checked.map_err(|e| usage(format!("{at}: {e:#}")))
    }
}

impl Validate for CorpusConfig {
    fn validate(&self, c: &mut Checker) {
        self.validate_at(c, "corpus");
    }
}

impl CorpusConfig {
    /// Range checks, with key paths under `at` (the section's path in the whole config).
    pub fn validate_at(&self, c: &mut Checker, at: &str) {
        match self {
            CorpusConfig::Markov(m) => m.validate_at(c, at),
            CorpusConfig::Grammar(g) => g.validate_at(c, at),
            CorpusConfig::File {
                sha256: Some(s), ..
            } => c.check(
                &format!("{at}.sha256"),
                s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()),
                format!("must be 64 hex digits, got `{s}`"),
            ),
            _ => {}
        }
    }
}

/// Read a UTF-8 text file, checking its sha256 (hex, any case) when one is given. Errors name
/// the path: missing file, not a regular file (a folder, a FIFO that would block, a device
/// that never ends), over [`super::MAX_GENERATED_CHARS`] bytes, unreadable (no permission),
/// invalid UTF-8 (with the byte offset), digest mismatch (both digests). All are usage errors: the user names the file.
pub fn read_text(path: &Path, sha256: Option<&str>) -> Result<String> {
    // A device (/dev/zero) never ends the read, and a FIFO would be empty for the run after
    // the preflight's read (the file is read by both).
    if let Ok(meta) = std::fs::metadata(path) {
        let max = super::MAX_GENERATED_CHARS as u64;
        if !meta.is_file() {
            return Err(usage(format!(
                "cannot read corpus file {}: not a regular file (a folder, a FIFO or a device)",
                path.display()
            )));
        }
        if meta.len() > max {
            return Err(usage(format!(
                "corpus file {}: {} bytes, over the {max} a corpus may have",
                path.display(),
                meta.len()
            )));
        }
    }
    let bytes = std::fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            usage(format!("corpus file {} not found", path.display()))
        } else {
            usage(format!("cannot read corpus file {}: {e}", path.display()))
        }
    })?;
    if let Some(want) = sha256 {
        let got = sha256_hex(&bytes);
        if !got.eq_ignore_ascii_case(want.trim()) {
            return Err(usage(format!(
                "corpus file {}: sha256 is {got}, expected {}",
                path.display(),
                want.trim()
            )));
        }
    }
    String::from_utf8(bytes).map_err(|e| {
        usage(format!(
            "corpus file {} is not UTF-8: invalid byte at offset {}",
            path.display(),
            e.utf8_error().valid_up_to()
        ))
    })
}

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What `lab corpus info` prints.
#[derive(Clone, Debug, PartialEq)]
pub struct TextStats {
    pub bytes: usize,
    pub chars: usize,
    pub distinct: usize,
    /// Number of `\n`-terminated lines (plus one for a last line without `\n`).
    pub lines: usize,
    pub sha256: String,
}

impl TextStats {
    pub fn of(text: &str) -> TextStats {
        let distinct: BTreeSet<char> = text.chars().collect();
        TextStats {
            bytes: text.len(),
            chars: text.chars().count(),
            distinct: distinct.len(),
            lines: text.lines().count(),
            sha256: sha256_hex(text.as_bytes()),
        }
    }
}
