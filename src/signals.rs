//! SIGINT (Ctrl-C) and SIGTERM (what `timeout`, Slurm, docker and systemd send) end a run the
//! same way: the first asks it to stop after its current row (flushed, `meta.json` says
//! `interrupted`, exit 128 + signal: 130 or 143); a second ends the process at once with that
//! code, without exit handlers (`process::exit` could block in OpenBLAS's exit-time cleanup).
use std::sync::atomic::{AtomicI32, Ordering};

/// The first signal received (0: none).
static RECEIVED: AtomicI32 = AtomicI32::new(0);

/// Install the handlers (once, at start-up).
pub fn install() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: installs an async-signal-safe handler (atomics, write(2), _exit(2) only).
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as *const () as usize;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut());
        }
    }
}

extern "C" fn on_signal(sig: libc::c_int) {
    if RECEIVED
        .compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        // SAFETY: _exit is async-signal-safe and skips atexit handlers.
        unsafe { libc::_exit(128 + RECEIVED.load(Ordering::SeqCst)) };
    }
    let msg: &[u8] = if sig == libc::SIGTERM {
        b"\nSIGTERM: finishing the current row (send it again to abort now)\n"
    } else {
        b"\nCtrl-C: finishing the current row (press again to abort now)\n"
    };
    // SAFETY: write(2) to stderr is async-signal-safe; a short write only shortens the notice.
    unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
}

/// The signal that interrupted this process, if one did.
pub fn received() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        sig => Some(sig),
    }
}

/// The exit code of a process interrupted by `sig`: 128 + its number (130 for Ctrl-C).
pub fn exit_code(sig: Option<i32>) -> i32 {
    128 + sig.unwrap_or(libc::SIGINT)
}

/// "Ctrl-C" or "SIGTERM", for messages.
pub fn name(sig: Option<i32>) -> &'static str {
    match sig {
        Some(libc::SIGTERM) => "SIGTERM",
        _ => "Ctrl-C",
    }
}
