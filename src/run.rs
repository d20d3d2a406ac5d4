//! A run directory: resolved `config.yaml`, `metrics.csv` flushed per row, `summary.json`,
//! `meta.json` (status completed/failed/interrupted), plus progress output and Ctrl-C handling.
use crate::cli::RunArgs;
use crate::error::{usage, Interrupted};
use anyhow::{Context, Result};
use serde::Serialize;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

pub use crate::progress::Progress;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Install the Ctrl-C handler: the first press asks the run to stop after its current row,
/// a second one exits at once.
pub fn install_ctrlc() {
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\nCtrl-C: finishing the current row (press again to abort now)");
    });
}

/// True once Ctrl-C was pressed.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
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
}

impl Run {
    /// Create the run directory (never overwriting another run unless `--force`), write the
    /// resolved config and a `running` meta.json.
    pub fn create(sub: &str, args: &RunArgs, resolved_yaml: &str, seed: u64) -> Result<Run> {
        let dir = run_dir(sub, args)?;
        fs::write(dir.join("config.yaml"), resolved_yaml)?;
        let meta = Meta {
            lab_version: env!("CARGO_PKG_VERSION").into(),
            git_commit: env!("LAB_GIT_COMMIT").into(),
            subcommand: sub.into(),
            args: std::env::args().collect(),
            seed,
            device: String::new(),
            threads: 0,
            torch_threads: None,
            libtorch: String::new(),
            blas: None,
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
        Metrics::create(&self.path(file), columns)
    }

    pub fn write_summary<T: Serialize>(&self, summary: &T) -> Result<()> {
        write_json(&self.path("summary.json"), summary)
    }

    /// Progress display for `total` steps, honouring `--quiet` and non-TTY stderr.
    pub fn progress(&self, total: u64, label: &str) -> Progress {
        Progress::new(total, label, self.quiet)
    }

    /// Error out with [`Interrupted`] once Ctrl-C was pressed; call between rows.
    pub fn check_interrupt(&self) -> Result<()> {
        if interrupted() {
            return Err(Interrupted.into());
        }
        Ok(())
    }

    /// Final meta.json: status from the outcome, the error message if any.
    pub fn finish(mut self, outcome: &Result<()>) -> Result<()> {
        self.meta.end_time = Some(now());
        self.meta.duration_s = Some(self.started.elapsed().as_secs_f64());
        self.meta.status = match outcome {
            Ok(()) => "completed".into(),
            Err(e) if e.downcast_ref::<Interrupted>().is_some() => "interrupted".into(),
            Err(_) => "failed".into(),
        };
        self.meta.error = outcome.as_ref().err().map(|e| format!("{e:#}"));
        self.write_meta()
    }

    fn write_meta(&self) -> Result<()> {
        write_json(&self.path("meta.json"), &self.meta)
    }
}

fn now() -> String {
    chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// Write pretty JSON with [`write_atomic`].
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    write_atomic(path, (text + "\n").as_bytes())
}

/// Write `bytes` to `path` atomically: into `<path>.tmp` beside it, then rename over `path`, so
/// a reader never sees a half-written file. An error names `path`; the temp file is removed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let done = fs::write(&tmp, bytes).and_then(|()| fs::rename(&tmp, path));
    if done.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    done.with_context(|| format!("writing {}", path.display()))
}

/// Pick and create the run directory: `--out`, else results/<sub>/<name or timestamp-id>.
fn run_dir(sub: &str, args: &RunArgs) -> Result<PathBuf> {
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
    if dir.exists() {
        if !args.force {
            return Err(usage(format!(
                "run directory {} already exists; pick another --name/--out, or --force to replace it",
                dir.display()
            )));
        }
        let is_run = dir.join("meta.json").exists();
        let empty = fs::read_dir(&dir)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if !is_run && !empty {
            return Err(usage(format!(
                "refusing to --force over {}: it is not a lab run directory (no meta.json)",
                dir.display()
            )));
        }
        fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    // create_dir (not _all) fails if another process created the same dir meanwhile.
    fs::create_dir(&dir).with_context(|| format!("creating run directory {}", dir.display()))?;
    Ok(dir)
}

/// A CSV file with a fixed header, one flushed row per call. The step is the `iter`, `step` or
/// `env_steps` column if there is one, else the first column.
/// Timing columns are named by [`is_timing_column`] (excluded from determinism comparisons).
pub struct Metrics {
    writer: csv::Writer<File>,
    columns: Vec<String>,
    step_column: usize,
}

impl Metrics {
    pub fn create(path: &Path, columns: &[&str]) -> Result<Metrics> {
        let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let mut writer = csv::Writer::from_writer(file);
        writer.write_record(columns)?;
        writer.flush()?;
        let step_column = ["iter", "step", "env_steps"]
            .iter()
            .find_map(|name| columns.iter().position(|c| c == name))
            .unwrap_or(0);
        Ok(Metrics {
            writer,
            columns: columns.iter().map(|c| c.to_string()).collect(),
            step_column,
        })
    }

    /// An empty row with this file's columns, to fill by name and pass to [`Metrics::write`].
    pub fn new_row(&self) -> Row {
        Row {
            columns: self.columns.clone(),
            cells: vec![String::new(); self.columns.len()],
        }
    }

    /// Write a row built by [`Metrics::new_row`]; see [`Metrics::cells`].
    pub fn write(&mut self, row: &Row) -> Result<()> {
        anyhow::ensure!(
            row.columns == self.columns,
            "internal: a row built for other columns"
        );
        self.cells(&row.cells)
    }

    /// Write one row of numbers; see [`Metrics::cells`].
    pub fn row(&mut self, values: &[f64]) -> Result<()> {
        let cells: Vec<String> = values.iter().map(|v| fmt_num(*v)).collect();
        self.cells(&cells)
    }

    /// Write one row of ready cells: numbers as [`fmt_num`] prints them, text, or empty. A
    /// NaN/inf number is written, then reported as an error naming the column and the step, so
    /// the run stops with every earlier row kept.
    pub fn cells(&mut self, cells: &[String]) -> Result<()> {
        anyhow::ensure!(
            cells.len() == self.columns.len(),
            "internal: {} values for {} columns",
            cells.len(),
            self.columns.len()
        );
        self.writer.write_record(cells)?;
        self.writer.flush()?;
        let non_finite = |c: &String| matches!(c.as_str(), "NaN" | "inf" | "-inf");
        if let Some(i) = cells.iter().position(non_finite) {
            anyhow::bail!(
                "non-finite value ({}) in column `{}` at {} {}; stopping (rows so far are kept)",
                cells[i],
                self.columns[i],
                self.columns[self.step_column],
                cells[self.step_column]
            );
        }
        Ok(())
    }
}

/// One metrics row under construction, cells named by column; every cell starts empty (an
/// empty cell is a metric this row does not have). Naming an unknown column is a bug in the
/// caller and panics with the name.
#[derive(Debug, Clone)]
pub struct Row {
    columns: Vec<String>,
    cells: Vec<String>,
}

impl Row {
    fn index(&self, name: &str) -> usize {
        self.columns
            .iter()
            .position(|c| c == name)
            .unwrap_or_else(|| panic!("internal: unknown metrics column `{name}`"))
    }

    pub fn text(&mut self, name: &str, value: &str) -> &mut Self {
        let i = self.index(name);
        self.cells[i] = value.to_string();
        self
    }

    pub fn num(&mut self, name: &str, value: f64) -> &mut Self {
        let i = self.index(name);
        self.cells[i] = fmt_num(value);
        self
    }

    /// A number when there is one; the cell stays empty otherwise.
    pub fn opt(&mut self, name: &str, value: Option<f64>) -> &mut Self {
        if let Some(v) = value {
            self.num(name, v);
        }
        self
    }

    /// The cell of column `name` as written (empty when unset).
    pub fn get(&self, name: &str) -> &str {
        &self.cells[self.index(name)]
    }
}

/// Timing columns (wall-clock seconds, milliseconds, rates per second) end in one of these;
/// they are the columns that differ between two runs of the same config and seed.
pub const TIMING_SUFFIXES: &[&str] = &["_s", "_ms"];

/// Whether metrics column `name` holds a wall-clock timing (see [`TIMING_SUFFIXES`]).
pub fn is_timing_column(name: &str) -> bool {
    TIMING_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// Integers print without a fraction; other numbers with full round-trip precision.
pub fn fmt_num(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_non_finite_metric_is_written_then_reported_with_its_step() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.csv");
        let mut m = Metrics::create(&path, &["algo", "iter", "loss"]).unwrap();
        m.cells(&["pg".into(), "1".into(), "".into()]).unwrap();
        m.row(&[0.0, 2.0, 0.5]).unwrap();
        let err = m.row(&[0.0, 3.0, f64::NAN]).unwrap_err().to_string();
        assert!(err.contains("column `loss` at iter 3"), "{err}");
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "algo,iter,loss\npg,1,\n0,2,0.5\n0,3,NaN\n");
        assert!(m.row(&[1.0]).is_err(), "row width is checked");
    }

    #[test]
    fn named_rows_fill_their_columns_and_leave_the_rest_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.csv");
        let mut m = Metrics::create(&path, &["algo", "iter", "loss", "wall_s"]).unwrap();
        let mut row = m.new_row();
        row.text("algo", "pg").num("iter", 4.0).opt("loss", None);
        assert_eq!(row.get("iter"), "4");
        m.write(&row).unwrap();
        let other = Metrics::create(&dir.path().join("o.csv"), &["iter"]).unwrap();
        assert!(
            m.write(&other.new_row()).is_err(),
            "rows of another file are refused"
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "algo,iter,loss,wall_s\npg,4,,\n");
    }

    #[test]
    #[should_panic(expected = "unknown metrics column `los`")]
    fn a_misspelt_column_is_a_loud_bug() {
        let dir = tempfile::tempdir().unwrap();
        let m = Metrics::create(&dir.path().join("m.csv"), &["loss"]).unwrap();
        m.new_row().num("los", 1.0);
    }

    #[test]
    fn atomic_writes_replace_the_file_and_name_it_when_they_fail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        write_atomic(&path, b"old").unwrap();
        write_json(&path, &[1, 2]).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "[\n  1,\n  2\n]\n");
        assert!(
            !dir.path().join("state.json.tmp").exists(),
            "no temp file left"
        );
        let missing = dir.path().join("no-such-dir").join("c.json");
        let err = format!("{:#}", write_atomic(&missing, b"x").unwrap_err());
        assert!(
            err.starts_with(&format!("writing {}: ", missing.display())),
            "{err}"
        );
        let blocked = dir.path().join("blocked");
        fs::create_dir_all(blocked.join("inner")).unwrap();
        let err = format!("{:#}", write_atomic(&blocked, b"x").unwrap_err());
        assert!(
            err.starts_with(&format!("writing {}: ", blocked.display())),
            "{err}"
        );
        assert!(
            !dir.path().join("blocked.tmp").exists(),
            "temp file removed"
        );
    }

    #[test]
    fn timing_columns_are_named_by_suffix() {
        for c in ["wall_s", "steps_per_s", "update_ms", "solve_time_s"] {
            assert!(is_timing_column(c), "{c}");
        }
        for c in ["iter", "loss", "sps", "steps", "ms_count"] {
            assert!(!is_timing_column(c), "{c}");
        }
    }
}
