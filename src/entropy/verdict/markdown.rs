//! The hypotheses section of report.md: provenance, the rules, the verdict table, every paired
//! difference with its CI, H5's correlation and effect sizes, and one line of numbers per
//! (hypothesis, architecture, condition). Every verdict is printed the same way.
use super::extra::{Effect, EFFECT_METRICS};
use super::h2::{self, BELOW, FALLS};
use super::{Analysis, Row, PAIRED, PERMUTATIONS, RESAMPLES};
use crate::results::format::sig;
use std::fmt::Write;
use std::path::Path;

/// Ids in report order with a short statement of each claim.
const CLAIMS: &[(&str, &str)] = &[
    ("H1", "stabilised runs: lower train_fit_loss than plain"),
    ("H2", "stabilised runs: lower fr_entropy_t1 and tf_entropy_train; in every condition fr_entropy_t1 falls after the val_loss minimum and ends below h_ref"),
    ("H3", "stabilised runs: higher copy_rate_32_t1, top1_mass_fr, kl_bi_fwd; lower coverage_4"),
    ("H4", "stabilised runs: more repetition (seq_rep_4, loop_frac_greedy, rep_64 up; distinct_2..4 down)"),
    ("H5", "across runs: Spearman ρ(stab_loss_jitter, fr_entropy_t1) > 0"),
    ("H6", "H2–H4 signs agree in ≥ ⌈0.75·n_seeds⌉ seeds"),
    ("H7", "exact-MLE n-gram entropy equals H_k(train) and falls with k"),
    ("H8", "feedback_hold: higher fr_entropy_t1 than feedback"),
];

pub const PROVENANCE: &str = "Only the paper's abstract and the opening of its introduction were \
available: its theorem statements, feedback controller, architectures, datasets and numbers were \
not. H1–H6 therefore test the paper's claims, not a replica of the authors' code, under the \
assumptions A1–A8 of the spec (`entropy-probe.md` §0 and the assumption index); H7 is \
reconstructed theory and H8 an extension that is not in the paper.";

/// The whole section; `notes` are reasons runs were left out, `theory` a theory.csv beside it,
/// `provenance` the commits and config hash of the runs.
pub fn render(a: &Analysis, notes: &[String], theory: Option<&Path>, provenance: &str) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "## Hypotheses (verdicts)\n\n{PROVENANCE}\n\n{provenance}\n"
    );
    rules(&mut md);
    for note in notes {
        let _ = writeln!(md, "**Note:** {note}.\n");
    }
    verdict_table(&mut md, a);
    lines(&mut md, a, theory);
    difference_table(&mut md, a);
    effects_table(&mut md, &a.effects);
    let _ = writeln!(
        md,
        "Files: `sweep.csv` (one row per completed run: arch, condition, seed, final metrics and \
         summary scalars) and `hypotheses.csv` (the rows above).\n"
    );
    md
}

fn rules(md: &mut String) {
    let _ = writeln!(
        md,
        "How the verdicts are reached. Differences are paired within (architecture, seed): \
         condition − `plain` (H8: `feedback_hold` − `feedback`). Per metric: **supported** if the \
         95% percentile-bootstrap CI of the mean difference ({RESAMPLES} resamples, fixed seed) \
         excludes 0 in the predicted direction and at least ⌈0.75·n⌉ seeds agree in sign; \
         **contradicted** if the CI excludes 0 the other way; **inconclusive** otherwise and \
         whenever fewer than 2 seeds are paired. A hypothesis is the conjunction of its primary \
         metrics and of its conditions: per architecture it is supported if every metric under \
         every condition is, contradicted if any is, inconclusive otherwise. Overall: supported \
         if at least 2 neural architectures support it and none contradicts, contradicted if at \
         least 2 contradict and none supports, inconclusive otherwise; `ngram` and `bigram` do \
         not count as neural architectures. H5 is Spearman ρ over all runs with a one-sided \
         permutation p ({PERMUTATIONS} permutations): supported if ρ > 0 and p < 0.05, \
         contradicted if ρ < 0 and p < 0.05; in `hypotheses.csv` its `mean_diff` holds ρ, \
         `n_seeds` the number of runs and the last column `p_value` the p on the side of ρ's \
         sign. H6 counts, per architecture, the H2–H4 tests whose signs agree in ⌈0.75·n⌉ seeds \
         (`seeds_agree` of `n_seeds` tests): supported if all do, contradicted if any test agrees \
         that often against the prediction. Lines \"overall, X − plain alone\" apply the \
         overall rule to one condition (reported). With 3 seeds or fewer the percentile \
         bootstrap CI spans about the range of the differences (a resample of the smallest \
         value alone has probability (1/n)^n ≥ 2.5%), so a CI that excludes 0 then means every \
         seed moved the same way. The repetition rows of H8 are reported, not part of its verdict.\n"
    );
    let _ = writeln!(
        md,
        "H2 has three pieces, each judged per architecture with the rule above, and H2 is their \
         conjunction (supported if all three are, contradicted if any is, otherwise \
         inconclusive; overall by the same 2-architecture rule). (1) `{}`: the paired \
         differences of final fr_entropy_t1 and tf_entropy_train. (2) `{FALLS}`, per condition: \
         in each run take the first evaluation with the lowest val_loss; if it is the last \
         evaluation the run has not reached its minimum and is left out (counted as \"not \
         reached\"); otherwise the change of fr_entropy_t1 from there to the last evaluation, \
         with its least-squares slope over those evaluations; a run falls when change and slope \
         are both negative. Supported if the CI of the mean change is below 0 and at least \
         ⌈0.75·n⌉ of the n runs past their minimum fall, contradicted if the CI is above 0. \
         (3) `{BELOW}`, per condition: final fr_entropy_t1 − h_ref per run, the same rule. \
         \"In every condition\": pieces (2) and (3) are the conjunction over an \
         architecture's conditions except `{}` (H8's counterfactual, reported only).\n",
        h2::PAIRED_PIECE,
        h2::REPORTED_ONLY
    );
}

fn verdict_table(md: &mut String, a: &Analysis) {
    let mut head = vec!["id".to_string(), "claim".to_string()];
    head.extend(a.archs.iter().map(|arch| format!("`{arch}`")));
    head.push("overall".into());
    let _ = writeln!(
        md,
        "| {} |\n|{}",
        head.join(" | "),
        "---|".repeat(head.len())
    );
    for (id, claim) in CLAIMS {
        let mut row = vec![id.to_string(), claim.to_string()];
        for arch in &a.archs {
            row.push(
                a.per_arch(id, arch)
                    .map_or("–".into(), |r| r.verdict.as_str().into()),
            );
        }
        row.push(
            a.overall(id)
                .map_or("–".into(), |r| r.verdict.as_str().into()),
        );
        let _ = writeln!(md, "| {} |", row.join(" | "));
        if *id == "H2" {
            h2::table_rows(md, a);
        }
    }
    md.push('\n');
}

/// One list per hypothesis: a line of numbers per (architecture, condition) and the overall.
fn lines(md: &mut String, a: &Analysis, theory: Option<&Path>) {
    let _ = writeln!(md, "### Numbers per hypothesis\n");
    for (id, claim) in CLAIMS {
        let _ = writeln!(md, "**{id}** ({claim}):\n");
        let rows: Vec<&Row> = a.rows.iter().filter(|r| r.id == *id).collect();
        if PAIRED.iter().any(|h| h.id == *id) {
            paired_lines(md, &rows);
        }
        if *id == "H2" {
            h2::lines(md, &rows);
        }
        let piece = |r: &Row| r.id == "H2" && [FALLS, BELOW].contains(&r.metric.as_str());
        for r in rows
            .iter()
            .filter(|r| r.summary || (!r.primary && !piece(r)))
        {
            let _ = writeln!(md, "- {}", summary_line(r));
        }
        if *id == "H7" {
            if let Some(p) = theory {
                let _ = writeln!(
                    md,
                    "- a theory table is beside this report: `{}`",
                    p.display()
                );
            }
        }
        md.push('\n');
    }
}

/// `arch, cond − base: metric Δ [lo, hi] (k/n), ...: verdict` for each combined pair row.
fn paired_lines(md: &mut String, rows: &[&Row]) {
    for combined in rows
        .iter()
        .filter(|r| r.metric == "all" && r.condition != "all")
    {
        if combined.arch == "all" {
            let _ = writeln!(
                md,
                "- overall, {} − {} alone: {} ({})",
                combined.condition,
                combined.baseline,
                combined.verdict.as_str(),
                combined.note.as_deref().unwrap_or_default()
            );
            continue;
        }
        let parts: Vec<String> = rows
            .iter()
            .filter(|r| r.primary && r.metric != "all")
            .filter(|r| r.arch == combined.arch && r.condition == combined.condition)
            .filter(|r| r.baseline == combined.baseline)
            .map(|r| format!("{} {}", r.metric, numbers(r)))
            .collect();
        let _ = writeln!(
            md,
            "- `{}`, {} − {}: {}: {}",
            combined.arch,
            combined.condition,
            combined.baseline,
            parts.join("; "),
            combined.verdict.as_str()
        );
    }
}

fn summary_line(r: &Row) -> String {
    let what = match (r.arch.as_str(), r.summary) {
        ("all", true) => "overall".to_string(),
        (arch, true) => format!("`{arch}`"),
        (arch, false) => format!("`{arch}`, {} (reported)", r.metric),
    };
    let mut text = format!("{what}: ");
    if r.id == "H5" {
        let _ = write!(
            text,
            "ρ = {}, p = {}, {} runs; ",
            opt(r.mean_diff),
            opt(r.p_value),
            r.n_seeds.unwrap_or(0)
        );
    } else if r.id == "H6" && r.arch != "all" {
        let _ = write!(
            text,
            "{} of {} tests meet the sign count; ",
            r.seeds_agree.unwrap_or(0),
            r.n_seeds.unwrap_or(0)
        );
    } else if !r.summary {
        let _ = write!(text, "{}; ", numbers(r));
    }
    text.push_str(r.verdict.as_str());
    if let Some(note) = &r.note {
        let _ = write!(text, " ({note})");
    }
    text
}

/// `Δ = m [lo, hi], k/n seeds agree` (or what there is of it).
pub(super) fn numbers(r: &Row) -> String {
    let n = r.n_seeds.unwrap_or(0);
    if n == 0 {
        return "no paired runs".into();
    }
    format!(
        "Δ = {} [{}, {}], {}/{} agree",
        opt(r.mean_diff),
        opt(r.ci_low),
        opt(r.ci_high),
        r.seeds_agree.unwrap_or(0),
        n
    )
}

fn difference_table(md: &mut String, a: &Analysis) {
    let rows: Vec<&Row> = a
        .rows
        .iter()
        .filter(|r| r.direction.is_some() && r.metric != "all" && r.id != "H5")
        .collect();
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "### Paired differences\n\n`d` = mean / sd of the differences. Rows marked \
         \"reported\" do not enter the verdict.\n\n\
         | id | arch | metric | difference | predicted | mean Δ [95% CI] | d | seeds agree | verdict |\n\
         |---|---|---|---|---|---|---|---|---|"
    );
    for r in rows {
        let role = if r.primary { "" } else { " (reported)" };
        let _ = writeln!(
            md,
            "| {} | `{}` | {}{role} | {} | {} | {} [{}, {}] | {} | {}/{} | {} |",
            r.id,
            r.arch,
            r.metric,
            difference(r),
            r.direction.map_or("", |d| d.symbol()),
            opt(r.mean_diff),
            opt(r.ci_low),
            opt(r.ci_high),
            opt(r.effect_size),
            r.seeds_agree.unwrap_or(0),
            r.n_seeds.unwrap_or(0),
            r.verdict.as_str()
        );
    }
    md.push('\n');
}

/// What a difference row subtracts: condition − baseline, or H2's per-run differences.
fn difference(r: &Row) -> String {
    match r.metric.as_str() {
        FALLS => format!("{}: last − at val_loss min", r.condition),
        BELOW => format!("{}: final − h_ref", r.condition),
        _ => format!("{} − {}", r.condition, r.baseline),
    }
}

/// H5's second part: |d| of val_loss next to |d| of the generation metrics.
fn effects_table(md: &mut String, effects: &[Effect]) {
    if effects.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "### H5: standardised effect sizes (reported)\n\nd = mean / sd of the paired \
         differences against `plain`; the last column counts the generation metrics whose \
         absolute d exceeds that of `val_loss`.\n"
    );
    let mut head: Vec<String> = ["arch", "condition", "seeds"].map(String::from).to_vec();
    head.extend(EFFECT_METRICS.iter().map(|m| format!("d({m})")));
    head.push("larger than val_loss".into());
    let _ = writeln!(
        md,
        "| {} |\n|{}",
        head.join(" | "),
        "---|".repeat(head.len())
    );
    for chunk in effects.chunks(EFFECT_METRICS.len()) {
        let val = chunk[0].effect_size;
        let gen: Vec<f64> = chunk[1..].iter().filter_map(|e| e.effect_size).collect();
        let larger = match val {
            Some(v) => format!(
                "{} of {}",
                gen.iter().filter(|g| g.abs() > v.abs()).count(),
                gen.len()
            ),
            None => "–".into(),
        };
        let mut row = vec![
            format!("`{}`", chunk[0].arch),
            chunk[0].condition.clone(),
            chunk.iter().map(|e| e.n).max().unwrap_or(0).to_string(),
        ];
        row.extend(chunk.iter().map(|e| opt(e.effect_size)));
        row.push(larger);
        let _ = writeln!(md, "| {} |", row.join(" | "));
    }
    md.push('\n');
}

fn opt(v: Option<f64>) -> String {
    v.map_or("–".into(), sig)
}
