//! Progress on stderr: an indicatif bar with ETA on a TTY, plain periodic lines otherwise,
//! nothing with `--quiet`. The bar always ends its line (it is cleared at the end and replaced
//! by one plain line), so what is printed next starts on a line of its own.
//!
//! A run's progress covers one phase (the solve, the training); the run goes on after it
//! (certificates, outputs). So a run's bar hands its "done" line to the run ([`Finished`]),
//! which prints it at the very end with the whole time and the phase's time beside it.
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Progress {
    label: String,
    started: Instant,
    bar: Option<ProgressBar>,
    plain: Option<Plain>,
    quiet: bool,
    finished: Option<Finished>,
}

struct Plain {
    total: u64,
    last: Instant,
}

/// Where a run's progress leaves its end: the finish message and the seconds the phase took.
pub type Finished = Arc<Mutex<Option<(String, f64)>>>;

const PLAIN_EVERY: Duration = Duration::from_secs(5);

impl Progress {
    pub fn new(total: u64, label: &str, quiet: bool) -> Progress {
        let now = Instant::now();
        let mut progress = Progress {
            label: label.into(),
            started: now,
            bar: None,
            plain: None,
            quiet,
            finished: None,
        };
        if quiet {
            return progress;
        }
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(total);
            let style = ProgressStyle::with_template(
                "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} ETA {eta} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_prefix(label.to_string());
            progress.bar = Some(bar);
        } else {
            progress.plain = Some(Plain { total, last: now });
        }
        progress
    }

    /// Leave the end to `slot` (printed by whoever owns it) instead of printing it here.
    pub fn ending_in(mut self, slot: Finished) -> Progress {
        self.finished = Some(slot);
        self
    }

    /// Report position `pos` with the run's key metric in `msg`.
    pub fn set(&mut self, pos: u64, msg: &str) {
        if let Some(bar) = &self.bar {
            bar.set_position(pos);
            bar.set_message(msg.to_string());
        }
        if let Some(p) = &mut self.plain {
            if p.last.elapsed() >= PLAIN_EVERY || pos == p.total {
                p.last = Instant::now();
                let secs = self.started.elapsed().as_secs_f64();
                eprintln!("{} {pos}/{} ({secs:.1}s) {msg}", self.label, p.total);
            }
        }
    }

    /// The phase is over: clear the bar and print (or hand on) one line saying so.
    pub fn finish(&mut self, msg: &str) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        self.plain = None;
        let secs = self.started.elapsed().as_secs_f64();
        if let Some(slot) = &self.finished {
            if let Ok(mut slot) = slot.lock() {
                *slot = Some((msg.to_string(), secs));
            }
        } else if !self.quiet {
            eprintln!("{} done in {secs:.1}s: {msg}", self.label);
        }
    }
}

impl Drop for Progress {
    /// A bar left unfinished (an interrupted study) stays visible and its line is ended.
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.abandon();
            eprintln!();
        }
    }
}
