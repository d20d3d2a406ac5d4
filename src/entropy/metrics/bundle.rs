//! Every model-free sample column of §4.7 in one call, shared by the training evaluation and the
//! `text` task.
use super::{
    bleu::self_bleu4, dist::dist_stats, dist::DistStats, index::TrainIndex, mauve::mauve_ngram,
    tokens::*,
};
use crate::entropy::ngram::Interpolated;

/// Which of the optional, costlier columns to compute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetricOptions {
    /// `self_bleu4` (by default only at the final evaluation, §4.3).
    pub self_bleu: bool,
    /// `mauve_ngram` (off by default, §4.5).
    pub mauve: bool,
    /// Seed of the MAUVE-ngram k-means.
    pub mauve_seed: u64,
}

/// The sample columns. `None` is an empty CSV cell: an empty denominator, no greedy samples, or
/// an optional column that was not asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SampleMetrics {
    pub dist: DistStats,
    pub distinct_1: Option<f64>,
    pub distinct_2: Option<f64>,
    pub distinct_3: Option<f64>,
    pub distinct_4: Option<f64>,
    pub distinct_4_greedy: Option<f64>,
    pub seq_rep_1_t1: Option<f64>,
    pub seq_rep_4_t1: Option<f64>,
    pub seq_rep_4_greedy: Option<f64>,
    pub loop_frac_greedy: Option<f64>,
    pub loop_period_greedy: Option<f64>,
    pub loop_frac_t1: Option<f64>,
    pub longest_repeat_t1: Option<f64>,
    pub longest_repeat_greedy: Option<f64>,
    pub copy_rate_32_t1: Option<f64>,
    pub copy_rate_32_greedy: Option<f64>,
    pub coverage_4: Option<f64>,
    pub top10_share_4: Option<f64>,
    pub self_bleu4: Option<f64>,
    pub mauve_ngram: Option<f64>,
}

const OWN_COLUMNS: [&str; 19] = [
    "distinct_1",
    "distinct_2",
    "distinct_3",
    "distinct_4",
    "distinct_4_greedy",
    "seq_rep_1_t1",
    "seq_rep_4_t1",
    "seq_rep_4_greedy",
    "loop_frac_greedy",
    "loop_period_greedy",
    "loop_frac_t1",
    "longest_repeat_t1",
    "longest_repeat_greedy",
    "copy_rate_32_t1",
    "copy_rate_32_greedy",
    "coverage_4",
    "top10_share_4",
    "self_bleu4",
    "mauve_ngram",
];

static COLUMNS: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();

impl SampleMetrics {
    /// The columns this bundle fills, in §4.7 order (the §4.2 block first; `rep_16`..`hits_at_1`
    /// between `seq_rep_4_greedy` and `loop_frac_greedy` are teacher-forced and not here).
    pub fn columns() -> &'static [&'static str] {
        COLUMNS.get_or_init(|| {
            DistStats::COLUMNS
                .iter()
                .chain(&OWN_COLUMNS)
                .copied()
                .collect()
        })
    }

    /// Values in the order of [`SampleMetrics::columns`].
    pub fn values(&self) -> Vec<Option<f64>> {
        let own = [
            self.distinct_1,
            self.distinct_2,
            self.distinct_3,
            self.distinct_4,
            self.distinct_4_greedy,
            self.seq_rep_1_t1,
            self.seq_rep_4_t1,
            self.seq_rep_4_greedy,
            self.loop_frac_greedy,
            self.loop_period_greedy,
            self.loop_frac_t1,
            self.longest_repeat_t1,
            self.longest_repeat_greedy,
            self.copy_rate_32_t1,
            self.copy_rate_32_greedy,
            self.coverage_4,
            self.top10_share_4,
            self.self_bleu4,
            self.mauve_ngram,
        ];
        self.dist.values().into_iter().chain(own).collect()
    }

    /// The value of one column by name.
    pub fn get(&self, column: &str) -> Option<f64> {
        let i = Self::columns().iter().position(|&c| c == column)?;
        self.values()[i]
    }
}

/// The §4.2–§4.5 sample columns. `t1`: the T = 1 continuations; `greedy`: the greedy ones (may
/// be empty: their columns are then None); `real`: the real continuations after the same
/// prompts, as long as the T = 1 ones; `index`: the training split, indexed once per run.
pub fn sample_metrics(
    t1: &[Vec<u32>],
    greedy: &[Vec<u32>],
    real: &[Vec<u32>],
    index: &TrainIndex,
    vocab: usize,
    opts: &MetricOptions,
) -> SampleMetrics {
    let share = |s: &[Vec<u32>]| top_share(s, 4, 10);
    let (loop_frac_t1, _) = loops(t1);
    let (loop_frac_greedy, loop_period_greedy) = loops(greedy);
    SampleMetrics {
        dist: dist_stats(t1, real, vocab),
        distinct_1: distinct_n(t1, 1),
        distinct_2: distinct_n(t1, 2),
        distinct_3: distinct_n(t1, 3),
        distinct_4: distinct_n(t1, 4),
        distinct_4_greedy: distinct_n(greedy, 4),
        seq_rep_1_t1: seq_rep_n(t1, 1),
        seq_rep_4_t1: seq_rep_n(t1, 4),
        seq_rep_4_greedy: seq_rep_n(greedy, 4),
        loop_frac_greedy,
        loop_period_greedy,
        loop_frac_t1,
        longest_repeat_t1: mean_longest_repeat(t1),
        longest_repeat_greedy: mean_longest_repeat(greedy),
        copy_rate_32_t1: index.copy_rate(t1),
        copy_rate_32_greedy: index.copy_rate(greedy),
        coverage_4: index.coverage(t1, real),
        top10_share_4: share(t1).zip(share(real)).map(|(g, d)| g - d),
        self_bleu4: if opts.self_bleu { self_bleu4(t1) } else { None },
        mauve_ngram: if opts.mauve {
            mauve_ngram(t1, real, opts.mauve_seed)
        } else {
            None
        },
    }
}

/// `gen_ref_nll`: the mean `−ln p_ref(token | context)` over every sample token under the
/// reference model, the context being the sample's prompt (when `prompts` is not empty, one per
/// sample) followed by the sample's earlier tokens. None without tokens.
pub fn ref_nll(model: &Interpolated, prompts: &[Vec<u32>], samples: &[Vec<u32>]) -> Option<f64> {
    assert!(
        prompts.is_empty() || prompts.len() == samples.len(),
        "ref_nll: one prompt per sample, or none"
    );
    let (mut sum, mut n) = (0.0, 0usize);
    let mut seq = Vec::new();
    for (i, s) in samples.iter().enumerate() {
        seq.clear();
        seq.extend_from_slice(prompts.get(i).map_or(&[][..], |p| p.as_slice()));
        let start = seq.len();
        seq.extend_from_slice(s);
        for t in start..seq.len() {
            sum -= model.prob(&seq[..t], seq[t]).ln();
            n += 1;
        }
    }
    (n > 0).then(|| sum / n as f64)
}
