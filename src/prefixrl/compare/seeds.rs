//! The check that each (method label, seed) of a comparison is one run.
use super::RunData;
use crate::error::usage;
use anyhow::Result;

/// Two runs with one label and one seed are not two seeds of one setting (a run and its
/// `--resume` continuation, or runs that differ in a key the label leaves out, such as
/// `rl.lr`): averaged, their mean and std mixed two settings, and a run's baseline of the same
/// seed was whichever came first. Refused naming both directories and the keys they differ in.
pub(super) fn refuse_same_seed(runs: &[RunData]) -> Result<()> {
    for (i, a) in runs.iter().enumerate() {
        let Some(b) = runs[..i]
            .iter()
            .find(|b| b.label == a.label && b.seed == a.seed)
        else {
            continue;
        };
        let read = |r: &RunData| -> serde_yaml_ng::Value {
            crate::input::read_result(&r.dir.join("config.yaml"))
                .ok()
                .and_then(|t| serde_yaml_ng::from_str(&t).ok())
                .unwrap_or(serde_yaml_ng::Value::Null)
        };
        let keys: Vec<String> = crate::config::differences(&read(b), &read(a))
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
