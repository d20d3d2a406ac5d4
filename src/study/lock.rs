//! `DIR/study.lock`: held (see [`crate::run::lock`]) by the `lab` process running a study, so
//! that a second `lab` (a `--resume` or `--force` while the first still runs) refuses instead
//! of racing it. A lock left by a killed study is free: the kernel released it.
use crate::error::usage;
use crate::run::lock::{self, DirLock};
use anyhow::Result;
use std::path::Path;

const LOCK_FILE: &str = "study.lock";

/// Held while a study runs; released and its file removed on drop.
pub struct StudyLock {
    _lock: DirLock,
}

impl StudyLock {
    /// Refuse if another live `lab` holds `dir`'s lock.
    pub fn check(dir: &Path) -> Result<()> {
        match lock::holder(dir, LOCK_FILE) {
            Some(pid) if pid != std::process::id() => Err(busy(dir, pid)),
            _ => Ok(()),
        }
    }

    /// Take `dir`'s lock (refusing if another process took it since [`StudyLock::check`]).
    pub fn take(dir: &Path) -> Result<StudyLock> {
        match DirLock::try_take(dir, LOCK_FILE)? {
            Ok(held) => Ok(StudyLock { _lock: held }),
            Err(pid) => Err(busy(dir, pid)),
        }
    }
}

impl StudyLock {
    /// The study directory was renamed to `dir` while this lock was held (see
    /// [`DirLock::moved_to`]).
    pub fn moved_to(&mut self, dir: &Path) {
        self._lock.moved_to(dir);
    }
}

fn busy(dir: &Path, pid: u32) -> anyhow::Error {
    usage(format!(
        "the study in {} is being run by lab process {pid}; wait for it or stop it first",
        dir.display()
    ))
}
