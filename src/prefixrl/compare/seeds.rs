//! The check that each (method label, seed) of a comparison is one run, after leaving out the
//! runs another run of the comparison continues.
use super::RunData;
use crate::error::usage;
use anyhow::Result;
use std::path::{Path, PathBuf};

/// `dirs` without the runs another of them continues (its config's `inputs.resume`, which
/// `--resume RUN_DIR` sets): the continuation carries their rows, so they would count one seed
/// twice. Returns the kept runs and one note per run left out.
pub(super) fn drop_continued(dirs: &[PathBuf]) -> (Vec<PathBuf>, Vec<String>) {
    let resumed: Vec<(usize, PathBuf)> = (dirs.iter().enumerate())
        .filter_map(|(i, d)| Some((i, resume_of(d)?)))
        .collect();
    let (mut kept, mut notes) = (Vec::new(), Vec::new());
    for (j, dir) in dirs.iter().enumerate() {
        match resumed.iter().find(|(i, r)| *i != j && names(r, dir)) {
            Some((i, _)) => notes.push(format!(
                "{} is left out: {} continues it (`inputs.resume`) and carries its rows",
                dir.display(),
                dirs[*i].display()
            )),
            None => kept.push(dir.clone()),
        }
    }
    (kept, notes)
}

/// The run `dir` continues: its config.yaml's `inputs.resume`, when readable.
fn resume_of(dir: &Path) -> Option<PathBuf> {
    let resume = config_of(dir)
        .get("inputs")?
        .get("resume")?
        .as_str()?
        .to_string();
    Some(PathBuf::from(resume))
}

/// `dir`'s config.yaml as YAML (null when it cannot be read or parsed).
fn config_of(dir: &Path) -> serde_yaml_ng::Value {
    crate::input::read_result(&dir.join("config.yaml"))
        .ok()
        .and_then(|t| serde_yaml_ng::from_str(&t).ok())
        .unwrap_or(serde_yaml_ng::Value::Null)
}

/// Whether `named` (a path as the run was given it, relative to the directory lab ran in) is
/// `dir`: the same folder where both resolve from here, else the same folder name (run folders
/// are named uniquely).
fn names(named: &Path, dir: &Path) -> bool {
    match (named.canonicalize(), dir.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => named.file_name().is_some() && named.file_name() == dir.file_name(),
    }
}

/// Two runs with one label and one seed are not two seeds of one setting (a copy, or runs that
/// differ in a key the label leaves out, such as `rl.lr`; a continued run is left out before): averaged, their mean and std mixed two settings, and a run's baseline of the same
/// seed was whichever came first. Refused naming both directories and the keys they differ in.
pub(super) fn refuse_same_seed(runs: &[RunData]) -> Result<()> {
    for (i, a) in runs.iter().enumerate() {
        let Some(b) = runs[..i]
            .iter()
            .find(|b| b.label == a.label && b.seed == a.seed)
        else {
            continue;
        };
        let keys: Vec<String> = crate::config::differences(&config_of(&b.dir), &config_of(&a.dir))
            .into_iter()
            .map(|(k, was, now)| format!("{k} ({was} / {now})"))
            .collect();
        let differ = match keys.is_empty() {
            true => "the same config (a copy?)".to_string(),
            false => format!("configs that differ in {}", keys.join(", ")),
        };
        return Err(usage(format!(
            "{} and {} are both `{}` runs with seed {}, with {differ}: compare.csv would \
             average them as two seeds of one setting. Leave one out (move it to another \
             folder) or report each setting from its own folder",
            b.dir.display(),
            a.dir.display(),
            a.label,
            a.seed
        )));
    }
    Ok(())
}
