//! The `text` task as a library (spec §7.1): model-free analysis of generated text against a
//! reference corpus, so outputs of any LLM can be audited.
//!
//! - Input ([`read_samples`]): one sample per line (blank lines skipped), or JSONL objects with a
//!   string `text` field (chosen by the extension `.jsonl` or a first non-blank `{`).
//! - Tokens are characters. The vocabulary is every character of the reference and the samples,
//!   so a character absent from the reference gets an id that matches no training n-gram.
//! - The reference is split like the spec's data: its first `split` (0.9) of characters are the
//!   `train` side (copy rate, coverage's top 4-grams, the reference model), the rest is held
//!   out. The real continuations are consecutive pieces of the held-out part, one per sample and
//!   as long as it, starting at its beginning; if the samples are longer in total than the
//!   held-out part it is reused from its start (`real_wraps` counts how often).
//! - Every §4 column that needs no model: the sample columns with the samples as the T = 1 side
//!   (no greedy columns), the word-level columns, and `gen_ref_nll`, the mean `−ln p_ref` of
//!   every sample character (context: the sample's earlier characters) under the §3.6
//!   interpolated reference model fitted on the train side.
use crate::entropy::metrics::{
    ref_nll, sample_metrics, word_metrics, MetricOptions, SampleMetrics, TrainIndex, WordMetrics,
};
use crate::entropy::ngram::Interpolated;
use crate::error::usage;
use anyhow::{Context, Result};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

/// Samples of a text file (module doc). Errors are usage errors naming the file and line.
pub fn read_samples(path: &Path) -> Result<Vec<String>> {
    let shown = path.display();
    let bytes =
        crate::input::read(path).map_err(|e| usage(format!("{shown}: cannot read: {e}")))?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        let at = e.valid_up_to();
        let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        usage(format!(
            "{shown}:{line}: not UTF-8 (first bad byte at byte offset {at})"
        ))
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let jsonl =
        path.extension().is_some_and(|e| e == "jsonl") || text.trim_start().starts_with('{');
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        out.push(if jsonl {
            json_text(line).map_err(|why| usage(format!("{shown}:{}: {why}", i + 1)))?
        } else {
            line.to_string()
        });
    }
    if out.is_empty() {
        return Err(usage(format!("{shown}: no samples (every line is blank)")));
    }
    if out.iter().all(String::is_empty) {
        return Err(usage(format!(
            "{shown}: every sample's \"text\" is empty: there is nothing to score"
        )));
    }
    Ok(out)
}

fn json_text(line: &str) -> std::result::Result<String, String> {
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("not a JSON value: {e}"))?;
    match value.get("text") {
        Some(serde_json::Value::String(s)) => Ok(s.clone()),
        _ => Err("a JSONL line must be an object with a string \"text\" field".into()),
    }
}

/// Settings of the analysis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextOptions {
    /// Fraction of the reference (in characters) used as the train side (0.9).
    pub split: f64,
    /// Highest order of the interpolated reference model (5).
    pub ref_order: usize,
    /// Its add-δ smoothing (0.01).
    pub ref_delta: f64,
    /// Optional columns (`self_bleu` on, `mauve` off by default).
    pub metrics: MetricOptions,
}

impl Default for TextOptions {
    fn default() -> Self {
        TextOptions {
            split: 0.9,
            ref_order: 5,
            ref_delta: 0.01,
            metrics: MetricOptions {
                self_bleu: true,
                mauve: false,
                mauve_seed: 0,
            },
        }
    }
}

/// One row of results.
#[derive(Debug, Clone, PartialEq)]
pub struct TextReport {
    pub samples: usize,
    pub sample_chars: usize,
    pub vocab: usize,
    pub train_chars: usize,
    pub heldout_chars: usize,
    /// How often the held-out part was reused from its start to make the real continuations.
    pub real_wraps: usize,
    pub gen_ref_nll: Option<f64>,
    pub metrics: SampleMetrics,
    pub words: WordMetrics,
}

/// Character ids over the sorted union of the reference's and the samples' characters.
struct Chars(HashMap<char, u32>);

impl Chars {
    fn new<'a>(texts: impl Iterator<Item = &'a str>) -> Chars {
        let set: BTreeSet<char> = texts.flat_map(str::chars).collect();
        Chars(set.into_iter().zip(0..).collect())
    }
    fn encode(&self, s: &str) -> Vec<u32> {
        s.chars().map(|c| self.0[&c]).collect()
    }
}

/// Real continuations: consecutive pieces of `held`, one as long as each sample, wrapping.
fn real_pieces(held: &[u32], samples: &[Vec<u32>]) -> (Vec<Vec<u32>>, usize) {
    let (mut at, mut wraps) = (0usize, 0usize);
    let pieces = samples
        .iter()
        .map(|s| {
            (0..s.len())
                .map(|_| {
                    if at == held.len() {
                        at = 0;
                        wraps += 1;
                    }
                    at += 1;
                    held[at - 1]
                })
                .collect()
        })
        .collect();
    (pieces, wraps)
}

/// Analyse `samples` against the `reference` text (module doc).
pub fn analyse(samples: &[String], reference: &str, opts: &TextOptions) -> Result<TextReport> {
    if samples.is_empty() {
        return Err(usage("text: no samples to analyse"));
    }
    if !(opts.split > 0.0 && opts.split < 1.0) {
        return Err(usage(format!(
            "text: split must be in (0, 1), got {}",
            opts.split
        )));
    }
    let chars = Chars::new(std::iter::once(reference).chain(samples.iter().map(String::as_str)));
    let vocab = chars.0.len();
    let ref_ids = chars.encode(reference);
    let cut = (opts.split * ref_ids.len() as f64).floor() as usize;
    if cut == 0 || cut == ref_ids.len() {
        return Err(usage(format!(
            "text: the reference of {} characters leaves an empty train or held-out part at \
             split {}",
            ref_ids.len(),
            opts.split
        )));
    }
    let (train, held) = ref_ids.split_at(cut);
    let ids: Vec<Vec<u32>> = samples.iter().map(|s| chars.encode(s)).collect();
    let (real, real_wraps) = real_pieces(held, &ids);
    let index = TrainIndex::new(train);
    let metrics = sample_metrics(&ids, &[], &real, &index, vocab, &opts.metrics);
    let model = Interpolated::fit(train, opts.ref_order, vocab, opts.ref_delta)
        .map_err(|e| usage(format!("text: reference model: {e}")))?;
    Ok(TextReport {
        samples: samples.len(),
        sample_chars: ids.iter().map(Vec::len).sum(),
        vocab,
        train_chars: train.len(),
        heldout_chars: held.len(),
        real_wraps,
        gen_ref_nll: ref_nll(&model, &[], &ids),
        metrics,
        words: word_metrics(samples),
    })
}

const META: [&str; 7] = [
    "samples",
    "sample_chars",
    "vocab",
    "train_chars",
    "heldout_chars",
    "real_wraps",
    "gen_ref_nll",
];

impl TextReport {
    /// The CSV header: the counts, `gen_ref_nll`, the sample columns without the greedy ones
    /// (in §4.7 order), then the word-level columns.
    pub fn columns() -> Vec<&'static str> {
        let sample = SampleMetrics::columns()
            .iter()
            .filter(|c| !c.contains("greedy"));
        META.iter()
            .chain(sample)
            .chain(&WordMetrics::COLUMNS)
            .copied()
            .collect()
    }

    /// The row, in the order of [`TextReport::columns`]: numbers as `metrics.csv` prints them
    /// (never `-0`), empty strings for None.
    pub fn row(&self) -> Vec<String> {
        let cell = |v: Option<f64>| v.map_or(String::new(), crate::run::fmt_num);
        let counts = [
            self.samples,
            self.sample_chars,
            self.vocab,
            self.train_chars,
            self.heldout_chars,
            self.real_wraps,
        ];
        let sample = SampleMetrics::columns()
            .iter()
            .zip(self.metrics.values())
            .filter(|(c, _)| !c.contains("greedy"))
            .map(|(_, v)| cell(v));
        counts
            .iter()
            .map(|n| n.to_string())
            .chain([cell(self.gen_ref_nll)])
            .chain(sample)
            .chain(self.words.values().into_iter().map(cell))
            .collect()
    }

    /// Write the header and the one row to `path`.
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(Self::columns())?;
        w.write_record(self.row())?;
        crate::run::write_atomic(path, &w.into_inner()?)
            .with_context(|| format!("text: cannot write {}", path.display()))
    }
}
