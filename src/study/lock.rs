//! `DIR/study.lock`: the pid of the `lab` process running a study, so that a second `lab`
//! (a `--resume` or `--force` while the first still runs) refuses instead of racing it.
use crate::error::usage;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

const LOCK_FILE: &str = "study.lock";

/// Held while a study runs; the file is removed on drop.
pub struct StudyLock {
    path: PathBuf,
}

impl StudyLock {
    /// Refuse if another live `lab` holds `dir`'s lock; a stale lock (dead pid) is taken over.
    pub fn check(dir: &Path) -> Result<()> {
        let path = dir.join(LOCK_FILE);
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(());
        };
        match text.trim().parse::<u32>() {
            Ok(pid) if pid != std::process::id() && is_running_lab(pid) => Err(usage(format!(
                "the study in {} is being run by lab process {pid}; wait for it or stop it first \
                 (remove {} if that process is not a lab study)",
                dir.display(),
                path.display()
            ))),
            _ => Ok(()),
        }
    }

    /// Write our pid into `dir`'s lock file.
    pub fn take(dir: &Path) -> Result<StudyLock> {
        let path = dir.join(LOCK_FILE);
        std::fs::write(&path, format!("{}\n", std::process::id()))
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(StudyLock { path })
    }
}

impl Drop for StudyLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Whether `pid` is a live process running a `lab` executable (Linux /proc; elsewhere: unknown,
/// treated as not running so a stale lock never blocks).
fn is_running_lab(pid: u32) -> bool {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
    let name = String::from_utf8_lossy(argv0);
    Path::new(name.as_ref())
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("lab"))
}
