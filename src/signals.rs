//! SIGINT (Ctrl-C) and SIGTERM (what `timeout`, Slurm, docker and systemd send) end a run the
//! same way: the first asks it to stop after its current row (flushed, `meta.json` says
//! `interrupted`, exit 128 + signal: 130 or 143); a second ends the process at once with that
//! code, without exit handlers (`process::exit` could block in OpenBLAS's exit-time cleanup).
//! SIGHUP (a study's child gets it when the study dies, see `study::runner`; a terminal sends
//! it when it closes) stops the run the same way, exit 129, but a repeat never aborts: the
//! kernel sends the parent-death signal again each time the orphan is handed to another
//! thread of the dying study.
//! A study forwards these signals to its child runs (registered with [`Children::add`]), which
//! run in their own process group so that a terminal's Ctrl-C reaches them once, not twice.
//! SIGXFSZ (a write past the shell's or Slurm's file-size limit, `ulimit -f`) is ignored, so
//! the write fails with "File too large" and the run ends `failed` naming the file, as on a
//! full disk, instead of being killed with a core dump and a `meta.json` stuck at `running`.
//! A process that dies early — a second signal, or a fault (SIGSEGV, SIGBUS, SIGILL, SIGFPE,
//! SIGABRT) — first writes its run's [`last_words`]: a `meta.json` saying how it ended.
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::OnceLock;

pub mod last_words;

/// The first signal received (0: none).
static RECEIVED: AtomicI32 = AtomicI32::new(0);

/// Install the handlers (once, at start-up).
pub fn install() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: installs an async-signal-safe handler (atomics, write(2), _exit(2) only).
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as *const () as usize;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut());
        }
    }
    // SAFETY: SIG_IGN for a signal whose only default is to end the process.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
    install_fault_handlers();
}

/// The fault handlers' predecessors (Rust's own SIGSEGV/SIGBUS handler reports a stack
/// overflow), in [`last_words::FAULTS`] order.
static PREVIOUS: OnceLock<[libc::sigaction; last_words::FAULTS.len()]> = OnceLock::new();

fn install_fault_handlers() {
    // SAFETY: sigaction with a zeroed struct fills in the current action.
    let mut previous: [libc::sigaction; last_words::FAULTS.len()] = unsafe { std::mem::zeroed() };
    for (sig, old) in last_words::FAULTS.iter().zip(&mut previous) {
        // SAFETY: reads the current action into `old`.
        unsafe { libc::sigaction(*sig, std::ptr::null(), old) };
    }
    if PREVIOUS.set(previous).is_err() {
        return; // installed already
    }
    for sig in last_words::FAULTS {
        // SAFETY: installs an async-signal-safe handler (see `on_fault`); on the alternate
        // stack where the thread has one (Rust's threads do), so a stack overflow reaches it.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_fault as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut());
        }
    }
}

/// A fault: the run's last words, then the signal's earlier handling. A real fault (the
/// kernel's, si_code > 0) goes back to the previous handler and returns, so the faulting
/// instruction runs again under it; a sent one (kill, raise, abort) is raised again under the
/// default action, which ends the process with that signal.
extern "C" fn on_fault(sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    last_words::speak(sig);
    // SAFETY: `info` is the kernel's siginfo for this delivery; sigaction(2) and raise(3) are
    // async-signal-safe; PREVIOUS was set before this handler was installed.
    unsafe {
        let sent = info.is_null() || (*info).si_code <= 0;
        let index = last_words::FAULTS.iter().position(|&s| s == sig);
        match (sent, PREVIOUS.get(), index) {
            (false, Some(previous), Some(k)) => {
                libc::sigaction(sig, &previous[k], std::ptr::null_mut());
            }
            _ => {
                libc::signal(sig, libc::SIG_DFL);
                libc::raise(sig);
            }
        }
    }
}

extern "C" fn on_signal(sig: libc::c_int) {
    if RECEIVED
        .compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        if sig == libc::SIGHUP {
            return; // a repeated parent-death signal, not a user's second signal
        }
        forward(sig, true);
        last_words::speak(sig);
        // SAFETY: _exit is async-signal-safe and skips atexit handlers.
        unsafe { libc::_exit(128 + RECEIVED.load(Ordering::SeqCst)) };
    }
    forward(sig, false);
    let msg: &[u8] = if sig == libc::SIGTERM {
        b"\nSIGTERM: finishing the current row (send it again to abort now)\n"
    } else if sig == libc::SIGHUP {
        b"\nSIGHUP: finishing the current row\n"
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

/// "Ctrl-C", "SIGTERM" or "SIGHUP", for messages.
pub fn name(sig: Option<i32>) -> &'static str {
    match sig {
        Some(libc::SIGTERM) => "SIGTERM",
        Some(libc::SIGHUP) => "SIGHUP",
        _ => "Ctrl-C",
    }
}

/// Slots for the pids of running child processes: a pid while it waits for a signal to be
/// forwarded, its negative once it was (so the first signal reaches each child once), 0 if free.
const MAX_CHILDREN: usize = 256;
static CHILDREN: [AtomicI32; MAX_CHILDREN] = [const { AtomicI32::new(0) }; MAX_CHILDREN];

/// Send `sig` to every registered child (async-signal-safe: atomics and kill(2)); `again`:
/// also to those that already had the first signal.
fn forward(sig: libc::c_int, again: bool) {
    for slot in &CHILDREN {
        let pid = slot.load(Ordering::SeqCst);
        let first = pid > 0
            && slot
                .compare_exchange(pid, -pid, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok();
        if first || (again && pid != 0) {
            // SAFETY: kill(2) is async-signal-safe.
            unsafe { libc::kill(pid.abs(), sig) };
        }
    }
}

/// A child process registered for signal forwarding while it runs; unregistered on drop.
pub struct Children {
    slot: Option<usize>,
}

impl Children {
    /// Register `pid`; if a signal came already, forward it now (once). With every slot taken
    /// the child is not forwarded to (it still dies with this process: PR_SET_PDEATHSIG).
    pub fn add(pid: u32) -> Children {
        let Ok(pid) = i32::try_from(pid) else {
            return Children { slot: None };
        };
        let slot = CHILDREN.iter().position(|s| {
            s.compare_exchange(0, pid, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        });
        if let (Some(sig), Some(k)) = (received(), slot) {
            if CHILDREN[k]
                .compare_exchange(pid, -pid, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                // SAFETY: kill(2) on the pid of a child we have not yet waited for.
                unsafe { libc::kill(pid, sig) };
            }
        }
        Children { slot }
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        if let Some(k) = self.slot {
            CHILDREN[k].store(0, Ordering::SeqCst);
        }
    }
}
