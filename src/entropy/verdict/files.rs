//! From run directories to verdicts and back to files: one [`RunRecord`] per completed run,
//! `sweep.csv`, `hypotheses.csv`, and the report hook that writes both and returns the section.
use super::plot_data::StudyRun;
use super::{analyse, markdown, Row, RunRecord};
use crate::report::ReportExtra;
use crate::results::flat::{differing_keys, flat_config, lookup, FlatConfig};
use crate::results::runs::{Collection, RunInfo};
use crate::run::fmt_num;
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::path::Path;

/// The config keys a record is built from.
pub const ARCH_KEY: &str = "model.kind";
pub const CONDITION_KEY: &str = "condition";
pub const SEED_KEY: &str = "seed";

/// The columns of hypotheses.csv: the spec's eleven, then `p_value` (H5 only).
pub const HYPOTHESES_HEADER: [&str; 12] = [
    "id",
    "arch",
    "metric",
    "condition",
    "baseline",
    "mean_diff",
    "ci_low",
    "ci_high",
    "seeds_agree",
    "n_seeds",
    "verdict",
    "p_value",
];

/// `lab report`'s hook for entropy-probe runs: write sweep.csv, hypotheses.csv and the
/// `stability_vs_entropy` scatter into `dir` and return the hypotheses section.
pub fn report(c: &Collection, dir: &Path) -> Result<ReportExtra> {
    let (runs, mut notes) = study_runs(c)?;
    let records: Vec<RunRecord> = runs.iter().map(|r| r.record.clone()).collect();
    let analysis = analyse(&records);
    notes.extend(analysis.notes.iter().cloned());
    let sweep = dir.join("sweep.csv");
    write_sweep_csv(&sweep, &records)?;
    let hypotheses = dir.join("hypotheses.csv");
    write_hypotheses_csv(&hypotheses, &analysis.rows)?;
    let theory = dir.join("theory.csv");
    let theory = theory.is_file().then_some(theory.as_path());
    let dirs: Vec<&Path> = runs.iter().map(|r| r.dir.as_path()).collect();
    let provenance = provenance(&dirs)?;
    let mut markdown = markdown::render(&analysis, &notes, theory, &provenance);
    let (plots, plot_md) = super::scatter::write(&records, dir)?;
    markdown.push_str(&format!(
        "\n### Stability against entropy (§7.3)\n\n{plot_md}\n"
    ));
    let (steps, steps_md) = super::plots::write(&runs, dir)?;
    markdown.push_str(&format!(
        "\n### Trajectories (§7.3)\n\nOne panel per quantity (rows) and architecture \
         (columns); one colour per condition, the line the mean over seeds, the band their \
         min–max.\n\n{steps_md}"
    ));
    let mut files = vec![sweep, hypotheses];
    files.extend(plots);
    files.extend(steps);
    Ok(ReportExtra { markdown, files })
}

/// The git commits the analysed runs (`dirs`) were built from (meta.json) and one SHA-256 over
/// their config.yaml files in collection order: which code and which exact configs the verdicts
/// are on.
pub fn provenance(dirs: &[&Path]) -> Result<String> {
    let mut commits: Vec<String> = Vec::new();
    let mut configs = Vec::new();
    for dir in dirs {
        let meta = std::fs::read_to_string(dir.join("meta.json"))
            .with_context(|| format!("reading {}", dir.join("meta.json").display()))?;
        let commit = serde_json::from_str::<serde_json::Value>(&meta)
            .ok()
            .and_then(|m| m.get("git_commit")?.as_str().map(str::to_string))
            .unwrap_or_else(|| "unknown".into());
        if !commits.contains(&commit) {
            commits.push(commit);
        }
        let path = dir.join("config.yaml");
        configs
            .extend(std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?);
    }
    let commits: Vec<String> = commits.iter().map(|c| format!("`{c}`")).collect();
    Ok(format!(
        "Runs built from git commit {}; SHA-256 of their config.yaml files (in the order of the \
         tables): `{}`.",
        commits.join(", "),
        crate::data::corpus::sha256_hex(&configs)
    ))
}

/// One record per completed run (arch = `model.kind`: gpt, gru, lstm or bigram; condition and
/// seed from its config.yaml; the final metrics, the summary scalars and H2's trajectory numbers,
/// `trajectory.rs`); notes say which runs were left out and why.
pub fn records_from(c: &Collection) -> Result<(Vec<RunRecord>, Vec<String>)> {
    let (runs, notes) = study_runs(c)?;
    Ok((runs.into_iter().map(|r| r.record).collect(), notes))
}

/// [`records_from`] with each record's run directory and controller mode (for the plots).
pub fn study_runs(c: &Collection) -> Result<(Vec<StudyRun>, Vec<String>)> {
    let mut records = Vec::new();
    let mut notes = Vec::new();
    let runs: Vec<&RunInfo> = c.cells.iter().flat_map(|cell| &cell.runs).collect();
    let unfinished = runs.iter().filter(|r| !r.completed()).count();
    if unfinished > 0 {
        notes.push(format!(
            "{unfinished} run(s) did not complete and are left out of the verdicts"
        ));
    }
    let mut read = Vec::new();
    for run in runs.into_iter().filter(|r| r.completed()) {
        match record(run) {
            Ok(r) => read.push((data_keys(&run.dir), r)),
            Err(why) => notes.push(format!("{}: left out: {why}", run.dir.display())),
        }
    }
    for r in same_data(read, &mut notes) {
        match first_of(&records, &r.record) {
            // The pairing takes one run per (arch, condition, seed): a second one was
            // ignored there without a word, yet written to sweep.csv as a second row.
            Some(first) => notes.push(format!(
                "{}: left out: it repeats arch `{}`, condition `{}`, seed {} of {}, and \
                 each (arch, condition, seed) enters the verdicts once; move one of the \
                 two out of the folder",
                r.dir.display(),
                r.record.arch,
                r.record.condition,
                r.record.seed,
                first.display()
            )),
            None => records.push(r),
        }
    }
    Ok((records, notes))
}

/// The `data.*` keys of a run's config.yaml (corpus, split, tokenizer).
fn data_keys(dir: &Path) -> FlatConfig {
    let config = flat_config(dir).unwrap_or_default();
    config
        .into_iter()
        .filter(|(k, _)| k.starts_with("data."))
        .collect()
}

/// The runs on the data most of them share (the first such in folder order). A difference
/// between runs on two corpora (or splits, or tokenizers) is not a condition's effect, so the
/// runs on other data are left out of the pairing, each with a note naming the keys.
fn same_data(runs: Vec<(FlatConfig, StudyRun)>, notes: &mut Vec<String>) -> Vec<StudyRun> {
    let count = |d: &FlatConfig| runs.iter().filter(|(e, _)| e == d).count();
    let Some((main, n)) = runs
        .iter()
        .map(|(d, _)| (d.clone(), count(d)))
        .reduce(|best, next| if next.1 > best.1 { next } else { best })
    else {
        return Vec::new();
    };
    let mut kept = Vec::new();
    for (data, run) in runs {
        if data == main {
            kept.push(run);
            continue;
        }
        let keys = differing_keys(&[&main, &data]);
        let shown: Vec<String> = keys
            .iter()
            .take(3)
            .map(|k| {
                let at = |c: &FlatConfig| lookup(c, k).unwrap_or("(absent)").to_string();
                format!("`{k}` is {} here, {} in those", at(&data), at(&main))
            })
            .collect();
        let more = keys.len().saturating_sub(3);
        notes.push(format!(
            "{}: left out: trained on other data than the {n} run(s) analysed ({}{}); runs \
             on different data are not paired: report each data config's runs in a folder \
             of their own",
            run.dir.display(),
            shown.join("; "),
            if more > 0 {
                format!("; +{more} more")
            } else {
                String::new()
            }
        ));
    }
    kept
}

/// The run already kept with `r`'s arch, condition and seed, if any.
fn first_of<'a>(kept: &'a [StudyRun], r: &RunRecord) -> Option<&'a Path> {
    kept.iter()
        .find(|k| {
            (&k.record.arch, &k.record.condition, k.record.seed) == (&r.arch, &r.condition, r.seed)
        })
        .map(|k| k.dir.as_path())
}

/// A run's record, or why it has none: a config.yaml missing, not YAML or without the keys, a
/// metrics.csv (or, for a run whose controller acts, ctrl.csv and steps.csv) that cannot be
/// read as CSV (ragged rows, not UTF-8). The reason names the file; one damaged run leaves the
/// others' verdicts standing.
fn record(run: &RunInfo) -> std::result::Result<StudyRun, String> {
    let why = |e: anyhow::Error| format!("{e:#}");
    let path = run.dir.join("config.yaml");
    if !path.is_file() {
        return Err(format!("{} is missing", path.display()));
    }
    let config = flat_config(&run.dir).map_err(why)?;
    let get = |k: &str| lookup(&config, k).map(str::to_string);
    let (Some(arch), Some(condition), Some(seed)) =
        (get(ARCH_KEY), get(CONDITION_KEY), get(SEED_KEY))
    else {
        return Err(format!(
            "config.yaml lacks `{ARCH_KEY}`, `{CONDITION_KEY}` or `{SEED_KEY}`"
        ));
    };
    let Ok(seed) = seed.parse::<u64>() else {
        return Err(format!("`{SEED_KEY}: {seed}` is not a whole number"));
    };
    let csv = run.dir.join("metrics.csv");
    let mut metrics = final_row(&csv).map_err(why)?;
    let trajectory = super::trajectory::read(&csv).map_err(why)?;
    if let Some(after) = super::trajectory::after_minimum(&trajectory) {
        metrics.extend(super::trajectory::scalars(&after));
    }
    let scalars = run
        .summary
        .iter()
        .filter(|(k, v)| v.is_finite() && k != SEED_KEY);
    for (k, v) in scalars {
        metrics.insert(k.clone(), *v);
    }
    // The controller acts when ctrl_active_frac is reported; feedback_hold forces hold mode.
    let controller_mode = metrics.contains_key("ctrl_active_frac").then(|| {
        match (condition.as_str(), get("controller.mode")) {
            ("feedback_hold", _) => "hold".to_string(),
            (_, Some(mode)) => mode,
            (_, None) => "drift".to_string(),
        }
    });
    // The controller plot reads these files of the runs whose controller acts.
    if controller_mode.is_some() {
        super::plot_data::controller_table(&run.dir).map_err(why)?;
    }
    let record = RunRecord {
        arch,
        condition,
        seed,
        metrics,
    };
    Ok(StudyRun {
        dir: run.dir.clone(),
        record,
        controller_mode,
    })
}

/// The last row of a metrics.csv as name → number; empty or non-numeric cells are absent, as
/// is the whole file when the run wrote none.
pub fn final_row(path: &Path) -> Result<BTreeMap<String, f64>> {
    let mut out = BTreeMap::new();
    if !path.is_file() {
        return Ok(out);
    }
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let header = reader
        .headers()
        .with_context(|| format!("reading {}", path.display()))?
        .clone();
    super::trajectory::unique_columns(&header, path)?;
    let mut last = None;
    for rec in reader.records() {
        last = Some(rec.with_context(|| format!("reading {}", path.display()))?);
    }
    if let Some(rec) = last {
        for (k, v) in header.iter().zip(rec.iter()) {
            if let Ok(x) = v.trim().parse::<f64>() {
                if x.is_finite() {
                    out.insert(k.to_string(), x);
                }
            }
        }
    }
    Ok(out)
}

/// sweep.csv: one row per run, `arch,condition,seed`, then every metric any run reports (sorted
/// by name); a metric a run lacks is an empty cell.
pub fn write_sweep_csv(path: &Path, records: &[RunRecord]) -> Result<()> {
    let mut names: Vec<&String> = records.iter().flat_map(|r| r.metrics.keys()).collect();
    names.sort();
    names.dedup();
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["arch", "condition", "seed"];
    header.extend(names.iter().map(|s| s.as_str()));
    w.write_record(&header)?;
    for r in records {
        let mut row = vec![r.arch.clone(), r.condition.clone(), r.seed.to_string()];
        row.extend(names.iter().map(|k| opt(r.metrics.get(*k).copied())));
        w.write_record(&row)?;
    }
    crate::run::write_atomic(path, &w.into_inner()?)
}

/// hypotheses.csv in [`HYPOTHESES_HEADER`] order; absent numbers are empty cells.
pub fn write_hypotheses_csv(path: &Path, rows: &[Row]) -> Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(HYPOTHESES_HEADER)?;
    for r in rows {
        let count = |n: Option<usize>| n.map(|n| n.to_string()).unwrap_or_default();
        w.write_record([
            r.id.clone(),
            r.arch.clone(),
            r.metric.clone(),
            r.condition.clone(),
            r.baseline.clone(),
            opt(r.mean_diff),
            opt(r.ci_low),
            opt(r.ci_high),
            count(r.seeds_agree),
            count(r.n_seeds),
            r.verdict.as_str().to_string(),
            opt(r.p_value),
        ])?;
    }
    crate::run::write_atomic(path, &w.into_inner()?)
}

fn opt(v: Option<f64>) -> String {
    v.filter(|x| x.is_finite()).map(fmt_num).unwrap_or_default()
}
