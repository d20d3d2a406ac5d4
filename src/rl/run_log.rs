//! Warnings from the environments (an unstable MuJoCo simulation, issue 14 "bad input"): each
//! goes to stderr and, once a run has called [`log_to`], is appended to that run's log file
//! (`run.log` in the run directory), so the message stays with the run's results.
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

/// The file warnings are appended to; `None` before a run sets one.
static LOG: Mutex<Option<PathBuf>> = Mutex::new(None);

/// The log file name in a run directory.
pub const FILE: &str = "run.log";

/// Append later warnings to `path` (`None`: stderr only).
pub fn log_to(path: Option<PathBuf>) {
    *LOG.lock().unwrap_or_else(|e| e.into_inner()) = path;
}

/// Print `message` as a warning on stderr and append it to the run's log, if one is set. A log
/// that cannot be written is said on stderr; the run goes on.
pub fn warn(message: &str) {
    eprintln!("warning: {message}");
    let log = LOG.lock().unwrap_or_else(|e| e.into_inner());
    let Some(path) = log.as_ref() else { return };
    let line = format!("{} warning: {message}\n", local_now());
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = written {
        eprintln!("warning: cannot append to {}: {e}", path.display());
    }
}

fn local_now() -> String {
    chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}
