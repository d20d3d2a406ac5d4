//! Outside a study nothing says which runs repeat one config: a folder may hold runs of
//! different configs (or subcommands). Averaging those into one cell would be wrong, so the
//! runs of each cell are split by their resolved config (all keys but `seed`), one cell per
//! config, and a note says so.
use super::flat::{differing_keys, flat_config, lookup, FlatConfig};
use super::runs::CellRuns;

/// Keys named in a split cell's name; more are counted, not listed.
const NAMED_KEYS: usize = 3;

/// Split every cell whose runs do not share one config; `notes` gets a line per split cell.
pub fn split(cells: Vec<CellRuns>, notes: &mut Vec<String>) -> Vec<CellRuns> {
    let mut out = Vec::new();
    for cell in cells {
        out.extend(split_cell(cell, notes));
    }
    out
}

/// The config a run repeats: its config.yaml without the seed, plus the subcommand.
fn identity(run: &super::runs::RunInfo) -> FlatConfig {
    let mut config: FlatConfig = flat_config(&run.dir)
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| k != "seed")
        .collect();
    config.push((
        "subcommand".into(),
        run.subcommand.clone().unwrap_or_default(),
    ));
    config.sort();
    config
}

fn split_cell(cell: CellRuns, notes: &mut Vec<String>) -> Vec<CellRuns> {
    let mut groups: Vec<(FlatConfig, CellRuns)> = Vec::new();
    for run in &cell.runs {
        let id = identity(run);
        match groups.iter_mut().find(|(g, _)| *g == id) {
            Some((_, group)) => group.runs.push(run.clone()),
            None => {
                let mut group = cell.clone();
                group.runs = vec![run.clone()];
                groups.push((id, group));
            }
        }
    }
    if groups.len() < 2 {
        return vec![cell];
    }
    let configs: Vec<&FlatConfig> = groups.iter().map(|(c, _)| c).collect();
    let keys = differing_keys(&configs);
    let more = keys.len().saturating_sub(NAMED_KEYS);
    let mut out = Vec::new();
    for (config, mut group) in groups {
        let settings: Vec<(String, String)> = keys
            .iter()
            .map(|k| {
                let v = lookup(&config, k).unwrap_or("(absent)");
                (k.clone(), v.to_string())
            })
            .collect();
        let mut shown: Vec<String> = settings
            .iter()
            .take(NAMED_KEYS)
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if more > 0 {
            shown.push(format!("+{more} more"));
        }
        group.name = format!("{} [{}]", cell.name, shown.join(", "));
        group.settings = settings;
        group.missing = Vec::new();
        out.push(group);
    }
    notes.push(format!(
        "`{}`: its {} runs have {} different configs (differing in {}), reported as {} cells \
         instead of one average",
        cell.name,
        cell.runs.len(),
        out.len(),
        keys.join(", "),
        out.len()
    ));
    out
}
