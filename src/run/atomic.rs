//! Atomic, durable file writes: a reader never sees a half-written file, and a written file
//! survives a crash of the machine.
use anyhow::{Context, Result};
use serde::Serialize;
use std::fs;
use std::path::{Path, PathBuf};

/// Write pretty JSON with [`write_atomic`].
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    write_atomic(path, (text + "\n").as_bytes())
}

/// Write `bytes` to `path` atomically with [`write_atomic_with`].
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |tmp| Ok(fs::write(tmp, bytes)?))
}

/// Write `path` atomically: `fill` writes the whole file to `<path>.tmp` beside it, which is
/// fsynced, renamed over `path`, and then the directory is fsynced, so a reader never sees a
/// half-written file, a failed write (a full disk) leaves the old file or none, and once this
/// returns the new file survives a crash of the machine as well. An error names `path`; the
/// temp file is removed.
pub fn write_atomic_with(path: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let done = fill(&tmp)
        .and_then(|()| sync_file(&tmp))
        .and_then(|()| Ok(fs::rename(&tmp, path)?));
    if done.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    done.and_then(|()| sync_dir(path))
        .with_context(|| format!("writing {}", path.display()))
}

/// fsync a written file: its data reaches the disk before it is renamed into place (without
/// this a crash soon after the rename can leave the final name holding an empty file). A
/// file that cannot be synced (not a regular file) is an error, not a write that looked fine.
fn sync_file(path: &Path) -> Result<()> {
    let file = fs::File::open(path)?;
    file.sync_all()
        .with_context(|| format!("syncing {} to disk", path.display()))
}

/// fsync the directory holding `path`, so the rename itself is on disk. Filesystems that
/// cannot sync a directory (EINVAL) are let through: there the rename is as durable as it gets.
fn sync_dir(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match fs::File::open(dir).and_then(|d| d.sync_all()) {
        Err(e) if e.kind() != std::io::ErrorKind::InvalidInput => {
            Err(e).with_context(|| format!("syncing directory {} to disk", dir.display()))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_writes_replace_the_file_and_name_it_when_they_fail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        write_atomic(&path, b"old").unwrap();
        write_json(&path, &[1, 2]).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "[\n  1,\n  2\n]\n");
        assert!(
            !dir.path().join("state.json.tmp").exists(),
            "no temp file left"
        );
        let missing = dir.path().join("no-such-dir").join("c.json");
        let err = format!("{:#}", write_atomic(&missing, b"x").unwrap_err());
        assert!(
            err.starts_with(&format!("writing {}: ", missing.display())),
            "{err}"
        );
        let blocked = dir.path().join("blocked");
        fs::create_dir_all(blocked.join("inner")).unwrap();
        let err = format!("{:#}", write_atomic(&blocked, b"x").unwrap_err());
        assert!(
            err.starts_with(&format!("writing {}: ", blocked.display())),
            "{err}"
        );
        assert!(
            !dir.path().join("blocked.tmp").exists(),
            "temp file removed"
        );
    }

    /// The data is synced before the rename: a temp path whose writes cannot reach a disk
    /// (a link to /dev/null, which takes every byte and cannot be fsynced) fails the write
    /// instead of renaming an empty stand-in over the old file.
    #[test]
    fn a_write_that_cannot_be_synced_fails_and_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.json");
        write_atomic(&path, b"old").unwrap();
        std::os::unix::fs::symlink("/dev/null", dir.path().join("meta.json.tmp")).unwrap();
        let err = format!("{:#}", write_atomic(&path, b"new").unwrap_err());
        assert!(
            err.starts_with(&format!("writing {}: ", path.display())),
            "{err}"
        );
        assert!(err.contains("syncing"), "{err}");
        assert!(!path.symlink_metadata().unwrap().is_symlink());
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert!(dir.path().join("meta.json.tmp").symlink_metadata().is_err());
        // The next write goes through whole, in a file of its own.
        write_atomic(&path, &[7u8; 100_000]).unwrap();
        assert_eq!(fs::read(&path).unwrap(), vec![7u8; 100_000]);
    }
}
