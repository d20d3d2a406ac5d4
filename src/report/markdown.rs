//! The text of report.md.
use super::cell_stats;
use crate::plot::PlotOutcome;
use crate::results::format::sig;
use crate::results::runs::Collection;
use std::fmt::Write;
use std::path::Path;

/// Render the whole report; `dir` is where report.md goes (plot links are relative to it);
/// `extra` is the subcommand's own section, placed after the header.
pub fn render(
    c: &Collection,
    metrics: &[String],
    plots: &[PlotOutcome],
    dir: &Path,
    extra: &str,
) -> String {
    let mut md = String::new();
    header(&mut md, c);
    md.push_str(extra);
    let constants = constant_metrics(c, metrics);
    let varying: Vec<String> = metrics
        .iter()
        .filter(|m| !constants.iter().any(|(k, _)| k == *m))
        .cloned()
        .collect();
    mean_table(&mut md, c, &varying, &constants);
    ci_table(&mut md, c, &varying);
    problems(&mut md, c, dir);
    plot_section(&mut md, plots, dir);
    md
}

fn header(md: &mut String, c: &Collection) {
    let title = match &c.study {
        Some(s) => format!("Study `{}`", s.name),
        None => format!("Runs in `{}`", c.root.display()),
    };
    let _ = writeln!(md, "# {title}\n");
    subcommand_line(md, c);
    if let Some(s) = &c.study {
        for axis in &s.grid {
            let values: Vec<String> = axis
                .values
                .iter()
                .map(crate::results::record::value_text)
                .collect();
            let _ = writeln!(md, "- grid: `{}` in {{{}}}", axis.key, values.join(", "));
        }
        let seeds: Vec<String> = s.seeds.iter().map(u64::to_string).collect();
        let _ = writeln!(md, "- seeds: {}", seeds.join(", "));
    }
    let runs: Vec<_> = c.cells.iter().flat_map(|cell| &cell.runs).collect();
    let completed = runs.iter().filter(|r| r.completed()).count();
    let missing: usize = c.cells.iter().map(|cell| cell.missing.len()).sum();
    let _ = writeln!(
        md,
        "- runs: {} completed, {} failed or unfinished, {} not started\n",
        completed,
        runs.len() - completed,
        missing
    );
    for note in &c.notes {
        let _ = writeln!(md, "**Note:** {note}.\n");
    }
}

/// The runs' subcommand, or each subcommand of a folder that mixes them with its run count.
fn subcommand_line(md: &mut String, c: &Collection) {
    let subs = c.subcommand_counts();
    match (c.subcommand(), subs.as_slice()) {
        (Some(sub), [_, _, ..]) if c.study.is_none() => {
            let each: Vec<String> = subs
                .iter()
                .map(|(s, n)| format!("`lab {s}` ({n} run{})", if *n == 1 { "" } else { "s" }))
                .collect();
            let _ = writeln!(
                md,
                "- subcommands: {} (default plots and report section: `lab {sub}`'s)",
                each.join(", ")
            );
        }
        (Some(sub), _) => {
            let _ = writeln!(md, "- subcommand: `lab {sub}`");
        }
        (None, _) => {}
    }
}

/// Metrics that every completed run reports with one same value (given two runs or more):
/// listed once above the tables instead of as a column of equal entries.
pub fn constant_metrics(c: &Collection, metrics: &[String]) -> Vec<(String, f64)> {
    let done: Vec<_> = c
        .cells
        .iter()
        .flat_map(|cell| &cell.runs)
        .filter(|r| r.completed())
        .collect();
    if done.len() < 2 {
        return Vec::new();
    }
    metrics
        .iter()
        .filter_map(|m| {
            let first = done[0].metric(m)?;
            let same = done.iter().all(|r| r.metric(m) == Some(first));
            same.then(|| (m.clone(), first))
        })
        .collect()
}

/// Rows: cells; columns: completed/total, then `mean ± se` of each metric that varies.
fn mean_table(md: &mut String, c: &Collection, metrics: &[String], constants: &[(String, f64)]) {
    let _ = writeln!(
        md,
        "## Summary metrics\n\nMean ± standard error across seeds, over completed runs only \
         (`runs` = completed / planned; `(k runs)` where only k of them report a metric).\n"
    );
    if !constants.is_empty() {
        let same: Vec<String> = constants
            .iter()
            .map(|(k, v)| format!("`{k}` = {}", sig(*v)))
            .collect();
        let _ = writeln!(md, "Same in every completed run: {}.\n", same.join(", "));
    }
    table_head(md, "runs", metrics);
    for cell in &c.cells {
        let done = cell.runs.iter().filter(|r| r.completed()).count();
        let planned = cell.runs.len() + cell.missing.len();
        let mut row = vec![
            format!("`{}`", table_text(&cell.name)),
            format!("{done}/{planned}"),
        ];
        for m in cell_stats(cell, metrics) {
            row.push(match m.stats {
                None => "–".into(),
                Some(s) => {
                    let n = if s.n == done {
                        String::new()
                    } else {
                        format!(" ({} runs)", s.n)
                    };
                    format!("{} ± {}{n}", sig(s.mean), sig(s.se))
                }
            });
        }
        let _ = writeln!(md, "| {} |", row.join(" | "));
    }
    md.push('\n');
}

fn ci_table(md: &mut String, c: &Collection, metrics: &[String]) {
    let _ = writeln!(
        md,
        "## 95% bootstrap confidence intervals\n\nPercentile bootstrap of the mean \
         (2000 resamples of the seeds); with one or two seeds these are only indicative.\n"
    );
    table_head(md, "seeds", metrics);
    for cell in &c.cells {
        let done = cell.runs.iter().filter(|r| r.completed()).count();
        let mut row = vec![format!("`{}`", table_text(&cell.name)), done.to_string()];
        for m in cell_stats(cell, metrics) {
            row.push(match m.stats {
                None => "–".into(),
                Some(s) => format!("[{}, {}]", sig(s.ci_low), sig(s.ci_high)),
            });
        }
        let _ = writeln!(md, "| {} |", row.join(" | "));
    }
    md.push('\n');
}

fn table_head(md: &mut String, second: &str, metrics: &[String]) {
    let mut head = vec!["cell".to_string(), second.to_string()];
    head.extend(metrics.iter().map(|m| table_text(m)));
    let _ = writeln!(md, "| {} |", head.join(" | "));
    let _ = writeln!(md, "|{}", "---|".repeat(head.len()));
}

/// Text for one table cell: a `|` (a folder or summary key may hold one) would end the cell
/// early and shift every later number under the wrong column, and a line break would end the
/// row; escaped, and replaced by a space.
fn table_text(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// Failed, unfinished and never-started runs, each with its error.
fn problems(md: &mut String, c: &Collection, dir: &Path) {
    let bad: Vec<_> = c
        .cells
        .iter()
        .flat_map(|cell| &cell.runs)
        .filter(|r| !r.completed())
        .collect();
    let missing: Vec<_> = c.cells.iter().flat_map(|cell| &cell.missing).collect();
    if bad.is_empty() && missing.is_empty() {
        return;
    }
    let _ = writeln!(md, "## Failed runs\n");
    for run in bad {
        let error = run.error.as_deref().unwrap_or("(no error recorded)");
        let error = error.replace('\n', " ");
        let name = rel(&run.dir, dir).replace(['\n', '\r'], " ");
        let _ = writeln!(md, "- `{name}` ({}): {}", run.status, error);
    }
    for m in missing {
        let name = rel(m, dir).replace(['\n', '\r'], " ");
        let _ = writeln!(md, "- `{name}` (not started): no meta.json");
    }
    md.push('\n');
}

fn plot_section(md: &mut String, plots: &[PlotOutcome], dir: &Path) {
    if plots.is_empty() {
        return;
    }
    let _ = writeln!(md, "## Plots\n");
    for p in plots {
        match &p.files {
            Ok(files) => {
                if let Some(png) = files
                    .iter()
                    .find(|f| f.extension().is_some_and(|e| e == "png"))
                {
                    let _ = writeln!(md, "![{}]({})\n", p.title, rel(png, dir));
                }
            }
            Err(why) => {
                let _ = writeln!(md, "- {}: not drawn: {why}\n", p.title);
            }
        }
    }
}

/// `path` relative to `base`; `base` itself (a report of one run) by its folder's name.
fn rel(path: &Path, base: &Path) -> String {
    match path.strip_prefix(base) {
        Ok(r) if r.as_os_str().is_empty() => base
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| base.display().to_string()),
        Ok(r) => r.display().to_string(),
        Err(_) => path.display().to_string(),
    }
}
