//! Progress on stderr: an indicatif bar with ETA on a TTY, plain periodic lines otherwise,
//! nothing with `--quiet`.
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

pub struct Progress {
    bar: Option<ProgressBar>,
    plain: Option<Plain>,
}

struct Plain {
    label: String,
    total: u64,
    started: Instant,
    last: Instant,
}

const PLAIN_EVERY: Duration = Duration::from_secs(5);

impl Progress {
    pub fn new(total: u64, label: &str, quiet: bool) -> Progress {
        if quiet {
            return Progress {
                bar: None,
                plain: None,
            };
        }
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(total);
            let style = ProgressStyle::with_template(
                "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} ETA {eta} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_prefix(label.to_string());
            return Progress {
                bar: Some(bar),
                plain: None,
            };
        }
        let now = Instant::now();
        let plain = Plain {
            label: label.into(),
            total,
            started: now,
            last: now,
        };
        Progress {
            bar: None,
            plain: Some(plain),
        }
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
                let secs = p.started.elapsed().as_secs_f64();
                eprintln!("{} {pos}/{} ({secs:.1}s) {msg}", p.label, p.total);
            }
        }
    }

    pub fn finish(&mut self, msg: &str) {
        if let Some(bar) = self.bar.take() {
            bar.finish_with_message(msg.to_string());
        }
        if let Some(p) = self.plain.take() {
            let secs = p.started.elapsed().as_secs_f64();
            eprintln!("{} done ({secs:.1}s) {msg}", p.label);
        }
    }
}
