//! Advisory directory locks: `flock(2)` on `DIR/<name>` (`run.lock` in a run directory,
//! `study.lock` in a study's), held by the writing process for its whole life. The kernel
//! releases it when that process exits or dies (even by SIGKILL), so a stale file never blocks
//! and a live writer always does: a second writer (`--force`, a study's `--resume`) refuses
//! instead of racing it. The file holds the holder's pid, for messages; it is removed when
//! the lock is dropped.
use anyhow::{Context, Result};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The lock file of a run directory.
pub const RUN_LOCK: &str = "run.lock";

/// A held lock; released (and its file removed) on drop.
#[derive(Debug)]
pub struct DirLock {
    path: PathBuf,
    _file: File,
}

impl DirLock {
    /// Take `dir/name`; `Ok(Err(pid))` when another process holds it (pid 0: unknown).
    pub fn try_take(dir: &Path, name: &str) -> Result<std::result::Result<DirLock, u32>> {
        let path = dir.join(name);
        not_a_lock_file(&path)?;
        loop {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .with_context(|| format!("opening {}", path.display()))?;
            if !flock(&file, libc::LOCK_EX) {
                return Ok(Err(holder_pid(dir, name).unwrap_or(0)));
            }
            // The previous holder may have removed the file between our open and our flock:
            // then we locked an orphaned inode, and must start over on the new path.
            let same = fs::metadata(&path)
                .and_then(|now| Ok((now.ino(), now.dev()) == ino_dev(&file)?))
                .unwrap_or(false);
            if !same {
                continue;
            }
            let mut file = file;
            file.set_len(0)
                .and_then(|()| writeln!(file, "{}", std::process::id()))
                .and_then(|()| file.flush())
                .with_context(|| format!("writing {}", path.display()))?;
            return Ok(Ok(DirLock { path, _file: file }));
        }
    }
}

impl DirLock {
    /// The locked directory was renamed to `dir` (a study moved aside by `--force` while
    /// locked, so no second `lab` could start in it meanwhile): the file removed on drop is
    /// the one there now.
    pub fn moved_to(&mut self, dir: &Path) {
        if let Some(name) = self.path.file_name() {
            self.path = dir.join(name);
        }
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // Remove the path while still holding the lock; the lock goes with the file handle.
        let _ = fs::remove_file(&self.path);
    }
}

/// The pid of the live process holding `dir/name`, if one does (0 if it wrote none yet).
pub fn holder(dir: &Path, name: &str) -> Option<u32> {
    let path = dir.join(name);
    // lab makes only regular lock files; opening a FIFO put there would block.
    crate::input::check_regular(&path).ok()?;
    let file = File::open(path).ok()?;
    if flock(&file, libc::LOCK_SH) {
        return None; // nobody holds it (our shared lock goes with `file`)
    }
    Some(holder_pid(dir, name).unwrap_or(0))
}

/// Wait up to `limit` for `dir/name` to be released (a dying writer finishing its last row);
/// the holder's pid if it is still held then.
pub fn wait_released(dir: &Path, name: &str, limit: Duration) -> Option<u32> {
    let start = Instant::now();
    loop {
        let pid = holder(dir, name)?;
        if start.elapsed() >= limit {
            return Some(pid);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Refuse a lock path that exists as something other than a regular file (a FIFO, a folder,
/// a device): lab never makes one, and opening or truncating it would block or fail obscurely.
fn not_a_lock_file(path: &Path) -> Result<()> {
    match crate::input::check_regular(path) {
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
            Err(crate::error::usage(format!(
                "{}: {e}, so it cannot be lab's lock file; remove or rename it",
                path.display()
            )))
        }
        _ => Ok(()),
    }
}

/// The pid written in the lock file, else the one in the directory's meta.json.
fn holder_pid(dir: &Path, name: &str) -> Option<u32> {
    let text = crate::input::read_result(&dir.join(name)).unwrap_or_default();
    if let Ok(pid) = text.trim().parse() {
        return Some(pid);
    }
    let meta = crate::input::read_result(&dir.join("meta.json")).ok()?;
    let meta: serde_json::Value = serde_json::from_str(&meta).ok()?;
    meta.get("pid")?
        .as_u64()
        .and_then(|p| u32::try_from(p).ok())
}

/// Non-blocking `flock`; false when another open file holds a conflicting lock.
fn flock(file: &File, how: libc::c_int) -> bool {
    // SAFETY: flock on a descriptor we own; LOCK_NB never blocks.
    unsafe { libc::flock(file.as_raw_fd(), how | libc::LOCK_NB) == 0 }
}

fn ino_dev(file: &File) -> std::io::Result<(u64, u64)> {
    let meta = file.metadata()?;
    Ok((meta.ino(), meta.dev()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_blocks_a_second_taker_and_names_its_pid() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(holder(dir.path(), RUN_LOCK), None, "no file: not held");
        let held = DirLock::try_take(dir.path(), RUN_LOCK).unwrap().unwrap();
        let me = std::process::id();
        assert_eq!(holder(dir.path(), RUN_LOCK), Some(me));
        let second = DirLock::try_take(dir.path(), RUN_LOCK).unwrap();
        assert_eq!(
            second.unwrap_err(),
            me,
            "flock conflicts between open files"
        );
        drop(held);
        assert!(!dir.path().join(RUN_LOCK).exists(), "file removed on drop");
        assert_eq!(holder(dir.path(), RUN_LOCK), None);
        let stale = dir.path().join(RUN_LOCK);
        fs::write(&stale, "12345\n").unwrap(); // left by a killed process: not held
        assert_eq!(holder(dir.path(), RUN_LOCK), None);
        assert!(DirLock::try_take(dir.path(), RUN_LOCK).unwrap().is_ok());
    }
}
