//! compare.csv (§7.9) and the `lab report` hook of prefixrl runs: compare.csv with the offline
//! FLOPs charged to the methods that use the traces (§5.1 default), compare_no_offline.csv
//! without any offline charge (§8: both views), and a markdown section with the per-method
//! means and the §7.11 criteria table.
use super::{acceptance, compare, Comparison};
use crate::prefixrl::columns;
use crate::prefixrl::config::ChargeOffline;
use crate::report::ReportExtra;
use crate::results::runs::Collection;
use crate::run::fmt_num;
use anyhow::Result;
use std::path::{Path, PathBuf};

/// Write the comparison's rows as compare.csv (`columns::compare(baseline)`).
pub fn write_csv(path: &Path, c: &Comparison) -> Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(columns::compare(&c.baseline))?;
    for r in &c.rows {
        let mut rec = vec![r.method.clone(), r.seed.clone()];
        rec.extend(r.values().map(|v| v.map_or(String::new(), fmt_num)));
        w.write_record(&rec)?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    crate::run::write_atomic(path, &bytes)
}

/// The baseline of a report: `sft-rl` (the strongest baseline, §6) when present, else `rl`,
/// else the first method.
fn pick_baseline(labels: &[String]) -> Option<String> {
    ["sft-rl", "rl"]
        .iter()
        .find(|b| labels.iter().any(|l| l == *b))
        .map(|b| b.to_string())
        .or_else(|| labels.first().cloned())
}

/// `lab report`'s hook (module doc): the completed runs that have an eval.csv.
pub fn report(c: &Collection, dir: &Path) -> Result<ReportExtra> {
    let dirs: Vec<PathBuf> = c
        .cells
        .iter()
        .flat_map(|cell| &cell.runs)
        .filter(|r| r.completed() && r.dir.join("eval.csv").is_file())
        .map(|r| r.dir.clone())
        .collect();
    if dirs.is_empty() {
        return Ok(ReportExtra {
            markdown: "No run here has an eval.csv (train or eval stage): no prefixrl \
                       comparison.\n\n"
                .into(),
            files: Vec::new(),
        });
    }
    let runs = super::read_runs(&super::seeds::drop_continued(&dirs).0, ChargeOffline::Users)?;
    let labels: Vec<String> = runs.iter().map(|r| r.label.clone()).collect();
    let baseline = pick_baseline(&labels).unwrap_or_default();
    let charged = compare(&dirs, &baseline, None, ChargeOffline::Users)?;
    let plain = compare(&dirs, &baseline, None, ChargeOffline::None)?;
    let (with, without) = (dir.join("compare.csv"), dir.join("compare_no_offline.csv"));
    write_csv(&with, &charged)?;
    write_csv(&without, &plain)?;
    let (plots, plot_md) = super::plot::write(&charged, dir)?;
    let mut files = vec![with, without];
    files.extend(plots);
    let notes: String = (charged.notes.iter())
        .map(|n| format!("**Note:** {n}.\n\n"))
        .collect();
    Ok(ReportExtra {
        markdown: format!("{notes}{}{plot_md}\n", markdown(&charged)),
        files,
    })
}

/// The per-method means and the criteria table.
pub fn markdown(c: &Comparison) -> String {
    let cell = |v: Option<f64>| v.map_or("".to_string(), |v| format!("{v:.4}"));
    let mut md = format!(
        "### PrefixRL comparison (§5.2, §7.11)\n\nBaseline `{}`, target training reward {} \
         (offline FLOPs charged to the methods that use the traces; compare_no_offline.csv \
         without).\n\n",
        c.baseline,
        cell(c.target)
    );
    if c.target.is_some_and(super::vacuous_target) {
        md.push_str(
            "Every run meets this target at its first evaluation, so FLOPs to target and \
             speed-up are left empty.\n\n",
        );
    }
    md.push_str(
        "| method | final train pass@1 | FLOPs to target | speed-up | final ratio | held-out \
         pass@1 | entropy |\n|---|---|---|---|---|---|---|\n",
    );
    for r in c.rows.iter().filter(|r| r.seed == "mean") {
        // FLOPs in scientific notation, the rest to 4 decimals.
        let flops = r
            .flops_to_target
            .map_or(String::new(), |f| format!("{f:.3e}"));
        md.push_str(&format!(
            "| {} | {} | {flops} | {} | {} | {} | {} |\n",
            r.method,
            cell(r.final_train_unpref),
            cell(r.speedup),
            cell(r.final_ratio),
            cell(r.final_heldout_pass1),
            cell(r.final_entropy)
        ));
    }
    if let Some(h) = super::headline(c) {
        md.push_str(&format!("\n{h}\n"));
    }
    md.push_str("\n| §7.11 criterion | verdict | measured |\n|---|---|---|\n");
    for k in acceptance(c) {
        let verdict = match k.passed {
            Some(true) => "passed",
            Some(false) => "FAILED",
            None => "not measured",
        };
        md.push_str(&format!("| {} | {verdict} | {} |\n", k.name, k.measured));
    }
    md.push('\n');
    md
}
