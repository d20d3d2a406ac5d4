//! Error kinds that decide the exit code: 2 for usage/config errors, 130 for Ctrl-C and 143
//! for SIGTERM, 101 for a panic caught in a run, 1 otherwise.
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

/// A panic inside a run, caught by [`catch_panic`] so that the run still ends with an honest
/// `meta.json` (exit code 101, Rust's own for a panic). Always a bug in lab.
#[derive(Debug)]
pub struct Panicked(pub String);

impl std::fmt::Display for Panicked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "internal error: {} (a bug in lab; please report it with this run's config.yaml)",
            self.0
        )
    }
}
impl std::error::Error for Panicked {}

/// `body()`, with a panic turned into a [`Panicked`] error carrying the panic's message (the
/// panic hook has printed it, with its location, already).
pub fn catch_panic<T>(body: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".into());
        Err(anyhow::Error::new(Panicked(message)))
    })
}

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
    } else if err.downcast_ref::<Panicked>().is_some() {
        101
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_in_a_run_becomes_an_error_with_its_message_and_exit_101() {
        let err = catch_panic::<()>(|| panic!("index {} out of range", 7)).unwrap_err();
        assert_eq!(exit_code(&err), 101);
        let text = format!("{err:#}");
        assert!(
            text.starts_with("internal error: index 7 out of range"),
            "{text}"
        );
        let err = catch_panic::<()>(|| std::panic::panic_any(3_u8)).unwrap_err();
        assert!(
            format!("{err}").contains("a panic without a message"),
            "{err}"
        );
    }

    #[test]
    fn without_a_panic_the_body_s_own_result_comes_back() {
        assert_eq!(catch_panic(|| Ok(5)).unwrap(), 5);
        let err = catch_panic::<()>(|| Err(usage("bad key"))).unwrap_err();
        assert_eq!(exit_code(&err), 2);
    }
}
