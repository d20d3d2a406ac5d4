//! H2 in the spec's full form (§1): three pieces, each judged per architecture with the spec's
//! rule, and H2 their conjunction.
//!
//! 1. `paired_diff`: stabilised − `plain` of final `fr_entropy_t1` and `tf_entropy_train` < 0
//!    (the paired rows, [`paired_hypothesis`]).
//! 2. `fr_entropy_t1_falls_after_val_min`: per (architecture, condition), the change of
//!    `fr_entropy_t1` from the validation minimum to the last evaluation ([`trajectory`]) over
//!    the runs that reached their minimum before the last evaluation: supported if the bootstrap
//!    CI of the mean change is below 0 and ≥ ⌈0.75·n⌉ runs fall (change and slope < 0);
//!    contradicted if the CI is above 0; otherwise inconclusive (also below 2 such runs).
//! 3. `fr_entropy_t1<h_ref`: per (architecture, condition), final `fr_entropy_t1` − `h_ref` with
//!    the same rule (paired by run instead of by seed).
//!
//! Pieces 2 and 3 are "in every condition": per architecture the conjunction over its conditions,
//! except `feedback_hold` (H8's counterfactual, built to hold entropy up), reported only. H2 per
//! architecture is the conjunction of the three pieces; overall the ≥ 2 neural architectures rule.
use super::rules::{combine, decide, overall, paired_hypothesis};
use super::trajectory::{self, AfterMinimum};
use super::{Analysis, Direction, Hypothesis, Row, RunRecord, Verdict, RESAMPLES, SEED};
use crate::results::paired::{agreement_needed, mean_ci};
use std::fmt::Write as _;

pub const PAIRED_PIECE: &str = "paired_diff";
pub const FALLS: &str = "fr_entropy_t1_falls_after_val_min";
pub const BELOW: &str = "fr_entropy_t1<h_ref";
/// The pieces in report order with a short name.
pub const PIECES: [(&str, &str); 3] = [
    (PAIRED_PIECE, "paired Δ vs plain"),
    (FALLS, "falls after the val_loss minimum"),
    (BELOW, "ends below h_ref"),
];
/// The condition reported in pieces 2 and 3 but left out of their verdict.
pub const REPORTED_ONLY: &str = "feedback_hold";

/// Every H2 row: the paired rows (their verdicts renamed to piece 1), pieces 2 and 3 per
/// (architecture, condition) and per architecture, each piece overall, then H2's verdict per
/// architecture and overall.
pub fn rows(h: &Hypothesis, records: &[RunRecord], archs: &[String], neural: usize) -> Vec<Row> {
    let mut rows = paired_hypothesis(h, records, archs, neural);
    for r in rows.iter_mut().filter(|r| r.summary) {
        (r.metric, r.summary) = (PAIRED_PIECE.into(), false);
    }
    let mut per_arch = Vec::new();
    let (mut falls_all, mut below_all) = (Vec::new(), Vec::new());
    for arch in archs {
        let paired = piece_verdict(&rows, arch, PAIRED_PIECE);
        let falls = per_condition(records, arch, FALLS, &mut rows);
        let below = per_condition(records, arch, BELOW, &mut rows);
        falls_all.push((arch.as_str(), falls));
        below_all.push((arch.as_str(), below));
        let v = combine(&[paired, falls, below]);
        let note = format!(
            "paired Δ {}, falls after the val_loss minimum {}, ends below h_ref {}",
            paired.as_str(),
            falls.as_str(),
            below.as_str()
        );
        rows.push(Row::new("H2", arch, "all", "all", "").combined(v, Some(note)));
        per_arch.push((arch.as_str(), v));
    }
    for (piece, verdicts) in [(FALLS, &falls_all), (BELOW, &below_all)] {
        let mut row = overall("H2", verdicts, neural);
        (row.metric, row.summary) = (piece.into(), false);
        rows.push(row);
    }
    rows.push(overall("H2", &per_arch, neural));
    rows
}

/// The verdict of a piece row for `arch` (condition `all`); inconclusive if there is none.
fn piece_verdict(rows: &[Row], arch: &str, metric: &str) -> Verdict {
    rows.iter()
        .find(|r| r.arch == arch && r.metric == metric && r.condition == "all")
        .map_or(Verdict::Inconclusive, |r| r.verdict)
}

/// Rows of piece `metric` for each condition of `arch`, then their conjunction; returns it.
fn per_condition(records: &[RunRecord], arch: &str, metric: &str, out: &mut Vec<Row>) -> Verdict {
    let mut conditions: Vec<&str> = Vec::new();
    for r in records.iter().filter(|r| r.arch == arch) {
        if !conditions.contains(&r.condition.as_str()) {
            conditions.push(&r.condition);
        }
    }
    let mut verdicts = Vec::new();
    for cond in conditions {
        let runs: Vec<&RunRecord> = records
            .iter()
            .filter(|r| r.arch == arch && r.condition == cond)
            .collect();
        let mut row = if metric == FALLS {
            falls_row(arch, cond, &runs)
        } else {
            below_row(arch, cond, &runs)
        };
        row.primary = cond != REPORTED_ONLY;
        if row.primary {
            verdicts.push(row.verdict);
        }
        out.push(row);
    }
    let v = combine(&verdicts);
    let baseline = if metric == FALLS {
        "val_loss_min"
    } else {
        "h_ref"
    };
    let mut row = Row::new("H2", arch, metric, "all", baseline);
    row.verdict = v;
    out.push(row);
    v
}

/// Piece 3 for one (architecture, condition): `fr_entropy_t1 − h_ref` per run.
fn below_row(arch: &str, cond: &str, runs: &[&RunRecord]) -> Row {
    let gaps: Vec<f64> = runs
        .iter()
        .filter_map(|r| Some(r.metrics.get("fr_entropy_t1")? - r.metrics.get("h_ref")?))
        .collect();
    let row = Row::new("H2", arch, BELOW, cond, "h_ref");
    let mut row = decide(row, &gaps, Direction::Lower);
    if gaps.len() < 2 {
        row.note = Some(format!(
            "{} run(s) report both fr_entropy_t1 and h_ref; no verdict from fewer than 2",
            gaps.len()
        ));
    }
    row
}

/// Piece 2 for one (architecture, condition): the change after the validation minimum per run
/// that reached it; `seeds_agree` counts the runs that fall, `n_seeds` those that reached it.
pub fn falls_row(arch: &str, cond: &str, runs: &[&RunRecord]) -> Row {
    let traj: Vec<AfterMinimum> = runs
        .iter()
        .filter_map(|r| trajectory::from_metrics(&r.metrics))
        .collect();
    let reached: Vec<&AfterMinimum> = traj.iter().filter(|t| t.change.is_some()).collect();
    let changes: Vec<f64> = reached.iter().filter_map(|t| t.change).collect();
    let falls = reached.iter().filter(|t| t.falls() == Some(true)).count();
    let not_reached = traj.len() - reached.len();
    let mut row = Row::new("H2", arch, FALLS, cond, "val_loss_min");
    row.direction = Some(Direction::Lower);
    (row.n_seeds, row.seeds_agree) = (Some(changes.len()), Some(falls));
    if let Some((m, lo, hi)) = mean_ci(&changes, RESAMPLES, SEED) {
        (row.mean_diff, row.ci_low, row.ci_high) = (Some(m), Some(lo), Some(hi));
    }
    row.effect_size = crate::results::paired::standardized_effect(&changes);
    let n = changes.len();
    row.verdict = match (row.ci_low, row.ci_high) {
        (Some(_), Some(hi)) if n >= 2 && hi < 0.0 && falls >= agreement_needed(n) => {
            Verdict::Supported
        }
        (Some(lo), Some(_)) if n >= 2 && lo > 0.0 => Verdict::Contradicted,
        _ => Verdict::Inconclusive,
    };
    let mut why = vec![format!(
        "{n} of {} run(s) reached their val_loss minimum before the last evaluation, {not_reached} \
         not reached",
        traj.len()
    )];
    if traj.len() < runs.len() {
        why.push(format!(
            "{} run(s) without a val_loss/fr_entropy_t1 trajectory",
            runs.len() - traj.len()
        ));
    }
    if n < 2 {
        why.push("no verdict from fewer than 2 runs past their minimum".into());
    }
    row.note = Some(why.join("; "));
    row
}

/// The verdict table's line per H2 piece: its verdict per architecture and overall.
pub fn table_rows(md: &mut String, a: &Analysis) {
    for (metric, name) in PIECES {
        let verdict = |arch: &str| {
            a.rows
                .iter()
                .find(|r| {
                    r.id == "H2" && r.arch == arch && r.metric == metric && r.condition == "all"
                })
                .map_or("–", |r| r.verdict.as_str())
        };
        let mut row = vec![format!("H2 · {name}"), format!("`{metric}`")];
        row.extend(a.archs.iter().map(|arch| verdict(arch).to_string()));
        row.push(verdict("all").into());
        let _ = writeln!(md, "| {} |", row.join(" | "));
    }
}

/// H2's pieces (2) and (3) per (architecture, condition), then every piece per architecture.
pub fn lines(md: &mut String, rows: &[&Row]) {
    for r in rows.iter().filter(|r| r.condition != "all") {
        let what = match r.metric.as_str() {
            FALLS => "fr_entropy_t1 from the val_loss minimum to the last evaluation",
            BELOW => "final fr_entropy_t1 − h_ref",
            _ => continue,
        };
        let role = if r.primary { "" } else { " (reported)" };
        let mut line = format!(
            "- `{}`, {}{role}: {what}: {}: {}",
            r.arch,
            r.condition,
            match r.n_seeds {
                Some(0) | None => "no runs to judge".to_string(),
                _ => super::markdown::numbers(r)
                    .replace("agree", if r.metric == FALLS { "fall" } else { "below" }),
            },
            r.verdict.as_str()
        );
        if let Some(note) = &r.note {
            let _ = write!(line, " ({note})");
        }
        let _ = writeln!(md, "{line}");
    }
    let mut archs: Vec<&str> = Vec::new();
    for r in rows
        .iter()
        .filter(|r| r.metric == FALLS && r.condition == "all")
    {
        archs.push(&r.arch);
    }
    for arch in archs {
        let parts: Vec<String> = PIECES
            .iter()
            .filter_map(|(metric, name)| {
                let r = rows
                    .iter()
                    .find(|r| r.arch == arch && r.metric == *metric && r.condition == "all")?;
                Some(format!("{name}: {}", r.verdict.as_str()))
            })
            .collect();
        let who = if arch == "all" {
            "overall".to_string()
        } else {
            format!("`{arch}`")
        };
        let _ = writeln!(md, "- {who}, H2's pieces: {}", parts.join("; "));
    }
}
