//! Word-level variants (§4.3, optional columns): the decoded samples split on whitespace, then
//! `w_distinct_1`, `w_distinct_2`, `w_seq_rep_4` as the token versions, and `zipf_w`.
use super::tokens::{distinct_n, seq_rep_n};
use super::FxMap;

/// The optional word-level columns.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WordMetrics {
    pub w_distinct_1: Option<f64>,
    pub w_distinct_2: Option<f64>,
    pub w_seq_rep_4: Option<f64>,
    pub zipf_w: Option<f64>,
}

impl WordMetrics {
    pub const COLUMNS: [&'static str; 4] =
        ["w_distinct_1", "w_distinct_2", "w_seq_rep_4", "zipf_w"];

    /// Values in the order of [`WordMetrics::COLUMNS`].
    pub fn values(&self) -> [Option<f64>; 4] {
        [
            self.w_distinct_1,
            self.w_distinct_2,
            self.w_seq_rep_4,
            self.zipf_w,
        ]
    }
}

/// Each text as word ids (one id per distinct whitespace-separated word across all texts).
pub fn word_ids(texts: &[String]) -> Vec<Vec<u32>> {
    let mut index: FxMap<&str, u32> = FxMap::default();
    texts
        .iter()
        .map(|t| {
            t.split_whitespace()
                .map(|w| {
                    let next = index.len() as u32;
                    *index.entry(w).or_insert(next)
                })
                .collect()
        })
        .collect()
}

/// `zipf_w`: minus the least-squares slope of ln(frequency) on ln(rank) over the 1,000 most
/// frequent words (None with fewer than two distinct words).
pub fn zipf_w(words: &[Vec<u32>]) -> Option<f64> {
    let mut freq: FxMap<u32, u64> = FxMap::default();
    for &w in words.iter().flatten() {
        *freq.entry(w).or_insert(0) += 1;
    }
    let mut counts: Vec<u64> = freq.into_values().collect();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    counts.truncate(1000);
    if counts.len() < 2 {
        return None;
    }
    let pts: Vec<(f64, f64)> = counts
        .iter()
        .enumerate()
        .map(|(r, &c)| (((r + 1) as f64).ln(), (c as f64).ln()))
        .collect();
    let n = pts.len() as f64;
    let (mx, my) = (
        pts.iter().map(|p| p.0).sum::<f64>() / n,
        pts.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    // Equal counts give a slope of 0, and `-0.0` would print as "-0".
    Some(0.0 - sxy / sxx)
}

/// The word-level columns of decoded samples.
pub fn word_metrics(texts: &[String]) -> WordMetrics {
    let words = word_ids(texts);
    WordMetrics {
        w_distinct_1: distinct_n(&words, 1),
        w_distinct_2: distinct_n(&words, 2),
        w_seq_rep_4: seq_rep_n(&words, 4),
        zipf_w: zipf_w(&words),
    }
}
