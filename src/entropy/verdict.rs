//! Verdicts on the spec's hypotheses (§1) from the completed runs of a sweep: paired differences
//! against the baseline within (architecture, seed), a seeded bootstrap CI and a sign count per
//! metric, then a per-architecture and an overall verdict per hypothesis. H5 is a rank
//! correlation over runs, H6 a sign count over the H2–H4 tests, H7 belongs to `task: theory`.
//!
//! How verdicts combine (also stated in the report):
//! - metric: *supported* if the 95% bootstrap CI of the mean paired difference excludes 0 in the
//!   predicted direction and ≥ ⌈0.75·n⌉ seeds agree in sign; *contradicted* if the CI excludes 0
//!   the other way; otherwise (and always with fewer than 2 paired seeds) *inconclusive*;
//! - a hypothesis is a conjunction of its primary metrics, and of its conditions: per
//!   (architecture, condition) and per architecture it is *supported* if every part is supported,
//!   *contradicted* if any part is contradicted, otherwise *inconclusive*;
//! - overall (arch `all`): *supported* if ≥ 2 neural architectures support it and none
//!   contradicts, *contradicted* if ≥ 2 contradict and none supports, otherwise *inconclusive*.
//!   `ngram` and `bigram` are not neural architectures here (no or trivial training).
//! - H2 adds two pieces to its paired differences (`h2.rs`): `fr_entropy_t1` falls after the
//!   validation minimum (`trajectory.rs`) and ends below `h_ref`, in every condition; H2 is the
//!   conjunction of the three.
//!
//! Reading order: this file (the hypotheses), `rules.rs`, `h2.rs` with `trajectory.rs`,
//! `extra.rs` (H5–H7), `files.rs` (runs in, CSVs out), `markdown.rs`, then the §7.3 plots:
//! `scatter.rs` (stability against entropy), `plots.rs` with `plot_data.rs` (the step plots).
pub mod extra;
pub mod files;
pub mod h2;
pub mod markdown;
pub mod plot_data;
pub mod plots;
pub mod rules;
pub mod scatter;
pub mod trajectory;

pub use files::{records_from, report, write_hypotheses_csv, write_sweep_csv};
pub use rules::{combine, decide, diffs, overall, values};

use rules::paired_hypothesis;
use std::collections::BTreeMap;

/// One completed run: its architecture (`model.kind`), condition, seed and final numbers (the
/// last metrics.csv row and the numeric summary.json entries; an empty cell is absent).
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub arch: String,
    pub condition: String,
    pub seed: u64,
    pub metrics: BTreeMap<String, f64>,
}

/// The baseline every stabilised condition is paired with.
pub const BASELINE: &str = "plain";
/// Bootstrap resamples for every CI, and permutations for H5's p-value.
pub const RESAMPLES: usize = 10_000;
pub const PERMUTATIONS: usize = 10_000;
/// The RNG seed of every bootstrap and permutation, so a report is reproducible.
pub const SEED: u64 = 0x0e47_0b0e;
/// Architectures left out of the "neural architectures" counts of the overall rule and H6.
pub const NON_NEURAL: [&str; 2] = ["ngram", "bigram"];

/// The predicted sign of (condition − baseline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Lower,
    Higher,
}

impl Direction {
    pub fn symbol(self) -> &'static str {
        match self {
            Direction::Lower => "< 0",
            Direction::Higher => "> 0",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Supported,
    Contradicted,
    Inconclusive,
    NotRun,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Supported => "supported",
            Verdict::Contradicted => "contradicted",
            Verdict::Inconclusive => "inconclusive",
            Verdict::NotRun => "not run here",
        }
    }
}

/// One metric of a paired hypothesis; only primary metrics enter its verdict.
pub struct MetricTest {
    pub metric: &'static str,
    pub direction: Direction,
    pub primary: bool,
}

/// A hypothesis tested by paired differences (condition − baseline).
pub struct Hypothesis {
    pub id: &'static str,
    pub claim: &'static str,
    /// (condition, baseline) pairs; a pair absent from the study is skipped with a note.
    pub pairs: &'static [(&'static str, &'static str)],
    pub tests: &'static [MetricTest],
}

const fn t(metric: &'static str, direction: Direction, primary: bool) -> MetricTest {
    MetricTest {
        metric,
        direction,
        primary,
    }
}

const STABILISED: &[(&str, &str)] = &[("conventional", BASELINE), ("feedback", BASELINE)];
use Direction::{Higher, Lower};

/// H1–H4 and H8 (spec §1), in report order.
pub const PAIRED: &[Hypothesis] = &[
    Hypothesis {
        id: "H1",
        claim: "stabilised runs fit the training text more closely (lower train_fit_loss)",
        pairs: STABILISED,
        tests: &[t("train_fit_loss", Lower, true)],
    },
    Hypothesis {
        id: "H2",
        claim: "stabilised runs have lower generative entropy",
        pairs: STABILISED,
        tests: &[
            t("fr_entropy_t1", Lower, true),
            t("tf_entropy_train", Lower, true),
        ],
    },
    Hypothesis {
        id: "H3",
        claim: "mass concentrates on a few empirical modes",
        pairs: STABILISED,
        tests: &[
            t("copy_rate_32_t1", Higher, true),
            t("top1_mass_fr", Higher, true),
            t("coverage_4", Lower, true),
            t("kl_bi_fwd", Higher, true),
        ],
    },
    Hypothesis {
        id: "H4",
        claim: "stabilised runs repeat more",
        pairs: STABILISED,
        tests: REPETITION_UP,
    },
    Hypothesis {
        id: "H8",
        claim:
            "holding fr_entropy at h_ref (feedback_hold) prevents the entropy collapse of feedback",
        pairs: &[("feedback_hold", "feedback")],
        tests: &[
            t("fr_entropy_t1", Higher, true),
            // Reported, not part of the verdict: less repetition under hold would mean the
            // entropy collapse drives the repetition.
            t("seq_rep_4_greedy", Lower, false),
            t("seq_rep_4_t1", Lower, false),
            t("loop_frac_greedy", Lower, false),
            t("rep_64", Lower, false),
            t("distinct_2", Higher, false),
            t("distinct_3", Higher, false),
            t("distinct_4", Higher, false),
        ],
    },
];

const REPETITION_UP: &[MetricTest] = &[
    t("seq_rep_4_greedy", Higher, true),
    t("seq_rep_4_t1", Higher, true),
    t("loop_frac_greedy", Higher, true),
    t("rep_64", Higher, true),
    t("distinct_2", Lower, true),
    t("distinct_3", Lower, true),
    t("distinct_4", Lower, true),
];

/// One row of hypotheses.csv (plus what only the markdown shows: direction, effect size, note).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub id: String,
    pub arch: String,
    pub metric: String,
    pub condition: String,
    pub baseline: String,
    pub mean_diff: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub seeds_agree: Option<usize>,
    pub n_seeds: Option<usize>,
    pub verdict: Verdict,
    /// H5 only: the one-sided permutation p on the side of ρ's sign.
    pub p_value: Option<f64>,
    pub direction: Option<Direction>,
    /// Whether the row enters its hypothesis's verdict (false: reported only).
    pub primary: bool,
    /// The hypothesis's verdict for its architecture (or, with arch `all`, overall).
    pub summary: bool,
    /// Mean / sd of the paired differences (None below 2 seeds or with sd 0).
    pub effect_size: Option<f64>,
    /// Why a verdict is what it is, when the numbers alone do not say (markdown only).
    pub note: Option<String>,
}

impl Row {
    pub fn new(id: &str, arch: &str, metric: &str, condition: &str, baseline: &str) -> Row {
        Row {
            id: id.into(),
            arch: arch.into(),
            metric: metric.into(),
            condition: condition.into(),
            baseline: baseline.into(),
            mean_diff: None,
            ci_low: None,
            ci_high: None,
            seeds_agree: None,
            n_seeds: None,
            verdict: Verdict::Inconclusive,
            p_value: None,
            direction: None,
            primary: true,
            summary: false,
            effect_size: None,
            note: None,
        }
    }

    /// A combined row (metric and/or condition `all`) carrying `verdict` and its reason; a
    /// summary row when its condition is `all` (per architecture or overall).
    fn combined(&self, verdict: Verdict, note: Option<String>) -> Row {
        Row {
            verdict,
            note,
            summary: self.condition == "all",
            ..Row::new(
                &self.id,
                &self.arch,
                &self.metric,
                &self.condition,
                &self.baseline,
            )
        }
    }
}

/// Everything the report shows: the rows of hypotheses.csv in order, the architectures found
/// and the H5 effect sizes.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub archs: Vec<String>,
    pub rows: Vec<Row>,
    pub effects: Vec<extra::Effect>,
    pub notes: Vec<String>,
}

impl Analysis {
    /// The overall row of hypothesis `id`.
    pub fn overall(&self, id: &str) -> Option<&Row> {
        self.per_arch(id, "all")
    }

    /// The verdict row of hypothesis `id` for architecture `arch` (`all`: overall).
    pub fn per_arch(&self, id: &str, arch: &str) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.summary && r.id == id && r.arch == arch)
    }
}

/// Verdicts for every hypothesis from one record per completed run.
pub fn analyse(records: &[RunRecord]) -> Analysis {
    let (records, mut notes) = dedup(records);
    let mut archs: Vec<String> = Vec::new();
    for r in &records {
        if !archs.contains(&r.arch) {
            archs.push(r.arch.clone());
        }
    }
    let neural = archs.iter().filter(|a| is_neural(a)).count();
    let mut rows = Vec::new();
    for h in &PAIRED[..4] {
        if h.id == "H2" {
            rows.extend(h2::rows(h, &records, &archs, neural));
        } else {
            rows.extend(paired_hypothesis(h, &records, &archs, neural));
        }
    }
    rows.extend(extra::correlation(&records, &archs));
    rows.extend(extra::robustness(&records, &archs, neural));
    rows.push(extra::theory_row());
    rows.extend(paired_hypothesis(&PAIRED[4], &records, &archs, neural));
    if archs.is_empty() {
        notes.push("no completed run has `model.kind`, `condition` and `seed`".into());
    }
    Analysis {
        effects: extra::effects(&records, &archs),
        archs,
        rows,
        notes,
    }
}

pub fn is_neural(arch: &str) -> bool {
    !NON_NEURAL.contains(&arch)
}

/// Keep the first run of each (arch, condition, seed); a note says how many were dropped.
fn dedup(records: &[RunRecord]) -> (Vec<RunRecord>, Vec<String>) {
    let mut seen = std::collections::BTreeSet::new();
    let mut kept = Vec::new();
    for r in records {
        if seen.insert((r.arch.clone(), r.condition.clone(), r.seed)) {
            kept.push(r.clone());
        }
    }
    let mut notes = Vec::new();
    let dropped = records.len() - kept.len();
    if dropped > 0 {
        notes.push(format!(
            "{dropped} run(s) repeat an (arch, condition, seed) already seen (another grid axis?); \
             only the first of each is used"
        ));
    }
    (kept, notes)
}

#[cfg(test)]
mod h2_tests;
#[cfg(test)]
mod tests;
