//! The equal-budget tuning sweep's selection (spec §6.2 "a small sweep of (lr, ρ) for GRNG and
//! (lr, damping) for K-FAC"; issue 13 "the same sweep for every optimizer"), as `lab grng`'s
//! part of `lab report`. On a study of one task whose cells try several settings of an
//! optimizer kind (configs/grng/sweep.yaml), each kind's best cell is the one with the highest
//! mean `final_test_acc` over its completed seeds (LM tasks: the lowest mean `final_val_bpc`).
//! The final value, not the best epoch's, so no kind is picked by early stopping on the test
//! split; digits has no separate validation split, so the selection is on the test split for
//! every optimizer alike (the grid then reports fresh seeds). Written next to the report:
//! - `best-settings.yaml`: each kind's winning `optimizer:` section;
//! - `paper-tuned.yaml`: configs/grng/paper.yaml with a `cases:` axis of those sections in
//!   place of its `optimizer.kind` grid axis (scripts/grng-reproduce.sh runs it).
use crate::report::ReportExtra;
use crate::results::runs::{CellRuns, Collection};
use anyhow::{Context, Result};
use serde_yaml_ng::{Mapping, Value};
use std::collections::BTreeMap;
use std::path::Path;

const PAPER_YAML: &str = include_str!("../../configs/grng/paper.yaml");

/// One cell of the sweep: its optimizer section and score.
struct Scored {
    cell: String,
    optimizer: Value,
    /// Mean of the selection metric over completed seeds, and their count.
    score: Option<(f64, usize)>,
}

/// A run's resolved `config.yaml`.
fn run_config(dir: &Path) -> Result<Value> {
    let path = dir.join("config.yaml");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_yaml_ng::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

fn text_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// The mean of `metric` over the cell's completed runs.
fn mean_metric(cell: &CellRuns, metric: &str) -> Option<(f64, usize)> {
    let vals: Vec<f64> = cell
        .runs
        .iter()
        .filter(|r| r.completed())
        .filter_map(|r| r.metric(metric))
        .collect();
    (!vals.is_empty()).then(|| (vals.iter().sum::<f64>() / vals.len() as f64, vals.len()))
}

/// The report section and files (nothing for studies that are not a one-task sweep).
pub fn report(c: &Collection, dir: &Path) -> Result<ReportExtra> {
    let none = || ReportExtra {
        markdown: String::new(),
        files: Vec::new(),
    };
    let mut tasks = Vec::new();
    let mut by_kind: BTreeMap<String, Vec<Scored>> = BTreeMap::new();
    // Each cell's settings outside `optimizer:` (and the per-run keys), to find the keys the
    // study varies that a winning optimizer section does not carry.
    let mut others: Vec<BTreeMap<String, Value>> = Vec::new();
    for cell in &c.cells {
        let Some(run) = cell.runs.first() else {
            continue;
        };
        let cfg = run_config(&run.dir)?;
        let path = run.dir.join("config.yaml");
        let wrong = |key: &str| {
            anyhow::anyhow!(
                "{}: `{key}` is missing or not text; a grng run's resolved config names it",
                path.display()
            )
        };
        let task = text_at(&cfg, "task")
            .ok_or_else(|| wrong("task"))?
            .to_string();
        if task == "twolayer-toy" {
            continue; // the toy's method is `toy.method`; its `optimizer:` section is unused
        }
        let optimizer = cfg.get("optimizer").cloned().unwrap_or(Value::Null);
        let kind = text_at(&optimizer, "kind").ok_or_else(|| wrong("optimizer.kind"))?;
        let kind = kind.to_string();
        let lm = task.starts_with("charlm");
        let score = match lm {
            true => mean_metric(cell, "final_val_bpc").map(|(v, n)| (-v, n)),
            false => mean_metric(cell, "final_test_acc"),
        };
        let mut leaves = BTreeMap::new();
        flatten("", &cfg, &mut leaves);
        leaves.retain(|k, _| !PER_RUN.contains(&k.as_str()) && !k.starts_with("optimizer."));
        others.push(leaves);
        if !tasks.contains(&task) {
            tasks.push(task);
        }
        by_kind.entry(kind).or_default().push(Scored {
            cell: cell.name.clone(),
            optimizer,
            score,
        });
    }
    let is_sweep = tasks.len() == 1 && by_kind.values().any(|v| v.len() > 1);
    if !is_sweep {
        return Ok(ReportExtra {
            markdown: set_aside_earlier(dir)?,
            ..none()
        });
    }
    let lm = tasks[0].starts_with("charlm");
    let (metric, sign) = match lm {
        true => ("final_val_bpc (lowest)", -1.0),
        false => ("final_test_acc (highest)", 1.0),
    };
    let counts: Vec<usize> = by_kind.values().map(Vec::len).collect();
    let equal = counts.iter().all(|&n| n == counts[0]);
    let mut md = format!(
        "## Best setting per optimizer\n\nTask {}; each optimizer's cell with the best mean \
         {metric} over its completed seeds{}.\n\n| optimizer | settings | best cell | mean | seeds |\n|---|---|---|---|---|\n",
        tasks[0],
        if equal {
            format!(", every optimizer tried {} settings", counts[0])
        } else {
            " (**unequal budgets**: the optimizers tried different numbers of settings)".into()
        }
    );
    let mut best = Mapping::new();
    for (kind, cells) in &by_kind {
        let winner = cells
            .iter()
            .filter(|s| s.score.is_some_and(|(v, _)| v.is_finite()))
            .max_by(|a, b| {
                let (a, b) = (a.score.unwrap().0, b.score.unwrap().0);
                a.total_cmp(&b)
            });
        match winner {
            Some(w) => {
                let (v, n) = w.score.unwrap_or_default();
                md += &format!(
                    "| {kind} | {} | {} | {:.4} | {n} |\n",
                    cells.len(),
                    w.cell,
                    sign * v
                );
                best.insert(Value::from(kind.as_str()), w.optimizer.clone());
            }
            None => md += &format!("| {kind} | {} | (no completed run) | | |\n", cells.len()),
        }
    }
    md += &unequal_seeds_note(&by_kind);
    let varied = varied_keys(&others);
    if !varied.is_empty() {
        md += &format!(
            "\nThe cells also differ in {} (outside `optimizer:`), which a winning optimizer \
             section does not carry: `best-settings.yaml` and `paper-tuned.yaml` are not \
             written, since the tuned grid would silently run every optimizer at paper.yaml's \
             values of those keys. Sweep only `optimizer.*` keys (cases or grid) to get them.\n\n",
            varied
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        md += &set_aside_earlier(dir)?;
        return Ok(ReportExtra {
            markdown: md,
            files: Vec::new(),
        });
    }
    let best_path = dir.join("best-settings.yaml");
    let best = Value::Mapping(best);
    crate::run::write_atomic(&best_path, serde_yaml_ng::to_string(&best)?.as_bytes())?;
    let tuned_path = dir.join("paper-tuned.yaml");
    let tuned = paper_tuned(&best)?;
    crate::run::write_atomic(&tuned_path, tuned.as_bytes())?;
    md += &format!(
        "\nWinning sections: `best-settings.yaml`; the paper grid with them: `lab grng --config \
         {}`.\n\n",
        tuned_path.display()
    );
    Ok(ReportExtra {
        markdown: md,
        files: vec![best_path, tuned_path],
    })
}

/// A note naming the cells whose means are over fewer completed seeds than the most any cell
/// has (a run still going, failed or never started): their means are noisier, and the pick
/// may change once they complete. Empty when every cell has as many.
fn unequal_seeds_note(by_kind: &BTreeMap<String, Vec<Scored>>) -> String {
    let count = |s: &Scored| s.score.map_or(0, |(_, n)| n);
    let cells = by_kind.values().flatten();
    let most = cells.clone().map(count).max().unwrap_or(0);
    let fewer: Vec<String> = cells
        .filter(|s| count(s) < most)
        .map(|s| format!("{} {}", s.cell, count(s)))
        .collect();
    if fewer.is_empty() {
        return String::new();
    }
    format!(
        "\n**Note:** the means are over different numbers of completed seeds ({most} at most; \
         fewer in {}): a mean over fewer seeds is noisier, and the best cell may change once \
         the missing runs complete.\n",
        fewer.join(", ")
    )
}

/// Where this report writes no tuned grid, an earlier report's `best-settings.yaml` and
/// `paper-tuned.yaml` in `dir` would pass for this one's (scripts/grng-reproduce.sh runs the
/// latter): each is moved aside (`<name>.replaced-<time>`, never deleted), and the returned note
/// says where.
fn set_aside_earlier(dir: &Path) -> Result<String> {
    let mut note = String::new();
    for name in ["best-settings.yaml", "paper-tuned.yaml"] {
        let path = dir.join(name);
        if path.symlink_metadata().is_err() {
            continue;
        }
        let aside = crate::run::aside_name(&path);
        std::fs::rename(&path, &aside)
            .with_context(|| format!("moving an earlier report's {} aside", path.display()))?;
        note += &format!(
            "\n**Note:** an earlier report's `{name}` does not hold this report's result: moved to \
             `{}`.\n",
            aside.display()
        );
    }
    Ok(note)
}

/// Keys of a run's config that say how that run was made, not what a setting is: the seed
/// (the sweep's seeds are averaged), threads, and the resume keys.
const PER_RUN: [&str; 4] = ["seed", "torch_threads", "resume_from", "train.stop_after"];

/// `v`'s leaves as dotted keys under `prefix` (a sequence is one leaf).
fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
    match v.as_mapping() {
        Some(m) => {
            for (k, v) in m {
                let k = k
                    .as_str()
                    .map(String::from)
                    .unwrap_or_else(|| format!("{k:?}"));
                let key = match prefix {
                    "" => k,
                    p => format!("{p}.{k}"),
                };
                flatten(&key, v, out);
            }
        }
        None => {
            out.insert(prefix.to_string(), v.clone());
        }
    }
}

/// The keys whose values are not the same in every cell of `cells` (a key missing from a cell
/// counts as a value of its own).
fn varied_keys(cells: &[BTreeMap<String, Value>]) -> Vec<String> {
    let keys: std::collections::BTreeSet<&String> = cells.iter().flat_map(|c| c.keys()).collect();
    keys.into_iter()
        .filter(|k| cells.iter().any(|c| c.get(*k) != cells[0].get(*k)))
        .cloned()
        .collect()
}

/// configs/grng/paper.yaml with `study.cases.optimizer` = the winning sections (one case per
/// kind) in place of the `optimizer.kind` grid axis, and study name `paper-tuned`.
pub fn paper_tuned(best: &Value) -> Result<String> {
    let mut paper: Value = serde_yaml_ng::from_str(PAPER_YAML)?;
    let study = paper
        .get_mut("study")
        .and_then(Value::as_mapping_mut)
        .context("configs/grng/paper.yaml has no study block")?;
    study.insert("name".into(), "paper-tuned".into());
    if let Some(grid) = study.get_mut("grid").and_then(Value::as_mapping_mut) {
        grid.remove("optimizer.kind");
    }
    let mut cases = Mapping::new();
    if let Some(best) = best.as_mapping() {
        for (kind, section) in best {
            let mut merge = Mapping::new();
            merge.insert("optimizer".into(), section.clone());
            cases.insert(kind.clone(), Value::Mapping(merge));
        }
    }
    let mut axes = Mapping::new();
    axes.insert("optimizer".into(), Value::Mapping(cases));
    study.insert("cases".into(), Value::Mapping(axes));
    let head = "# configs/grng/paper.yaml with each optimizer at its best setting of the sweep \
                (configs/grng/sweep.yaml),\n# written by `lab report` on the sweep \
                (src/grng/sweep.rs). Run: lab grng --config <this file> --jobs 2\n";
    Ok(format!("{head}{}", serde_yaml_ng::to_string(&paper)?))
}
