//! Who owns a run directory: the live `lab` process that writes it (its `run.lock`, or the
//! host and pid in its meta.json), and what `--force` does with one that nobody writes.
use super::lock;
use crate::error::usage;
use anyhow::{Context, Result};
use std::fs;
use std::path::{Path, PathBuf};

pub(super) fn read_meta(dir: &Path) -> Option<serde_json::Value> {
    let text = crate::input::read_result(&dir.join("meta.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// Whether `dir` is a lab run: its meta.json is one lab wrote (JSON with `lab_version`);
/// another tool's meta.json does not count.
pub(super) fn is_lab_run(dir: &Path) -> bool {
    read_meta(dir).is_some_and(|m| m.get("lab_version").is_some())
}

/// What `--force` does with an existing run or study directory: refuse one that a live lab
/// process holds (its `run.lock`) or, for runs from before the lock, that meta.json says a live
/// lab process on this host is writing; remove an empty one; move any other aside to
/// `<dir>.replaced-<time>`, never deleting it (it may hold the user's notes and analyses).
/// Returns where it went, if it was moved.
pub fn set_aside(dir: &Path) -> Result<Option<PathBuf>> {
    if let Some(pid) = lock::holder(dir, lock::RUN_LOCK) {
        return Err(usage(format!(
            "refusing to --force over {}: lab process {pid} is still writing it (it holds {})",
            dir.display(),
            dir.join(lock::RUN_LOCK).display()
        )));
    }
    if let Some(meta) = read_meta(dir) {
        let running = meta.get("status").and_then(|s| s.as_str()) == Some("running");
        let host = meta.get("host").and_then(|h| h.as_str());
        let pid = meta.get("pid").and_then(|p| p.as_u64());
        if running && writer_alive(host, pid) == Some(true) {
            return Err(usage(format!(
                "refusing to --force over {}: lab process {} is still writing it",
                dir.display(),
                pid.unwrap_or_default()
            )));
        }
    }
    let aside = move_aside(dir)?;
    if let Some(aside) = &aside {
        eprintln!(
            "--force: the old {} is now {}",
            dir.display(),
            aside.display()
        );
    }
    Ok(aside)
}

/// Remove `dir` if it is empty, else rename it to `<dir>.replaced-<time>` (never deleting
/// anything in it) and return the new path. The caller has made sure no lab process writes it.
pub fn move_aside(dir: &Path) -> Result<Option<PathBuf>> {
    if fs::remove_dir(dir).is_ok() {
        return Ok(None); // it was empty
    }
    let aside = aside_name(dir);
    fs::rename(dir, &aside).with_context(|| format!("moving {} aside", dir.display()))?;
    Ok(Some(aside))
}

/// A free name beside `path` for its old version: `<name>.replaced-<time>`, `-2`, `-3`, ...
/// A name near the 255-byte limit is shortened (at a character boundary) so that the new
/// name fits: renaming to a longer one failed with "File name too long" after the new run's
/// checks had passed.
pub fn aside_name(path: &Path) -> PathBuf {
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let name = name.unwrap_or_default();
    let named = |k: usize| {
        let tail = match k {
            1 => format!(".replaced-{stamp}"),
            k => format!(".replaced-{stamp}-{k}"),
        };
        let mut keep = super::nest::NAME_MAX
            .saturating_sub(tail.len())
            .min(name.len());
        while !name.is_char_boundary(keep) {
            keep -= 1;
        }
        path.with_file_name(format!("{}{tail}", &name[..keep]))
    };
    (1..)
        .map(named)
        .find(|aside| aside.symlink_metadata().is_err())
        .expect("some numbered name is free")
}

/// This machine's host name (empty if it cannot be read).
pub fn this_host() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into our buffer.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    if ok {
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        String::new()
    }
}

/// Whether the process a meta.json names (`host`, `pid`) still runs: known only on the host
/// that wrote it (`None` elsewhere, and for runs from before `pid` was recorded).
pub fn writer_alive(host: Option<&str>, pid: Option<u64>) -> Option<bool> {
    match (host, pid) {
        (Some(host), Some(pid)) if host == this_host() => Some(lab_process_alive(pid as u32)),
        _ => None,
    }
}

/// Whether a `lab` process with this pid runs on this machine: it exists and its name is
/// `lab` (so a recycled pid of another program does not count) and it is not a zombie (an
/// orphan's exit that a container's init never reaps).
fn lab_process_alive(pid: u32) -> bool {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let zombie = stat
        .rsplit_once(") ")
        .is_some_and(|(_, rest)| rest.starts_with('Z'));
    comm.trim_end() == "lab" && !zombie
}
