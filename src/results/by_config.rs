//! Outside a study nothing says which runs repeat one config: a folder may hold runs of
//! different configs (or subcommands). Averaging those into one cell would be wrong, so the
//! runs of each cell are split by their resolved config (all keys but `seed`), one cell per
//! config, and a note says so. A run whose config.yaml is missing or unreadable could repeat
//! any config, so beside other runs it is a cell of its own.
use super::flat::{differing_keys, flat_config, lookup, FlatConfig};
use super::runs::{CellRuns, RunInfo};
use std::path::Path;

/// Keys named in a split cell's name; more are counted, not listed.
const NAMED_KEYS: usize = 3;
/// Keys listed in the note on a split cell; more are counted.
const NOTED_KEYS: usize = 8;

/// Split every cell whose runs do not share one config; `notes` gets a line per split cell.
pub fn split(cells: Vec<CellRuns>, notes: &mut Vec<String>) -> Vec<CellRuns> {
    let mut out = Vec::new();
    for cell in cells {
        out.extend(split_cell(cell, notes));
    }
    out
}

/// The config a run repeats: its config.yaml without the seed, plus the subcommand; or why
/// there is none to go by.
fn identity(run: &RunInfo) -> Result<FlatConfig, String> {
    if !run.dir.join("config.yaml").exists() {
        return Err("no config.yaml".into());
    }
    let mut config: FlatConfig = flat_config(&run.dir)
        .map_err(|e| format!("{e:#}"))?
        .into_iter()
        .filter(|(k, _)| k != "seed")
        .collect();
    config.push((
        "subcommand".into(),
        run.subcommand.clone().unwrap_or_default(),
    ));
    config.sort();
    Ok(config)
}

/// `cell` with other runs (and no never-started ones: those belong to the whole cell).
fn with_runs(cell: &CellRuns, runs: Vec<RunInfo>) -> CellRuns {
    CellRuns {
        name: cell.name.clone(),
        settings: cell.settings.clone(),
        runs,
        missing: Vec::new(),
    }
}

fn split_cell(cell: CellRuns, notes: &mut Vec<String>) -> Vec<CellRuns> {
    if cell.runs.len() < 2 {
        return vec![cell];
    }
    let mut groups: Vec<(FlatConfig, Vec<RunInfo>)> = Vec::new();
    let mut unknown: Vec<(RunInfo, String)> = Vec::new();
    for run in &cell.runs {
        match identity(run) {
            Err(why) => unknown.push((run.clone(), why)),
            Ok(id) => match groups.iter_mut().find(|(g, _)| *g == id) {
                Some((_, runs)) => runs.push(run.clone()),
                None => groups.push((id, vec![run.clone()])),
            },
        }
    }
    if groups.len() < 2 && unknown.is_empty() {
        return vec![cell];
    }
    let mut out = by_config(&cell, groups, notes);
    out.extend(unknown_configs(&cell, unknown, notes));
    out
}

/// One cell per config (named by the keys that differ), or the cell itself for one config.
fn by_config(
    cell: &CellRuns,
    groups: Vec<(FlatConfig, Vec<RunInfo>)>,
    notes: &mut Vec<String>,
) -> Vec<CellRuns> {
    if groups.len() < 2 {
        return groups
            .into_iter()
            .map(|(_, runs)| with_runs(cell, runs))
            .collect();
    }
    let configs: Vec<&FlatConfig> = groups.iter().map(|(c, _)| c).collect();
    let mut keys = differing_keys(&configs);
    // Runs of different subcommands differ in every key: say that first.
    if let Some(i) = keys.iter().position(|k| k == "subcommand") {
        let key = keys.remove(i);
        keys.insert(0, key);
    }
    let runs: usize = groups.iter().map(|(_, r)| r.len()).sum();
    let count = groups.len();
    let out: Vec<CellRuns> = groups
        .into_iter()
        .map(|(config, runs)| named_by(cell, &keys, &config, runs))
        .collect();
    notes.push(format!(
        "`{}`: its {runs} runs have {count} different configs (differing in {}), reported as \
         {count} cells instead of one average",
        cell.name,
        listed(&keys, NOTED_KEYS),
    ));
    out
}

/// A cell of `runs` named `cell [key=value, ...]` by the first of `keys`.
fn named_by(cell: &CellRuns, keys: &[String], config: &FlatConfig, runs: Vec<RunInfo>) -> CellRuns {
    let settings: Vec<(String, String)> = keys
        .iter()
        .map(|k| {
            (
                k.clone(),
                lookup(config, k).unwrap_or("(absent)").to_string(),
            )
        })
        .collect();
    let shown: Vec<String> = settings.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut group = with_runs(cell, runs);
    group.name = format!("{} [{}]", cell.name, listed(&shown, NAMED_KEYS));
    group.settings = settings;
    group
}

/// The first `n` items joined by `, `, then `+k more`.
fn listed(items: &[String], n: usize) -> String {
    let mut shown: Vec<String> = items.iter().take(n).cloned().collect();
    if items.len() > n {
        shown.push(format!("+{} more", items.len() - n));
    }
    shown.join(", ")
}

/// Each run without a config to go by as a cell of its own, named by its folder.
fn unknown_configs(
    cell: &CellRuns,
    unknown: Vec<(RunInfo, String)>,
    notes: &mut Vec<String>,
) -> Vec<CellRuns> {
    let mut out = Vec::new();
    for (run, why) in unknown {
        let folder = run.dir.file_name().unwrap_or(run.dir.as_os_str());
        let folder = Path::new(folder).display().to_string();
        notes.push(format!(
            "`{}`: run `{folder}` cannot be matched to the others ({}), so it is a cell of its \
             own",
            cell.name,
            why.replace('\n', " ")
        ));
        let mut group = with_runs(cell, vec![run]);
        group.name = format!("{} [{folder}: config unknown]", cell.name);
        out.push(group);
    }
    out
}
