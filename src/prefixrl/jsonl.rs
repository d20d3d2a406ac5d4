//! The JSONL files of spec §7.2: problems, traces (correct off-policy solutions) and prefixes.
//! One object per line, unknown fields ignored, blank lines skipped. Readers check every line
//! and name the file and line of the first bad one (`FILE:LINE: why`, a usage error); writers
//! replace the file atomically.
use super::task::Problem;
use crate::error::usage;
use anyhow::Result;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::hash::Hash;
use std::path::Path;

/// One traces.jsonl line: a correct solution of `problem_id` and what finding it cost.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceRecord {
    pub problem_id: String,
    pub trace: String,
    /// Where it came from, e.g. `rejection:base`, `oracle`, `run:<dir>`.
    pub source: String,
    pub attempts: u64,
    pub gen_tokens: u64,
    pub flops: f64,
    /// Always 1 (only correct traces are kept).
    pub reward: f64,
    /// Per-token log-probs of the trace under the policy that sampled it (each ≤ 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behaviour_logprobs: Option<Vec<f64>>,
}

/// One prefixes.jsonl line: the first `h_tokens` tokens (fraction `frac`) of a trace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PrefixRecord {
    pub problem_id: String,
    pub prefix_id: u32,
    pub h_tokens: u32,
    pub frac: f64,
    pub prefix: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_success: Option<f64>,
}

/// Every non-blank line of `path` parsed as a `T`, with its 1-based line number.
pub fn read_lines<T: DeserializeOwned>(path: &Path) -> Result<Vec<(usize, T)>> {
    let text = crate::input::read_to_string(path)
        .map_err(|e| usage(format!("reading {}: {e}", path.display())))?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let row = serde_json::from_str(line)
            .map_err(|e| usage(format!("{}:{}: {e}", path.display(), i + 1)))?;
        rows.push((i + 1, row));
    }
    Ok(rows)
}

/// An error naming both lines when two rows have the same key (`what` describes the key).
pub fn check_unique<T, K: Eq + Hash>(
    path: &Path,
    rows: &[(usize, T)],
    what: &str,
    key: impl Fn(&T) -> (K, String),
) -> Result<()> {
    let mut seen: HashMap<K, usize> = HashMap::new();
    for (line, row) in rows {
        let (k, shown) = key(row);
        if let Some(first) = seen.insert(k, *line) {
            return Err(usage(format!(
                "{}:{line}: duplicate {what} {shown} (also on line {first})",
                path.display()
            )));
        }
    }
    Ok(())
}

/// A usage error at `path:line` unless `ok`.
fn require(path: &Path, line: usize, ok: bool, why: impl FnOnce() -> String) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(usage(format!("{}:{line}: {}", path.display(), why())))
    }
}

/// problems.jsonl; ids unique and non-empty.
pub fn read_problems(path: &Path) -> Result<Vec<Problem>> {
    let rows: Vec<(usize, Problem)> = read_lines(path)?;
    for (line, p) in &rows {
        require(path, *line, !p.id.is_empty(), || "empty `id`".into())?;
    }
    check_unique(path, &rows, "id", |p| (p.id.clone(), format!("`{}`", p.id)))?;
    Ok(rows.into_iter().map(|(_, p)| p).collect())
}

/// traces.jsonl; (problem_id, source) unique; only non-empty traces with reward 1.
pub fn read_traces(path: &Path) -> Result<Vec<TraceRecord>> {
    let rows: Vec<(usize, TraceRecord)> = read_lines(path)?;
    for (line, t) in &rows {
        require(path, *line, t.reward == 1.0, || {
            format!(
                "reward {} (only correct traces, reward 1, are kept)",
                t.reward
            )
        })?;
        require(path, *line, !t.trace.is_empty(), || "empty `trace`".into())?;
        require(path, *line, t.flops.is_finite() && t.flops >= 0.0, || {
            format!("`flops` must be finite and >= 0, got {}", t.flops)
        })?;
        if let Some(lp) = &t.behaviour_logprobs {
            let bad = lp.iter().position(|x| !(x.is_finite() && *x <= 0.0));
            require(path, *line, bad.is_none(), || {
                let i = bad.unwrap_or(0);
                format!(
                    "`behaviour_logprobs[{i}]` = {} (log-probs must be finite and <= 0)",
                    lp[i]
                )
            })?;
        }
    }
    check_unique(path, &rows, "(problem_id, source)", |t| {
        let k = (t.problem_id.clone(), t.source.clone());
        let shown = format!("({}, {})", t.problem_id, t.source);
        (k, shown)
    })?;
    Ok(rows.into_iter().map(|(_, t)| t).collect())
}

/// prefixes.jsonl; (problem_id, prefix_id) unique; frac in (0, 1), base_success in [0, 1].
pub fn read_prefixes(path: &Path) -> Result<Vec<PrefixRecord>> {
    let rows: Vec<(usize, PrefixRecord)> = read_lines(path)?;
    for (line, p) in &rows {
        require(path, *line, p.frac > 0.0 && p.frac < 1.0, || {
            format!("`frac` must be in (0, 1), got {}", p.frac)
        })?;
        require(path, *line, !p.prefix.is_empty(), || {
            "empty `prefix`".into()
        })?;
        if let Some(s) = p.base_success {
            require(path, *line, (0.0..=1.0).contains(&s), || {
                format!("`base_success` must be in [0, 1], got {s}")
            })?;
        }
    }
    check_unique(path, &rows, "(problem_id, prefix_id)", |p| {
        let shown = format!("({}, {})", p.problem_id, p.prefix_id);
        ((p.problem_id.clone(), p.prefix_id), shown)
    })?;
    Ok(rows.into_iter().map(|(_, p)| p).collect())
}

/// Write `rows`, one JSON object per line, atomically (crate::run::write_atomic).
pub fn write_jsonl<T: Serialize>(path: &Path, rows: &[T]) -> Result<()> {
    let mut text = String::new();
    for row in rows {
        text.push_str(&serde_json::to_string(row)?);
        text.push('\n');
    }
    crate::run::write_atomic(path, text.as_bytes())
}
