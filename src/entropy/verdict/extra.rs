//! The rows that are not one paired metric: H5's rank correlation
//! and standardised effect sizes, H6's sign counts and H7's pointer to `task: theory`.
use super::rules::{diffs, has_condition, overall};
use super::{Direction, Row, RunRecord, Verdict, PAIRED, PERMUTATIONS, SEED};
use crate::results::paired::{
    agreement_needed, sign_agreement, spearman_test, standardized_effect,
};

pub const JITTER: &str = "stab_loss_jitter";
pub const ENTROPY: &str = "fr_entropy_t1";
pub const RHO_METRIC: &str = "spearman(stab_loss_jitter,fr_entropy_t1)";

/// H5: Spearman ρ(stab_loss_jitter, fr_entropy_t1) over all runs (the verdict, arch `all`) and
/// within each architecture (reported). ρ goes in `mean_diff`, the one-sided permutation p on
/// the side of ρ's sign in `p_value`, the number of runs in `n_seeds`.
pub fn correlation(records: &[RunRecord], archs: &[String]) -> Vec<Row> {
    let mut rows: Vec<Row> = archs
        .iter()
        .map(|a| {
            let runs: Vec<&RunRecord> = records.iter().filter(|r| &r.arch == a).collect();
            let mut row = rho_row(a, &runs);
            row.primary = false;
            row.summary = true;
            row
        })
        .collect();
    let mut all = rho_row("all", &records.iter().collect::<Vec<_>>());
    all.summary = true;
    rows.push(all);
    rows
}

fn rho_row(arch: &str, runs: &[&RunRecord]) -> Row {
    let pairs: Vec<(f64, f64)> = runs
        .iter()
        .filter_map(|r| Some((*r.metrics.get(JITTER)?, *r.metrics.get(ENTROPY)?)))
        .collect();
    let (x, y): (Vec<f64>, Vec<f64>) = pairs.iter().copied().unzip();
    let mut row = Row::new("H5", arch, RHO_METRIC, "all", "");
    row.n_seeds = Some(pairs.len());
    row.direction = Some(Direction::Higher);
    match spearman_test(&x, &y, PERMUTATIONS, SEED) {
        None => {
            row.note = Some(format!(
                "no rank correlation from {} run(s) (needs 2 or more, neither side constant)",
                pairs.len()
            ));
        }
        Some(t) => {
            row.mean_diff = Some(t.rho);
            row.p_value = Some(t.p_own_side());
            row.verdict = if t.rho > 0.0 && t.p_greater < 0.05 {
                Verdict::Supported
            } else if t.rho < 0.0 && t.p_less < 0.05 {
                Verdict::Contradicted
            } else {
                Verdict::Inconclusive
            };
        }
    }
    row
}

/// H5's second part: standardised effect sizes (mean / sd of the paired differences) of
/// `val_loss` and of generation metrics, per architecture and condition against `plain`.
#[derive(Debug, Clone, PartialEq)]
pub struct Effect {
    pub arch: String,
    pub condition: String,
    pub metric: String,
    pub n: usize,
    pub mean_diff: Option<f64>,
    pub effect_size: Option<f64>,
}

/// Validation loss first, then the generation metrics compared with it.
pub const EFFECT_METRICS: &[&str] = &[
    "val_loss",
    "fr_entropy_t1",
    "seq_rep_4_greedy",
    "seq_rep_4_t1",
    "loop_frac_greedy",
    "distinct_4",
    "copy_rate_32_t1",
];

pub fn effects(records: &[RunRecord], archs: &[String]) -> Vec<Effect> {
    let mut conditions: Vec<&str> = Vec::new();
    for r in records.iter().filter(|r| r.condition != super::BASELINE) {
        if !conditions.contains(&r.condition.as_str()) {
            conditions.push(&r.condition);
        }
    }
    let mut out = Vec::new();
    for arch in archs {
        for &cond in &conditions {
            if !has_condition(records, arch, cond) || !has_condition(records, arch, super::BASELINE)
            {
                continue;
            }
            for &metric in EFFECT_METRICS {
                let d = diffs(records, arch, (cond, super::BASELINE), metric);
                out.push(Effect {
                    arch: arch.clone(),
                    condition: cond.to_string(),
                    metric: metric.to_string(),
                    n: d.len(),
                    mean_diff: (!d.is_empty()).then(|| crate::results::stats::mean(&d)),
                    effect_size: standardized_effect(&d),
                });
            }
        }
    }
    out
}

/// H6: per architecture, whether the signs of every primary H2–H4 test (metric × stabilised
/// condition) agree in ≥ ⌈0.75·n⌉ seeds. `seeds_agree` counts the tests that meet it and
/// `n_seeds` the tests. Supported if all meet it, contradicted if any test has ≥ ⌈0.75·n⌉
/// seeds on the opposite side; overall as the other hypotheses (≥ 2 neural architectures).
pub fn robustness(records: &[RunRecord], archs: &[String], neural: usize) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut per_arch = Vec::new();
    for arch in archs {
        let (mut tests, mut meet, mut reversed) = (0, 0, 0);
        for h in PAIRED.iter().filter(|h| ["H2", "H3", "H4"].contains(&h.id)) {
            for &pair in h.pairs {
                if !has_condition(records, arch, pair.0) || !has_condition(records, arch, pair.1) {
                    continue;
                }
                for test in h.tests.iter().filter(|t| t.primary) {
                    let d = diffs(records, arch, pair, test.metric);
                    let up = test.direction == Direction::Higher;
                    let need = agreement_needed(d.len());
                    tests += 1;
                    meet += usize::from(d.len() >= 2 && sign_agreement(&d, up) >= need);
                    reversed += usize::from(d.len() >= 2 && sign_agreement(&d, !up) >= need);
                }
            }
        }
        let mut row = Row::new("H6", arch, "sign_counts(H2-H4)", "all", super::BASELINE);
        (row.seeds_agree, row.n_seeds) = (Some(meet), Some(tests));
        row.summary = true;
        row.verdict = if tests == 0 {
            row.note = Some("no paired H2–H4 tests for this architecture".into());
            Verdict::Inconclusive
        } else if reversed > 0 {
            Verdict::Contradicted
        } else if meet == tests {
            Verdict::Supported
        } else {
            Verdict::Inconclusive
        };
        if reversed > 0 {
            row.note = Some(format!(
                "{reversed} test(s) agree in sign against the prediction"
            ));
        }
        per_arch.push((arch.as_str(), row.verdict));
        rows.push(row);
    }
    let mut all = overall("H6", &per_arch, neural);
    all.metric = "sign_counts(H2-H4)".into();
    rows.push(all);
    rows
}

/// H7 is a deterministic check on exact n-gram models, not a sweep statistic.
pub fn theory_row() -> Row {
    let mut row = Row::new("H7", "all", "H_k(train) vs k", "", "");
    row.verdict = Verdict::NotRun;
    row.summary = true;
    row.note =
        Some("checked by `lab entropy-probe` with `task: theory` (§2.6), not by a sweep".into());
    row
}
