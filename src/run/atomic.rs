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

/// Write `path` atomically: `fill` writes the whole file to a fresh temp file beside it
/// ([`reserve_temp`]), which is fsynced, renamed over `path`, and then the directory is
/// fsynced, so a reader never sees a half-written file, a failed write (a full disk) leaves the
/// old file or none, and once this returns the new file survives a crash of the machine as well.
/// An error names `path`; the temp file is removed.
pub fn write_atomic_with(path: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let done = reserve_temp(path).and_then(|tmp| {
        let done = fill(&tmp)
            .and_then(|()| sync_file(&tmp))
            .and_then(|()| Ok(fs::rename(&tmp, path)?));
        if done.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        done
    });
    done.and_then(|()| sync_dir(path))
        .with_context(|| format!("writing {}", path.display()))
}

/// Create a new, empty temp file beside `path` (`.<name>.tmp-<pid>-<n>`) that no other file
/// had: the name is taken with O_EXCL, so a user's file that happens to be called like the
/// temp file is never written over, renamed or removed.
fn reserve_temp(path: &Path) -> Result<PathBuf> {
    reserve_temp_with(path, |tmp| {
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(tmp)
            .map(|_| ())
    })
}

/// Take the first free temp name beside `path` (`.<name>.tmp-<pid>-<n>`) with `create`, which
/// must fail with `AlreadyExists` on a name that is taken (`create_new`, `fs::create_dir`).
pub fn reserve_temp_with(
    path: &Path,
    create: impl Fn(&Path) -> std::io::Result<()>,
) -> Result<PathBuf> {
    let name = path
        .file_name()
        .with_context(|| format!("{} names no file", path.display()))?;
    let dir = path.parent().unwrap_or(Path::new(""));
    for n in 0..1000 {
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".tmp-{}-{n}", std::process::id()));
        let tmp = dir.join(tmp_name);
        match create(&tmp) {
            Ok(()) => return Ok(tmp),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("creating {}", tmp.display())),
        }
    }
    anyhow::bail!("no free temp name beside {}", path.display())
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

    /// Files in `dir` other than `keep`.
    fn others(dir: &Path, keep: &[&str]) -> Vec<String> {
        let mut left: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !keep.contains(&n.as_str()))
            .collect();
        left.sort();
        left
    }

    #[test]
    fn atomic_writes_replace_the_file_and_name_it_when_they_fail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        write_atomic(&path, b"old").unwrap();
        write_json(&path, &[1, 2]).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "[\n  1,\n  2\n]\n");
        assert_eq!(others(dir.path(), &["state.json"]), Vec::<String>::new());
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
        assert_eq!(
            others(dir.path(), &["state.json", "blocked"]),
            Vec::<String>::new(),
            "temp file removed"
        );
    }

    /// A user's files named like temp files (`meta.json.tmp`, the old fixed name, and this
    /// process's first temp name) are neither read, written, renamed nor removed.
    #[test]
    fn files_named_like_the_temp_file_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.json");
        let first = format!(".meta.json.tmp-{}-0", std::process::id());
        for name in ["meta.json.tmp", first.as_str()] {
            fs::write(dir.path().join(name), b"user's").unwrap();
        }
        write_atomic(&path, b"old").unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        for name in ["meta.json.tmp", first.as_str()] {
            assert_eq!(
                fs::read(dir.path().join(name)).unwrap(),
                b"user's",
                "{name}"
            );
        }
        assert_eq!(
            others(dir.path(), &["meta.json", "meta.json.tmp", &first]),
            Vec::<String>::new()
        );
    }

    /// The data is synced before the rename: a file whose writes cannot reach a disk (a link
    /// to /dev/null, which takes every byte and cannot be fsynced) is an error, so a write
    /// through it fails instead of renaming an empty stand-in over the old file.
    #[test]
    fn a_file_that_cannot_be_synced_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("null");
        std::os::unix::fs::symlink("/dev/null", &link).unwrap();
        let err = format!("{:#}", sync_file(&link).unwrap_err());
        assert!(err.contains("syncing"), "{err}");
        let path = dir.path().join("meta.json");
        write_atomic(&path, b"old").unwrap();
        let err = write_atomic_with(&path, |tmp| {
            fs::remove_file(tmp)?;
            std::os::unix::fs::symlink("/dev/null", tmp)?;
            Ok(())
        })
        .unwrap_err();
        let err = format!("{err:#}");
        assert!(
            err.starts_with(&format!("writing {}: ", path.display())),
            "{err}"
        );
        assert!(err.contains("syncing"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert_eq!(
            others(dir.path(), &["meta.json", "null"]),
            Vec::<String>::new()
        );
        write_atomic(&path, &[7u8; 100_000]).unwrap();
        assert_eq!(fs::read(&path).unwrap(), vec![7u8; 100_000]);
    }
}
