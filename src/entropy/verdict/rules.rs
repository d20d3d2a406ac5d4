//! Paired rows: differences by seed, one metric's verdict, the conjunction over metrics and
//! conditions, and the overall rule over architectures.
use super::{
    is_neural, Direction, Hypothesis, MetricTest, Row, RunRecord, Verdict, RESAMPLES, SEED,
};
use crate::results::paired::{
    agreement_needed, mean_ci, paired_diffs, sign_agreement, standardized_effect,
};

/// (seed, value) of `metric` over the runs of `arch` under `condition`.
pub fn values(records: &[RunRecord], arch: &str, condition: &str, metric: &str) -> Vec<(u64, f64)> {
    records
        .iter()
        .filter(|r| r.arch == arch && r.condition == condition)
        .filter_map(|r| r.metrics.get(metric).map(|v| (r.seed, *v)))
        .collect()
}

/// Paired differences (condition − baseline) of `metric` within `arch`, by seed.
pub fn diffs(records: &[RunRecord], arch: &str, pair: (&str, &str), metric: &str) -> Vec<f64> {
    let treated = values(records, arch, pair.0, metric);
    let base = values(records, arch, pair.1, metric);
    paired_diffs(&treated, &base)
        .into_iter()
        .map(|(_, d)| d)
        .collect()
}

pub fn has_condition(records: &[RunRecord], arch: &str, condition: &str) -> bool {
    records
        .iter()
        .any(|r| r.arch == arch && r.condition == condition)
}

/// Rows of one paired hypothesis: per arch and pair, its metrics and their conjunction; per arch
/// the conjunction over pairs; then the overall rule applied to each pair alone (reported, e.g.
/// `feedback` only) and the overall row.
pub fn paired_hypothesis(
    h: &Hypothesis,
    records: &[RunRecord],
    archs: &[String],
    neural: usize,
) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut per_arch = Vec::new();
    let mut per_pair: Vec<Vec<(&str, Verdict)>> = vec![Vec::new(); h.pairs.len()];
    for arch in archs {
        let mut pair_verdicts = Vec::new();
        let mut missing = Vec::new();
        for (i, &(cond, base)) in h.pairs.iter().enumerate() {
            if !has_condition(records, arch, cond) || !has_condition(records, arch, base) {
                missing.push(format!("{cond} − {base}"));
                continue;
            }
            let metric_rows: Vec<Row> = h
                .tests
                .iter()
                .map(|test| metric_row(h.id, arch, (cond, base), test, records))
                .collect();
            let primary: Vec<Verdict> = metric_rows
                .iter()
                .filter(|r| r.primary)
                .map(|r| r.verdict)
                .collect();
            let v = combine(&primary);
            rows.extend(metric_rows);
            rows.push(Row::new(h.id, arch, "all", cond, base).combined(v, None));
            pair_verdicts.push(v);
            per_pair[i].push((arch.as_str(), v));
        }
        let note = (!missing.is_empty())
            .then(|| format!("no runs of {} for this architecture", missing.join(", ")));
        let v = combine(&pair_verdicts);
        rows.push(Row::new(h.id, arch, "all", "all", "").combined(v, note));
        per_arch.push((arch.as_str(), v));
    }
    for (&(cond, base), verdicts) in h.pairs.iter().zip(&per_pair) {
        if !verdicts.is_empty() {
            let mut row = overall(h.id, verdicts, neural);
            (row.condition, row.baseline, row.summary) = (cond.into(), base.into(), false);
            rows.push(row);
        }
    }
    rows.push(overall(h.id, &per_arch, neural));
    rows
}

/// One metric under one (condition, baseline) pair within one architecture.
fn metric_row(
    id: &str,
    arch: &str,
    pair: (&str, &str),
    test: &MetricTest,
    records: &[RunRecord],
) -> Row {
    let d = diffs(records, arch, pair, test.metric);
    let mut row = decide(
        Row::new(id, arch, test.metric, pair.0, pair.1),
        &d,
        test.direction,
    );
    row.primary = test.primary;
    row
}

/// Fill a row's numbers and verdict from paired differences and the predicted direction.
pub fn decide(mut row: Row, diffs: &[f64], direction: Direction) -> Row {
    let n = diffs.len();
    row.direction = Some(direction);
    row.n_seeds = Some(n);
    if let Some((m, lo, hi)) = mean_ci(diffs, RESAMPLES, SEED) {
        row.mean_diff = Some(m);
        row.ci_low = Some(lo);
        row.ci_high = Some(hi);
    }
    let agree = sign_agreement(diffs, direction == Direction::Higher);
    row.seeds_agree = Some(agree);
    row.effect_size = standardized_effect(diffs);
    if n < 2 {
        row.note = Some(match n {
            0 => "no paired runs report this metric".into(),
            _ => "only 1 paired seed: no verdict from fewer than 2".into(),
        });
        row.verdict = Verdict::Inconclusive;
        return row;
    }
    let (lo, hi) = (
        row.ci_low.unwrap_or(f64::NAN),
        row.ci_high.unwrap_or(f64::NAN),
    );
    let (toward, against) = match direction {
        Direction::Lower => (hi < 0.0, lo > 0.0),
        Direction::Higher => (lo > 0.0, hi < 0.0),
    };
    row.verdict = if toward && agree >= agreement_needed(n) {
        Verdict::Supported
    } else if against {
        Verdict::Contradicted
    } else {
        Verdict::Inconclusive
    };
    row
}

/// A conjunction: supported if every part is, contradicted if any part is, else inconclusive
/// (also when there are no parts).
pub fn combine(parts: &[Verdict]) -> Verdict {
    if parts.contains(&Verdict::Contradicted) {
        Verdict::Contradicted
    } else if !parts.is_empty() && parts.iter().all(|v| *v == Verdict::Supported) {
        Verdict::Supported
    } else {
        Verdict::Inconclusive
    }
}

/// The overall row from the per-architecture verdicts (neural architectures only).
pub fn overall(id: &str, per_arch: &[(&str, Verdict)], neural: usize) -> Row {
    let count = |v: Verdict| {
        per_arch
            .iter()
            .filter(|(a, x)| is_neural(a) && *x == v)
            .count()
    };
    let (sup, con) = (count(Verdict::Supported), count(Verdict::Contradicted));
    let (verdict, note) = if neural < 2 {
        let why = format!(
            "only {neural} neural architecture(s) in this study; the overall rule needs at least 2"
        );
        (Verdict::Inconclusive, why)
    } else {
        let v = if sup >= 2 && con == 0 {
            Verdict::Supported
        } else if con >= 2 && sup == 0 {
            Verdict::Contradicted
        } else {
            Verdict::Inconclusive
        };
        let why = format!("{sup} of {neural} neural architectures support it, {con} contradict");
        (v, why)
    };
    Row::new(id, "all", "all", "all", "").combined(verdict, Some(note))
}
