//! Standard output and standard error that never panic. std's `println!` and `eprintln!` panic
//! when the stream fails: `lab report DIR | head -1` once `head` has exited (a broken pipe),
//! `> /dev/full`, a log reader that went away. That ended a completed run with exit 101 and a
//! backtrace, and a failed `eprintln!` of a progress line failed a run midway. The macros here
//! replace std's `print!`, `println!`, `eprint!` and `eprintln!` throughout the crate (lib.rs
//! declares this module first, so every other module sees them); the call sites are unchanged.
//! - stdout: a broken pipe means the reader has what it wanted, so the rest is dropped quietly
//!   and the exit status stays what the work gives. Any other failure (a full disk) is kept:
//!   `main` names it and exits 1 after the work is done (a run's results are all written).
//! - stderr (progress, notes, warnings, errors) is best effort: nothing stops for it.
//!
//! Unit tests keep std's macros, whose output the test harness captures.
use std::fmt::Arguments;
use std::io::{self, Write};
use std::sync::Mutex;

/// What became of standard output.
enum State {
    Open,
    /// The reader closed the pipe: nothing more is written, and that is no error.
    Closed,
    /// A write failed otherwise; the message.
    Failed(String),
}

static STDOUT: Mutex<State> = Mutex::new(State::Open);

/// Write to standard output (flushed); a failure is kept for [`stdout_failure`], not raised.
pub fn out(args: Arguments) {
    let mut state = STDOUT.lock().unwrap_or_else(|p| p.into_inner());
    if !matches!(*state, State::Open) {
        return;
    }
    let mut stdout = io::stdout().lock();
    if let Err(e) = stdout.write_fmt(args).and_then(|()| stdout.flush()) {
        *state = match e.kind() {
            io::ErrorKind::BrokenPipe => State::Closed,
            _ => State::Failed(e.to_string()),
        };
    }
}

/// Write to standard error, ignoring a failure (there is nowhere left to report it).
pub fn err(args: Arguments) {
    let _ = io::stderr().lock().write_fmt(args);
}

/// Why writing to standard output failed, unless it did not or its reader closed the pipe.
pub fn stdout_failure() -> Option<String> {
    match &*STDOUT.lock().unwrap_or_else(|p| p.into_inner()) {
        State::Failed(why) => Some(why.clone()),
        State::Open | State::Closed => None,
    }
}

#[cfg(not(test))]
#[allow(unused_macros)]
macro_rules! print {
    ($($arg:tt)*) => { $crate::console::out(format_args!($($arg)*)) };
}

#[cfg(not(test))]
#[allow(unused_macros)]
macro_rules! println {
    () => { $crate::console::out(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::console::out(format_args!("{}\n", format_args!($($arg)*))) };
}

#[cfg(not(test))]
#[allow(unused_macros)]
macro_rules! eprint {
    ($($arg:tt)*) => { $crate::console::err(format_args!($($arg)*)) };
}

#[cfg(not(test))]
#[allow(unused_macros)]
macro_rules! eprintln {
    () => { $crate::console::err(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::console::err(format_args!("{}\n", format_args!($($arg)*))) };
}
