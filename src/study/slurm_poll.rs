//! What the scheduler says about a study's array tasks, asked once per poll for the whole
//! study (never per run): one `squeue` for every job with unfinished tasks, then, only for
//! tasks that left the queue without finishing their run, one `sacct -c` (the job completion
//! log, which works without an accounting database) for their states and exit codes. A run
//! whose job ended without finishing it gets a final `meta.json` here (`interrupted` when the
//! scheduler cancelled it or its time ran out, else `failed`), never `running` forever.
use anyhow::{Context, Result};
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

/// Where one run of the study is.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskState {
    /// A Slurm study's run that no submission includes yet.
    NotSubmitted,
    /// A local study's run that was never started (no `meta.json`).
    NotStarted,
    /// Queued; the scheduler's reason (Priority, Resources, JobArrayTaskLimit, ...).
    Pending(String),
    Running,
    Completed,
    /// The run failed, or its job ended without finishing it: the message says why.
    Failed(String),
    /// Stopped by a signal (scancel, time limit, Ctrl-C): the message says how.
    Interrupted(String),
    /// Its `meta.json` cannot be read or makes no sense: the message says why.
    Unreadable(String),
}

impl TaskState {
    pub fn is_active(&self) -> bool {
        matches!(self, TaskState::Pending(_) | TaskState::Running)
    }

    pub fn is_completed(&self) -> bool {
        *self == TaskState::Completed
    }

    pub fn is_final(&self) -> bool {
        matches!(
            self,
            TaskState::Completed | TaskState::Failed(_) | TaskState::Interrupted(_)
        )
    }

    /// One word for tables and counts.
    pub fn label(&self) -> &'static str {
        match self {
            TaskState::NotSubmitted => "not-submitted",
            TaskState::NotStarted => "not-started",
            TaskState::Pending(_) => "pending",
            TaskState::Running => "running",
            TaskState::Completed => "completed",
            TaskState::Failed(_) => "failed",
            TaskState::Interrupted(_) => "interrupted",
            TaskState::Unreadable(_) => "unreadable",
        }
    }

    pub fn detail(&self) -> &str {
        match self {
            TaskState::Pending(s)
            | TaskState::Failed(s)
            | TaskState::Interrupted(s)
            | TaskState::Unreadable(s) => s,
            _ => "",
        }
    }
}

/// One row of `squeue`: an array task's raw job id, state and reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Queued {
    pub raw_id: String,
    pub state: String,
    pub reason: String,
}

/// The tasks of array jobs `jobs` that the scheduler still lists (finished ones stay listed for
/// `MinJobAge`), keyed by (array job id, task index). One `squeue` call.
pub fn squeue(jobs: &[String]) -> Result<HashMap<(String, usize), Queued>> {
    if jobs.is_empty() {
        return Ok(HashMap::new());
    }
    let out = Command::new("squeue")
        .args([
            "--noheader",
            "--array",
            "--states=all",
            "--format=%A|%F|%K|%T|%r",
        ])
        .arg(format!("--jobs={}", jobs.join(",")))
        .output()
        .context("running squeue (the Slurm client commands must be on PATH)")?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        if stderr.contains("Invalid job id") {
            return Ok(HashMap::new()); // every job left the scheduler's memory
        }
        anyhow::bail!("squeue failed: {}", stderr.trim());
    }
    Ok(parse_squeue(&String::from_utf8_lossy(&out.stdout)))
}

fn parse_squeue(text: &str) -> HashMap<(String, usize), Queued> {
    let mut out = HashMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.trim().split('|').collect();
        let [raw, array, index, state, reason] = f[..] else {
            continue;
        };
        let Ok(index) = index.parse::<usize>() else {
            continue; // not an array task
        };
        let queued = Queued {
            raw_id: raw.into(),
            state: state.into(),
            reason: reason.into(),
        };
        out.insert((array.to_string(), index), queued);
    }
    out
}

/// Finished jobs' `(state, exit code)` by raw job id, from the completion log (`sacct -c`); an
/// empty map when sacct is missing or reads nothing (then only `meta.json` tells the story).
pub fn sacct_completed(raw_ids: &[String]) -> HashMap<String, (String, String)> {
    if raw_ids.is_empty() {
        return HashMap::new();
    }
    let out = Command::new("sacct")
        .args(["-c", "--noheader", "--parsable2"])
        .args(["--format=JobIDRaw,State,ExitCode"])
        .arg(format!("--jobs={}", raw_ids.join(",")))
        .output();
    match out {
        Ok(out) if out.status.success() => parse_sacct(&String::from_utf8_lossy(&out.stdout)),
        _ => HashMap::new(),
    }
}

fn parse_sacct(text: &str) -> HashMap<String, (String, String)> {
    let mut out = HashMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.trim().split('|').collect();
        if let [raw, state, exit] = f[..] {
            let state = state.split_whitespace().next().unwrap_or("").to_string();
            out.insert(raw.to_string(), (state, exit.to_string()));
        }
    }
    out
}

/// Where a task is from its scheduler state while its run has no final `meta.json`: `None`
/// for a job that ended (the caller settles the run).
pub fn from_queue(q: &Queued) -> Option<TaskState> {
    match q.state.as_str() {
        "PENDING" | "REQUEUED" | "REQUEUE_HOLD" | "REQUEUE_FED" | "RESV_DEL_HOLD" => {
            Some(TaskState::Pending(q.reason.clone()))
        }
        "RUNNING" | "CONFIGURING" | "COMPLETING" | "SUSPENDED" | "STOPPED" | "SIGNALING"
        | "RESIZING" | "STAGE_OUT" => Some(TaskState::Running),
        _ => None,
    }
}

/// The state of a run whose job ended without finishing it: `interrupted` for what the
/// scheduler stopped on purpose (cancel, time limit, preemption), else `failed`. `how` is the
/// scheduler's word for it (`slurm job 12_3: CANCELLED`), `log` the task's output file.
pub fn ended(how: &str, scheduler_state: &str, log: &Path) -> TaskState {
    let text = crate::input::read_result(log).unwrap_or_default();
    let said = if text.trim().is_empty() {
        "the job ended before the run finished".to_string()
    } else {
        super::runner::last_error_line(&text)
    };
    let message = format!("{said} ({how})");
    match scheduler_state {
        "CANCELLED" | "TIMEOUT" | "PREEMPTED" | "DEADLINE" => TaskState::Interrupted(message),
        _ => TaskState::Failed(message),
    }
}

/// Give a run whose job ended a final `meta.json` (kept if the run wrote one: a final status is
/// never replaced) and its task's log as `output.log`.
pub fn settle(run_dir: &Path, seed: u64, state: &TaskState, log: &Path) -> Result<()> {
    let path = run_dir.join("meta.json");
    let old: Option<serde_json::Value> = crate::input::read_result(&path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .filter(serde_json::Value::is_object); // a list or string is as unreadable as a torn file
    let current = old
        .as_ref()
        .and_then(|m| m.get("status")?.as_str().map(str::to_string));
    std::fs::create_dir_all(run_dir).with_context(|| format!("creating {}", run_dir.display()))?;
    if current.as_deref().is_none_or(|s| s == "running") {
        let mut meta = old.unwrap_or_else(|| serde_json::json!({ "seed": seed }));
        meta["status"] = state.label().into();
        meta["error"] = format!(
            "{}; meta.json completed by the study (slurm)",
            state.detail()
        )
        .into();
        crate::run::write_json(&path, &meta)?;
    }
    copy_log(run_dir, log)
}

/// The task's output as the run's `output.log` (as the local executor keeps it), once.
pub fn copy_log(run_dir: &Path, log: &Path) -> Result<()> {
    let target = run_dir.join("output.log");
    if !run_dir.is_dir() || target.exists() || !log.exists() {
        return Ok(());
    }
    let bytes = std::fs::read(log).with_context(|| format!("reading {}", log.display()))?;
    crate::run::write_atomic(&target, &bytes)
}

/// A run's `meta.json` status and error, if it has a readable one.
pub fn meta(run_dir: &Path) -> Option<(String, Option<String>)> {
    read_meta(run_dir).ok().flatten()
}

/// A run's `meta.json` status and error: `None` without a meta.json, an error saying why when
/// it cannot be read, is not JSON or has no `status` text.
pub fn read_meta(run_dir: &Path) -> Result<Option<(String, Option<String>)>, String> {
    let path = run_dir.join("meta.json");
    let text = match crate::input::read_result(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("meta.json cannot be read: {e}")),
        Ok(text) => text,
    };
    let meta: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("meta.json is not valid JSON: {e}"))?;
    let status = meta
        .get("status")
        .and_then(|s| s.as_str())
        .ok_or("meta.json has no `status` text")?;
    let error = meta
        .get("error")
        .and_then(|e| e.as_str())
        .map(str::to_string);
    Ok(Some((status.to_string(), error)))
}

/// For a run whose `meta.json` says `running`: the pid of its writer when that process is gone
/// from this host (killed by SIGKILL or the out-of-memory killer), so the run will never end.
pub fn writer_gone(run_dir: &Path) -> Option<u64> {
    let text = crate::input::read_result(&run_dir.join("meta.json")).ok()?;
    let meta: serde_json::Value = serde_json::from_str(&text).ok()?;
    let pid = meta.get("pid").and_then(serde_json::Value::as_u64);
    let host = meta.get("host").and_then(serde_json::Value::as_str);
    (crate::run::writer_alive(host, pid) == Some(false)).then_some(pid?)
}

/// The final state a run's own `meta.json` gives, if it gives one.
pub fn from_meta(run_dir: &Path) -> Option<TaskState> {
    let (status, error) = meta(run_dir)?;
    let error = error.unwrap_or_default();
    match status.as_str() {
        "completed" => Some(match crate::results::runs::broken_completed(run_dir) {
            None => TaskState::Completed,
            Some(why) => TaskState::Failed(format!("broken: {why}; --resume runs it again")),
        }),
        "failed" => Some(TaskState::Failed(error)),
        "interrupted" if error.is_empty() => Some(TaskState::Interrupted(
            "interrupted by a signal (scancel, time limit or Ctrl-C)".into(),
        )),
        "interrupted" => Some(TaskState::Interrupted(error)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squeue_rows_are_keyed_by_array_job_and_index() {
        let text = "1|1|N/A|COMPLETED|None\n2|2|3|PENDING|JobArrayTaskLimit\n\
                    4|2|1|CANCELLED|None\n5|2|2|FAILED|NonZeroExitCode\n";
        let rows = parse_squeue(text);
        assert_eq!(rows.len(), 3, "the non-array job is left out");
        let pending = &rows[&("2".to_string(), 3)];
        assert_eq!(
            from_queue(pending),
            Some(TaskState::Pending("JobArrayTaskLimit".into()))
        );
        assert_eq!(rows[&("2".to_string(), 1)].raw_id, "4");
        assert_eq!(from_queue(&rows[&("2".to_string(), 2)]), None, "ended");
    }

    #[test]
    fn sacct_states_drop_the_by_uid_suffix() {
        let rows = parse_sacct("4|CANCELLED by 0|0:0\n5|FAILED|3:0\ngarbage\n");
        assert_eq!(rows["4"], ("CANCELLED".into(), "0:0".into()));
        assert_eq!(rows["5"], ("FAILED".into(), "3:0".into()));
        assert_eq!(rows.len(), 2);
    }

    #[test]
    fn an_ended_job_settles_its_run_once_and_never_replaces_a_final_status() {
        let tmp = tempfile::tempdir().unwrap();
        let (run, log) = (tmp.path().join("cell/seed-0"), tmp.path().join("3.log"));
        std::fs::write(&log, "progress\nerror: out of memory\n").unwrap();
        let state = ended("slurm job 7_3: OUT_OF_MEMORY 0:125", "OUT_OF_MEMORY", &log);
        assert_eq!(
            state,
            TaskState::Failed("out of memory (slurm job 7_3: OUT_OF_MEMORY 0:125)".into())
        );
        settle(&run, 0, &state, &log).unwrap();
        assert!(
            matches!(from_meta(&run), Some(TaskState::Failed(m)) if m.contains("out of memory"))
        );
        assert!(std::fs::read_to_string(run.join("output.log"))
            .unwrap()
            .contains("progress"));
        let cancelled = ended(
            "slurm job 7_3: CANCELLED",
            "CANCELLED",
            &tmp.path().join("none"),
        );
        assert!(matches!(&cancelled, TaskState::Interrupted(m) if m.contains("before the run")));
        settle(&run, 0, &cancelled, &log).unwrap();
        assert_eq!(
            from_meta(&run).unwrap().label(),
            "failed",
            "final status kept"
        );
    }

    /// A meta.json that is valid JSON but not an object (a list) is settled like a torn one,
    /// not a panic indexing into the list.
    #[test]
    fn a_meta_json_that_is_not_an_object_is_settled() {
        let tmp = tempfile::tempdir().unwrap();
        let (run, log) = (tmp.path().join("cell/seed-0"), tmp.path().join("3.log"));
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(run.join("meta.json"), "[1, 2]").unwrap();
        let state = ended("slurm job 7_3: FAILED 1:0", "FAILED", &log);
        settle(&run, 4, &state, &log).unwrap();
        let meta: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(run.join("meta.json")).unwrap()).unwrap();
        assert_eq!(meta["status"], "failed", "{meta}");
        assert_eq!(meta["seed"], 4, "{meta}");
    }
}
