//! The `study:` block of a config and its expansion into cells × seeds.
//!
//! ```yaml
//! study:
//!   name: sizes            # optional; default: --name, else the config file's stem
//!   seeds: [0, 1, 2]       # optional; default: the config's `seed`
//!   grid:                  # optional; config key paths to lists of values
//!     matrix.n: [8, 12]
//!   cases:                 # optional; named settings that go together (one axis per label)
//!     task:
//!       cartpole: {env.id: CartPole-v1, total_steps: 200000}
//!       pendulum: {env.id: Pendulum-v1, total_steps: 500000}
//!     algo:
//!       ppo: configs/npg-rank1/ppo.yaml   # a YAML file, merged like --config
//! ```
//! Case axes come first (in the order written), then grid axes; cells are their product.
use crate::error::usage;
use crate::results::record::{value_text, Axis, Cell, Setting};
use anyhow::Result;
use serde::Deserialize;

use serde_yaml_ng::{Mapping, Value};

/// The `study:` block as written by the user.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct StudyBlock {
    pub name: Option<String>,
    pub seeds: Option<Vec<u64>>,
    #[serde(default)]
    pub grid: Mapping,
    #[serde(default)]
    pub cases: Mapping,
    /// What each run asks of a Slurm cluster (`--executor slurm`), see [`super::slurm`].
    pub slurm: Option<Value>,
}

/// Remove and parse the `study:` block from a merged config, if there is one.
pub fn take_block(config: &mut Value) -> Result<Option<StudyBlock>> {
    let Some(map) = config.as_mapping_mut() else {
        return Ok(None);
    };
    // `study: null` (`--set study=null`, or a bare `study:` line) is no study: what YAML's
    // null means, and the one way to run a config file's study settings as a single run.
    // `study: {}` is a study of one cell.
    let Some(raw) = map.remove("study").filter(|raw| !raw.is_null()) else {
        return Ok(None);
    };
    let block: StudyBlock = serde_path_to_error::deserialize(raw).map_err(|e| {
        let path = e.path().to_string();
        let at = match path.as_str() {
            "" | "." => "`study:` block".to_string(),
            p => format!("`study.{}`", p.split('[').next().unwrap_or(p)),
        };
        usage(format!("{at}: {}", e.inner()))
    })?;
    Ok(Some(block))
}

/// Every axis of a study: its case axes, then its grid axes; an axis name used twice is an error.
pub fn block_axes(block: &StudyBlock) -> Result<Vec<Axis>> {
    let mut axes = case_axes(&block.cases)?;
    axes.extend(self::axes(&block.grid)?);
    for (i, a) in axes.iter().enumerate() {
        if axes[..i].iter().any(|b| b.key == a.key) {
            return Err(usage(format!(
                "`study`: axis `{}` is given twice (in `cases` and `grid`?)",
                a.key
            )));
        }
    }
    Ok(axes)
}

/// Check the grid and turn it into axes, in the order written. Nested mappings are key paths
/// too (`matrix: {n: [8, 12]}` is `matrix.n: [8, 12]`), which is what `--set study.grid.matrix.n=[8,12]`
/// produces; a list is always an axis.
pub fn axes(grid: &Mapping) -> Result<Vec<Axis>> {
    let mut out = Vec::new();
    collect_axes("", grid, &mut out)?;
    Ok(out)
}

fn collect_axes(prefix: &str, grid: &Mapping, out: &mut Vec<Axis>) -> Result<()> {
    for (key, values) in grid {
        let key = key
            .as_str()
            .ok_or_else(|| usage("`study.grid`: keys must be config key paths like `matrix.n`"))?;
        let key = if prefix.is_empty() {
            key.to_string()
        } else {
            format!("{prefix}.{key}")
        };
        if key.is_empty() || key.split('.').any(str::is_empty) {
            return Err(usage(format!("`study.grid`: bad key path `{key}`")));
        }
        if key == "study" || key.starts_with("study.") {
            return Err(usage(format!(
                "`study.grid.{key}`: the study block itself cannot be a grid axis (one study \
                 has one name, seed list and grid; write several studies instead)"
            )));
        }
        if key == "seed" {
            return Err(usage(format!(
                "`study.grid.{key}`: cannot be a grid axis (use `study.seeds` for seeds)"
            )));
        }
        if let Some(nested) = values.as_mapping() {
            collect_axes(&key, nested, out)?;
            continue;
        }
        out.push(axis(key, values)?);
    }
    Ok(())
}

fn axis(key: String, values: &Value) -> Result<Axis> {
    let list = values
        .as_sequence()
        .filter(|l| !l.is_empty())
        .ok_or_else(|| {
            usage(format!(
                "`study.grid.{key}`: expected a non-empty list of values, e.g. [1, 2]"
            ))
        })?;
    let values = list
        .iter()
        .map(|v| recorded(v, &format!("`study.grid.{key}`")))
        .collect::<Result<Vec<_>>>()?;
    // Two equal values would be two cells of one config (`x=8` and `x=8-2`), whose seeds
    // the report would show as two results instead of one.
    if let Some(v) = (1..values.len())
        .map(|i| &values[i])
        .find(|v| values.iter().filter(|w| same_value(w, v)).count() > 1)
    {
        return Err(usage(format!(
            "`study.grid.{key}`: {} is listed twice; each value is one cell (more seeds go \
             in `study.seeds`)",
            value_text(v)
        )));
    }
    Ok(Axis {
        key,
        values,
        merges: Vec::new(),
    })
}

/// Equal as config values: JSON-equal, or numbers of equal value (`8` and `8.0`).
fn same_value(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// The number of runs a study of `axes` × `seeds` plans, or None when it does not fit a usize.
pub fn run_count(axes: &[Axis], seeds: usize) -> Option<usize> {
    axes.iter()
        .try_fold(seeds, |n, a| n.checked_mul(a.values.len()))
}

/// The `cases:` block as axes: `label: {name: case}` where a case is a mapping of key paths
/// to values or the path of a YAML file (read now, relative to the working directory).
pub fn case_axes(cases: &Mapping) -> Result<Vec<Axis>> {
    let mut out = Vec::new();
    for (label, named) in cases {
        let label = label
            .as_str()
            .filter(|l| !l.is_empty())
            .ok_or_else(|| usage("`study.cases`: each axis needs a name, e.g. `algo:`"))?;
        let named = named
            .as_mapping()
            .filter(|m| !m.is_empty())
            .ok_or_else(|| {
                usage(format!(
                    "`study.cases.{label}`: expected named cases, e.g. `ppo: {{algo.kind: ppo}}`"
                ))
            })?;
        let mut axis = Axis {
            key: label.to_string(),
            values: Vec::new(),
            merges: Vec::new(),
        };
        for (name, case) in named {
            let name = case_name(name).ok_or_else(|| {
                usage(format!(
                    "`study.cases.{label}`: case names must be plain words"
                ))
            })?;
            let what = format!("`study.cases.{label}.{name}`");
            let merge = case_mapping(case).map_err(|why| usage(format!("{what}: {why}")))?;
            axis.values.push(serde_json::Value::String(name));
            axis.merges.push(recorded(&merge, &what)?);
        }
        out.push(axis);
    }
    Ok(out)
}

/// A grid value or case as study.json records it. JSON has no NaN or infinity (serde_json
/// would write null, which the cell's config would then get), so those are refused.
fn recorded(v: &Value, what: &str) -> Result<serde_json::Value> {
    if let Some(x) = non_finite(v) {
        return Err(usage(format!(
            "{what}: {x} is not a value a study can record (study.json is JSON, which has no \
             NaN or infinity); give finite numbers"
        )));
    }
    serde_json::to_value(v).map_err(|e| usage(format!("{what}: {e}")))
}

/// The first NaN or infinite number in `v`, looking inside lists and mappings.
fn non_finite(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64().filter(|x| !x.is_finite()),
        Value::Sequence(s) => s.iter().find_map(non_finite),
        Value::Mapping(m) => m.values().find_map(non_finite),
        Value::Tagged(t) => non_finite(&t.value),
        _ => None,
    }
}

fn case_name(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// One case as a nested mapping: dotted keys expanded, a file path read and parsed.
fn case_mapping(case: &Value) -> std::result::Result<Value, String> {
    if let Some(path) = case.as_str() {
        let text =
            crate::config::read_config(std::path::Path::new(path)).map_err(|e| format!("{e:#}"))?;
        let v =
            crate::config::parse_yaml(&text).map_err(|e| format!("{path}: invalid YAML: {e}"))?;
        return match v {
            Value::Mapping(_) => Ok(v),
            _ => Err(format!("{path}: expected a mapping of config keys")),
        };
    }
    let map = case
        .as_mapping()
        .ok_or("expected a mapping of key paths to values, or a YAML file path")?;
    let mut out = Value::Mapping(Mapping::new());
    for (key, value) in map {
        let key = key.as_str().ok_or("keys must be config key paths")?;
        if key.is_empty() || key.split('.').any(str::is_empty) || key == "seed" {
            return Err(format!("bad key path `{key}`"));
        }
        let mut nested = Value::Mapping(Mapping::new());
        crate::config::set_path(&mut nested, key, value.clone())?;
        crate::config::merge(&mut out, nested);
    }
    Ok(out)
}

/// The cartesian product of the axes (first axis varies slowest). No axes: one cell `default`.
pub fn cells(axes: &[Axis]) -> Vec<Cell> {
    let mut combos: Vec<Vec<Setting>> = vec![Vec::new()];
    for axis in axes {
        combos = combos
            .into_iter()
            .flat_map(|prefix| {
                axis.values.iter().enumerate().map(move |(i, v)| {
                    let mut next = prefix.clone();
                    next.push(Setting {
                        key: axis.key.clone(),
                        value: v.clone(),
                        merge: axis.merges.get(i).cloned(),
                    });
                    next
                })
            })
            .collect();
    }
    let mut used = std::collections::HashSet::new();
    combos
        .into_iter()
        .map(|settings| {
            let mut name = cell_name(&settings);
            let mut k = 2;
            while !used.insert(name.clone()) {
                name = format!("{}-{k}", cell_name(&settings));
                k += 1;
            }
            Cell { name, settings }
        })
        .collect()
}

/// `matrix.n=8,algo=ppo`: readable and safe as one directory name.
fn cell_name(settings: &[Setting]) -> String {
    if settings.is_empty() {
        return "default".into();
    }
    let joined = settings
        .iter()
        .map(|s| format!("{}={}", s.key, value_text(&s.value)))
        .collect::<Vec<_>>()
        .join(",");
    let mut safe: String = joined
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '_' | '-' | '+' | '=' | ',' => c,
            _ => '_',
        })
        .collect();
    if safe.starts_with('.') {
        safe.insert(0, '_');
    }
    safe.chars().take(120).collect()
}

/// The study name: `--name`, else `study.name`, else the config file's stem, else `study`.
pub fn study_name(
    cli_name: Option<&str>,
    block: &StudyBlock,
    file: Option<&std::path::Path>,
) -> Result<String> {
    let name = cli_name
        .map(str::to_string)
        .or_else(|| block.name.clone())
        .or_else(|| {
            file.and_then(|f| f.file_stem())
                .map(|s| s.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "study".into());
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        return Err(usage(format!(
            "study name `{name}`: use a plain directory name"
        )));
    }
    Ok(name)
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
