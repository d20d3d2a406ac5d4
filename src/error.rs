//! Error kinds that decide the exit code: 2 for usage/config errors, 130 for Ctrl-C and 143
//! for SIGTERM, 1 otherwise.
use crate::signals;

/// A mistake in how `lab` was called or configured (exit code 2).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for UsageError {}

/// The run was stopped by Ctrl-C or SIGTERM after its last row was flushed (exit code 130 or
/// 143).
#[derive(Debug)]
pub struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "interrupted by {}", signals::name(signals::received()))
    }
}
impl std::error::Error for Interrupted {}

/// Shorthand: an `anyhow::Error` carrying a [`UsageError`].
pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(msg.into()))
}

/// Exit code for an error returned by a subcommand.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    if err.downcast_ref::<UsageError>().is_some() {
        2
    } else if err.downcast_ref::<Interrupted>().is_some() {
        signals::exit_code(signals::received())
    } else {
        1
    }
}
