//! A run's last words: the `meta.json` a process writes when it dies without reaching
//! `Run::finish` — aborted by a second Ctrl-C/SIGTERM, or crashing (SIGSEGV, SIGBUS, SIGILL,
//! SIGFPE, SIGABRT: a fault in lab or in a library it calls, or Rust's own abort on a stack
//! overflow). The text is serialized ahead of time, whenever the run writes its meta.json,
//! because a signal handler can only use async-signal-safe calls: it opens a fresh temp file
//! beside meta.json (O_EXCL), writes the prepared bytes and renames it over meta.json.
//! Rows already written stay as they are: they were flushed when written.
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

/// The prepared `meta.json` texts of one run, one per signal that can end it early.
pub struct LastWords {
    path: CString,
    tmp: CString,
    by_signal: Vec<(libc::c_int, Vec<u8>)>,
}

/// The current run's last words (null: none, or already written).
static CURRENT: AtomicPtr<LastWords> = AtomicPtr::new(ptr::null_mut());

/// The signals whose delivery writes last words: the two that abort on their second
/// delivery, then the faults.
pub const ABORTS: [libc::c_int; 2] = [libc::SIGINT, libc::SIGTERM];
pub const FAULTS: [libc::c_int; 5] = [
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGILL,
    libc::SIGFPE,
    libc::SIGABRT,
];

/// Prepare the last words of the run whose `meta.json` is `path`: `text(sig)` is the whole
/// file for a death by `sig` (see [`ABORTS`], [`FAULTS`]; empty: leave meta.json as it is). Replaces the previous ones; a
/// path that cannot be a C string (an interior NUL) prepares nothing.
pub fn prepare(path: &Path, text: impl Fn(libc::c_int) -> Vec<u8>) {
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(path.file_name().unwrap_or_default());
    tmp_name.push(format!(".tmp-{}-last", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let (Ok(path), Ok(tmp)) = (
        CString::new(path.as_os_str().as_bytes()),
        CString::new(tmp.as_os_str().as_bytes()),
    ) else {
        return;
    };
    let by_signal = ABORTS
        .iter()
        .chain(&FAULTS)
        .map(|&s| (s, text(s)))
        .collect();
    let words = Box::into_raw(Box::new(LastWords {
        path,
        tmp,
        by_signal,
    }));
    // The old words are leaked, not freed: a handler on another thread may be reading them.
    // A run prepares a handful.
    CURRENT.swap(words, Ordering::SeqCst);
}

/// Forget the current run's last words (its own final meta.json is about to be written).
pub fn clear() {
    CURRENT.swap(ptr::null_mut(), Ordering::SeqCst);
}

/// Write the last words for `sig`, at most once per process (async-signal-safe: atomics,
/// open(2), write(2), close(2), rename(2), unlink(2)).
pub fn speak(sig: libc::c_int) {
    let words = CURRENT.swap(ptr::null_mut(), Ordering::SeqCst);
    if words.is_null() {
        return;
    }
    // SAFETY: prepared words are never freed (see `prepare`).
    let words = unsafe { &*words };
    let Some((_, text)) = words.by_signal.iter().find(|(s, _)| *s == sig) else {
        return;
    };
    if text.is_empty() {
        return; // nothing was prepared for this signal
    }
    // SAFETY: NUL-terminated paths owned by `words`; only async-signal-safe calls.
    unsafe {
        let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC;
        let fd = libc::open(words.tmp.as_ptr(), flags, 0o644);
        if fd < 0 {
            return; // a file of that name exists (never ours to overwrite) or no space
        }
        let mut rest: &[u8] = text;
        while !rest.is_empty() {
            let n = libc::write(fd, rest.as_ptr().cast(), rest.len());
            if n <= 0 {
                break;
            }
            rest = &rest[n as usize..];
        }
        let whole = rest.is_empty() && libc::fsync(fd) == 0;
        libc::close(fd);
        if !whole || libc::rename(words.tmp.as_ptr(), words.path.as_ptr()) != 0 {
            libc::unlink(words.tmp.as_ptr()); // the old meta.json stays
        }
    }
}

/// "SIGSEGV", "SIGABRT", ... for the signals above ("a signal" for any other).
pub fn signal_name(sig: libc::c_int) -> &'static str {
    match sig {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGABRT => "SIGABRT",
        _ => "a signal",
    }
}
