//! Resuming a run under the config it was written with: each subcommand that continues a run
//! (`--resume RUN_DIR`) compares RUN_DIR's `config.yaml` with the config in force, allowing
//! only the keys that change no carried row, and refuses the rest naming each key with both
//! values, since the continued CSVs would otherwise mix two configs.
use super::differences;
use crate::error::usage;
use serde::Serialize;
use std::path::Path;

/// `key: OLD there, NEW now` for each leaf key whose value differs between `old` and `new`,
/// except the keys in `may_change`.
pub fn changes<T: Serialize>(old: &T, new: &T, may_change: &[&str]) -> Vec<String> {
    let value = |c: &T| serde_yaml_ng::to_value(c).unwrap_or_default();
    differences(&value(old), &value(new))
        .into_iter()
        .filter(|(key, _, _)| !may_change.contains(&key.as_str()))
        .map(|(key, was, now)| format!("{key}: {was} there, {now} now"))
        .collect()
}

/// The usage error for resuming the run whose config is `path` with `changes` ([`changes`]):
/// `key` is the config key naming the resumed run, `allowed` the keys the user may change.
pub fn refused(key: &str, path: &Path, changes: &[String], allowed: &[&str]) -> anyhow::Error {
    usage(format!(
        "{key}: the config differs from the one of the run it continues ({}): {}. A resumed \
         run continues that run's rows, so only {} may change; drop the other changes \
         (--set/--seed/--config), or start a new run without --resume",
        path.display(),
        changes.join("; "),
        allowed.join(", ")
    ))
}

/// Ok when `old` and `new` differ only in `may_change` ([`changes`]), else [`refused`].
pub fn check<T: Serialize>(
    key: &str,
    path: &Path,
    (old, new): (&T, &T),
    may_change: &[&str],
    allowed: &[&str],
) -> anyhow::Result<()> {
    let diffs = changes(old, new, may_change);
    if diffs.is_empty() {
        return Ok(());
    }
    Err(refused(key, path, &diffs, allowed))
}
