//! A run directory: resolved `config.yaml`, `metrics.csv` flushed per row, `summary.json`,
//! `meta.json` (status completed/failed/interrupted), plus progress output; interruption by
//! Ctrl-C or SIGTERM is checked between rows.
use crate::cli::RunArgs;
use crate::error::{usage, Interrupted};
use anyhow::{Context, Result};
use serde::Serialize;
use std::fs;
use std::path::{Path, PathBuf};

mod atomic;
mod carry;
pub mod lock;
mod metrics;
mod nest;
mod owner;

pub use crate::progress::Progress;
pub use atomic::{reserve_temp_with, write_atomic, write_atomic_with, write_json};
pub use carry::{carry_rows, carry_rows_blanking, Upto};
pub use metrics::{fmt_num, is_timing_column, Metrics, Row, TIMING_SUFFIXES};
pub use nest::{name_fits, no_run_above};
use owner::is_lab_run;
pub use owner::{aside_name, move_aside, set_aside, this_host, writer_alive};

/// True once SIGINT or SIGTERM was received (see [`crate::signals`]).
pub fn interrupted() -> bool {
    crate::signals::received().is_some()
}

/// Everything recorded in `meta.json`.
#[derive(Serialize, Clone, Debug)]
pub struct Meta {
    pub lab_version: String,
    pub git_commit: String,
    pub subcommand: String,
    pub args: Vec<String>,
    pub seed: u64,
    pub device: String,
    /// OpenBLAS threads (and libtorch's unless `torch_threads` says otherwise).
    pub threads: usize,
    /// libtorch threads when the experiment's config sets its own count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub torch_threads: Option<usize>,
    /// What of libtorch the run loaded: `none`, `cpu` or `cpu+cuda`.
    pub libtorch: String,
    /// The library answering ndarray-linalg's BLAS/LAPACK calls, and its thread count.
    pub blas: Option<crate::device::Blas>,
    /// The MuJoCo library version (`mj_versionString`) when the run used a MuJoCo task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mujoco: Option<String>,
    /// The process writing the run, so readers can tell a live run from a dead one.
    pub pid: u32,
    pub host: String,
    pub start_time: String,
    pub end_time: Option<String>,
    pub duration_s: Option<f64>,
    pub status: String,
    pub error: Option<String>,
}

/// An open run directory.
pub struct Run {
    pub dir: PathBuf,
    pub quiet: bool,
    meta: Meta,
    started: std::time::Instant,
    /// The old run `--force` moved aside for this one (put back by [`Run::discard`]).
    replaced: Option<PathBuf>,
    /// The end of the run's progress bar, printed by [`Run::finish`] with the whole time.
    progress_end: crate::progress::Finished,
    /// Parent directories this run created (nearest first), removed by `discard` when empty.
    created: Vec<PathBuf>,
    /// `run.lock`, held while this process writes the directory.
    _lock: lock::DirLock,
    /// Rows of the run's own work written to its CSVs ([`Run::fresh_rows`]).
    fresh_rows: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Run {
    /// Create the run directory (never overwriting another run unless `--force`), write the
    /// resolved config and a `running` meta.json.
    pub fn create(sub: &str, args: &RunArgs, resolved_yaml: &str, seed: u64) -> Result<Run> {
        let (dir, replaced, created) = run_dir(sub, args)?;
        let _lock = lock::DirLock::try_take(&dir, lock::RUN_LOCK)?.map_err(|pid| {
            usage(format!(
                "run directory {} is being written by lab process {pid}",
                dir.display()
            ))
        })?;
        write_atomic(&dir.join("config.yaml"), resolved_yaml.as_bytes())?;
        let meta = Meta {
            lab_version: env!("CARGO_PKG_VERSION").into(),
            git_commit: env!("LAB_GIT_COMMIT").into(),
            subcommand: sub.into(),
            // args_os: an argument that is not UTF-8 (a file name, Linux allows any bytes)
            // made std::env::args() panic; it is recorded with U+FFFD in place of those bytes.
            args: std::env::args_os()
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
            seed,
            device: String::new(),
            threads: 0,
            torch_threads: None,
            libtorch: String::new(),
            blas: None,
            mujoco: None,
            pid: std::process::id(),
            host: this_host(),
            start_time: now(),
            end_time: None,
            duration_s: None,
            status: "running".into(),
            error: None,
        };
        let run = Run {
            dir,
            quiet: args.quiet,
            meta,
            started: std::time::Instant::now(),
            replaced,
            created,
            progress_end: Default::default(),
            _lock,
            fresh_rows: Default::default(),
        };
        run.write_meta()?;
        Ok(run)
    }

    /// Record the device, thread counts, libtorch and BLAS actually used.
    pub fn set_device(
        &mut self,
        device: &str,
        threads: usize,
        torch_threads: Option<usize>,
        blas: crate::device::Blas,
    ) -> Result<()> {
        self.meta.device = device.into();
        self.meta.threads = threads;
        self.meta.torch_threads = torch_threads;
        self.meta.libtorch = crate::torch::loaded_name().into();
        self.meta.blas = Some(blas);
        self.write_meta()
    }

    /// Record the device the run computes on when it is not `--device`'s (a CPU-only
    /// backend under a CUDA device).
    pub fn set_compute_device(&mut self, device: &str) -> Result<()> {
        self.meta.device = device.into();
        self.write_meta()
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// Open a CSV in the run dir with the given columns; rows are flushed as written.
    pub fn csv(&self, file: &str, columns: &[&str]) -> Result<Metrics> {
        Ok(Metrics::create(&self.path(file), columns)?.counting_into(self.fresh_rows.clone()))
    }

    /// How many rows of its own work (not rows a resume carried over) the run's CSVs hold: a
    /// run that has any is kept when it fails, whatever the error.
    pub fn fresh_rows(&self) -> u64 {
        self.fresh_rows.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn write_summary<T: Serialize>(&self, summary: &T) -> Result<()> {
        write_json(&self.path("summary.json"), summary)
    }

    /// Progress display for `total` steps, honouring `--quiet` and non-TTY stderr.
    pub fn progress(&self, total: u64, label: &str) -> Progress {
        Progress::new(total, label, self.quiet).ending_in(self.progress_end.clone())
    }

    /// Error out with [`Interrupted`] once Ctrl-C or SIGTERM came; call between rows.
    pub fn check_interrupt(&self) -> Result<()> {
        if interrupted() {
            return Err(Interrupted.into());
        }
        Ok(())
    }

    /// Final meta.json: status from the outcome, the error message if any. The end line
    /// (`... done in`) is printed only after meta.json is written; if it cannot be (a full
    /// disk), the run failed: that is tried once more, printed, and returned.
    pub fn finish(mut self, outcome: &Result<()>) -> Result<()> {
        crate::signals::last_words::clear();
        self.meta.end_time = Some(now());
        self.meta.duration_s = Some(self.started.elapsed().as_secs_f64());
        self.meta.status = match outcome {
            Ok(()) => "completed".into(),
            Err(e) if e.downcast_ref::<Interrupted>().is_some() => "interrupted".into(),
            Err(_) => "failed".into(),
        };
        self.meta.error = outcome.as_ref().err().map(|e| format!("{e:#}"));
        self.meta.mujoco = crate::rl::mujoco::used_version().map(String::from);
        // The final meta.json prepares no last words: what happens after it (a crash while
        // printing, a late Ctrl-C) does not change how the run ended.
        let written = write_json(&self.path("meta.json"), &self.meta);
        if let Err(e) = &written {
            self.meta.status = "failed".into();
            self.meta.error.get_or_insert_with(|| format!("{e:#}"));
            let _ = write_json(&self.path("meta.json"), &self.meta);
        }
        self.print_end();
        written
    }

    /// Remove this run's directory (it holds only what lab wrote for it), the empty parent
    /// directories it created, and put back the old run `--force` moved aside: a usage error
    /// (exit 2) found by the run leaves nothing.
    pub fn discard(self) -> Result<()> {
        crate::signals::last_words::clear();
        fs::remove_dir_all(&self.dir)
            .with_context(|| format!("removing run directory {}", self.dir.display()))?;
        if let Some(old) = &self.replaced {
            fs::rename(old, &self.dir).with_context(|| format!("moving {} back", old.display()))?;
        }
        // The folders made for it (results/<subcommand>/...), if nothing else went in since.
        for parent in &self.created {
            if fs::remove_dir(parent).is_err() {
                break;
            }
        }
        Ok(())
    }

    /// `<subcommand> done in 11.7s (12 Newton steps in 1.1s)`: the whole run's time, and
    /// the progress phase's beside it (nothing with `--quiet` or without a progress bar).
    fn print_end(&self) {
        let end = self.progress_end.lock().ok().and_then(|mut e| e.take());
        let (Some((msg, phase_s)), false) = (end, self.quiet) else {
            return;
        };
        let total = self.meta.duration_s.unwrap_or_default();
        let status = match self.meta.status.as_str() {
            "completed" => "done",
            other => other,
        };
        let sub = &self.meta.subcommand;
        eprintln!("{sub} {status} in {total:.1}s ({msg} in {phase_s:.1}s)");
    }

    /// Write meta.json, and prepare what it says if the process dies before [`Run::finish`].
    fn write_meta(&self) -> Result<()> {
        let path = self.path("meta.json");
        write_json(&path, &self.meta)?;
        crate::signals::last_words::prepare(&path, |sig| self.last_words(sig));
        Ok(())
    }

    /// meta.json for a process ended by `sig` before [`Run::finish`] (see
    /// [`crate::signals::last_words`]): interrupted by a second Ctrl-C / SIGTERM, failed by a
    /// fault. The end time stays unset: a signal handler cannot read the clock's time zone.
    fn last_words(&self, sig: i32) -> Vec<u8> {
        use crate::signals::last_words::{signal_name, ABORTS};
        let mut meta = self.meta.clone();
        let name = signal_name(sig);
        if ABORTS.contains(&sig) {
            meta.status = "interrupted".into();
            meta.error = Some(format!(
                "aborted by a second signal ({name}) before the row in progress was finished"
            ));
        } else {
            meta.status = "failed".into();
            meta.error = Some(format!(
                "crashed with {name} (a fault in lab or a library it calls, or a stack \
                 overflow; please report it with this run's config.yaml)"
            ));
        }
        let text = serde_json::to_string_pretty(&meta).unwrap_or_default();
        (text + "\n").into_bytes()
    }
}

/// The time now, to the millisecond (so the start and end times of short runs that a study
/// ran side by side, or one after the other, can be told apart).
fn now() -> String {
    chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
}

/// Pick and create the run directory: `--out`, else results/<sub>/<name or timestamp-id>.
/// The run directory, created empty, and where `--force` moved an old run to.
fn run_dir(sub: &str, args: &RunArgs) -> Result<(PathBuf, Option<PathBuf>, Vec<PathBuf>)> {
    let dir = match (&args.out, &args.name) {
        (Some(out), _) => out.clone(),
        (None, Some(name)) => {
            if name.is_empty() || name.contains('/') || name.starts_with('.') {
                return Err(usage(format!(
                    "--name `{name}`: use a plain directory name"
                )));
            }
            Path::new("results").join(sub).join(name)
        }
        (None, None) => {
            let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
            let id: u32 = rand::random();
            Path::new("results")
                .join(sub)
                .join(format!("{stamp}-{:06x}", id & 0xff_ffff))
        }
    };
    nest::name_fits(&dir, "run", args.out.is_some())?;
    no_run_above(&dir, "run", args.out.is_some())?;
    let mut replaced = None;
    if dir.exists() {
        if !args.force {
            return Err(usage(format!(
                "run directory {} already exists; pick another --name/--out, or --force to replace it",
                dir.display()
            )));
        }
        let is_run = is_lab_run(&dir);
        let empty = fs::read_dir(&dir)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if !is_run && !empty {
            return Err(usage(format!(
                "refusing to --force over {}: it is not a lab run directory (no meta.json)",
                dir.display()
            )));
        }
        replaced = set_aside(&dir)?;
    }
    no_file_above(&dir, "run", args.out.is_some())?;
    let created = missing_ancestors(&dir);
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    // create_dir (not _all) fails if another process created the same dir meanwhile.
    fs::create_dir(&dir).with_context(|| format!("creating run directory {}", dir.display()))?;
    Ok((dir, replaced, created))
}

/// A usage error when a folder above `dir` is a file (`--out notes.txt/run`), or `dir` or a
/// folder above it is a symbolic link that leads nowhere (its target missing, or a loop):
/// creating `dir` would fail with the system's bare "File exists" or "Not a directory".
/// `what` is `run` or `study`; `from_out` says whether `dir` came from `--out`.
pub fn no_file_above(dir: &Path, what: &str, from_out: bool) -> Result<()> {
    let given = if from_out { "--out " } else { "" };
    let dangling = |a: &&Path| !a.exists() && a.symlink_metadata().is_ok();
    if let Some(link) = dir.ancestors().find(dangling) {
        let target = fs::read_link(link).unwrap_or_default();
        return Err(usage(format!(
            "cannot create the {what} directory {given}{}: {} is a symbolic link to {}, which \
             leads nowhere (missing, or a loop of links); fix or remove the link, or pick \
             another folder",
            dir.display(),
            link.display(),
            target.display()
        )));
    }
    let Some(file) = dir.ancestors().skip(1).find(|a| a.exists() && !a.is_dir()) else {
        return Ok(());
    };
    Err(usage(format!(
        "cannot create the {what} directory {given}{}: {} is a file, not a directory",
        dir.display(),
        file.display()
    )))
}

/// The ancestors of `dir` that do not exist yet, nearest first.
fn missing_ancestors(dir: &Path) -> Vec<PathBuf> {
    dir.ancestors()
        .skip(1)
        .filter(|a| !a.as_os_str().is_empty())
        .take_while(|a| !a.exists())
        .map(Path::to_path_buf)
        .collect()
}

#[cfg(test)]
mod tests;
