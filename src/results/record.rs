//! `study.json`: the record of a study's grid, cells and seeds, written when the study starts
//! and read by `report`, `plot`, `compare` and `--resume`.
use crate::error::usage;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// `study.json`: what a study consists of, so `report`, `plot` and `--resume` know its cells.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct StudyRecord {
    pub subcommand: String,
    pub name: String,
    pub seeds: Vec<u64>,
    pub grid: Vec<Axis>,
    pub cells: Vec<Cell>,
    /// The files the cells' configs name, fingerprinted when the study was planned, so that
    /// `--resume` refuses files edited since (absent in records from before).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<InputFile>,
}

/// An input file of a study: the path as the configs write it, its sha256, the config keys
/// that name it and the cells whose configs do.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct InputFile {
    pub path: String,
    pub sha256: String,
    pub keys: Vec<String>,
    pub cells: Vec<String>,
}

pub const RECORD_FILE: &str = "study.json";
/// The merged config each cell's runs start from (no `study:` block, seed set per run).
pub const CELL_CONFIG: &str = "cell.yaml";

impl StudyRecord {
    pub fn read(dir: &Path) -> Result<Option<StudyRecord>> {
        let path = dir.join(RECORD_FILE);
        if !path.exists() {
            return Ok(None);
        }
        let text = crate::input::read_result(&path)
            .map_err(|e| usage(format!("reading {}: {e}", path.display())))?;
        let record: StudyRecord = serde_json::from_str(&text)
            .map_err(|e| usage(format!("{}: not a lab study record: {e}", path.display())))?;
        // Cells are folders inside the study (plan makes their names safe): a name that is a
        // path (`../x`, `/abs`, `a/b`) would send report, status and --resume out of it.
        if let Some(cell) = record.cells.iter().find(|c| !is_folder_name(&c.name)) {
            return Err(usage(format!(
                "{}: not a lab study record: cell name {:?} is not a folder name inside the study",
                path.display(),
                cell.name
            )));
        }
        Ok(Some(record))
    }

    /// Run directory of `cell` with `seed`, relative to the study dir.
    pub fn run_dir(cell: &str, seed: u64) -> PathBuf {
        Path::new(cell).join(format!("seed-{seed}"))
    }
}

/// One plain path component: not empty, `.` or `..`, and without a `/`.
fn is_folder_name(name: &str) -> bool {
    let mut parts = Path::new(name).components();
    matches!(
        (parts.next(), parts.next()),
        (Some(std::path::Component::Normal(_)), None)
    ) && !name.contains('/')
}

/// One grid axis: a config key path and the values it takes. For a case axis the key is a
/// label, the values are case names and `merges[i]` is what case `i` merges into the config.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Axis {
    pub key: String,
    pub values: Vec<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merges: Vec<serde_json::Value>,
}

/// One point of the grid: its directory name and the key → value settings it applies.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Cell {
    pub name: String,
    pub settings: Vec<Setting>,
}

/// `key = value` set at a config key path; for a case, `key = case name` is only the label
/// and `merge` (nested mapping) is merged over the config instead.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Setting {
    pub key: String,
    pub value: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge: Option<serde_json::Value>,
}

/// A value as short text: strings bare, everything else as compact JSON.
pub fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn cell_names_are_single_folder_names() {
        for good in ["default", "matrix.n=8", "env=CartPole-v1,algo=ppo"] {
            assert!(super::is_folder_name(good), "{good}");
        }
        for bad in ["", ".", "..", "../x", "/etc", "a/b", "a/"] {
            assert!(!super::is_folder_name(bad), "{bad}");
        }
    }
}
