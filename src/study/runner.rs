//! Run a study's runs as child `lab` processes, at most `--jobs` at a time, with one progress
//! display over all of them. A child that crashes only fails its own run. Children die with
//! their study: a signal to the study is forwarded to them, and on Linux they get SIGHUP when
//! the study dies (even by SIGKILL), so a `--resume` never races orphans of an earlier study.
//! Runs side by side must fit in memory together (see [`super::memory`]).
use super::memory::{MemoryNeed, Pool, Wait};
use crate::cli::RunArgs;
use crate::error::usage;
use crate::progress::Progress;
use crate::results::record::{StudyRecord, CELL_CONFIG};
use crate::run::lock::{self, RUN_LOCK};
use crate::signals;
use anyhow::{Context, Result};
use std::collections::VecDeque;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long a `--resume` waits for a run that another process still writes (a dying child of
/// an earlier study finishing its row) before it refuses.
const BUSY_WAIT: Duration = Duration::from_secs(5);

/// One run to do: `lab <sub> --config <cell.yaml> --seed <seed> --out <dir>`.
#[derive(Clone, Debug)]
struct Job {
    config: PathBuf,
    seed: u64,
    dir: PathBuf,
    /// The cell's estimated memory, if its subcommand gives one.
    memory: Option<MemoryNeed>,
}

#[derive(Debug)]
pub struct Failure {
    pub run: PathBuf,
    pub message: String,
}

/// What happened: runs planned (all cells × seeds), finished now or before, failures.
#[derive(Debug, Default)]
pub struct Outcome {
    pub planned: usize,
    pub finished: usize,
    pub failed: Vec<Failure>,
    pub interrupted: bool,
}

/// Meta status of a run dir, if it has a readable meta.json.
pub fn run_status(dir: &Path) -> Option<String> {
    let text = crate::input::read_result(&dir.join("meta.json")).ok()?;
    let meta: serde_json::Value = serde_json::from_str(&text).ok()?;
    meta.get("status")?.as_str().map(str::to_string)
}

/// Whether a run is done: its meta.json says `completed` and its summary.json reads (a
/// completed run that lost its summary is `broken` in the report, and runs again).
pub fn completed(dir: &Path) -> bool {
    run_status(dir).as_deref() == Some("completed")
        && crate::results::runs::broken_completed(dir).is_none()
}

/// Run every run of `record` under `dir` that is not already completed; `needs` holds each
/// cell's estimated memory (in the order of `record.cells`).
pub fn execute(
    dir: &Path,
    record: &StudyRecord,
    needs: &[Option<MemoryNeed>],
    args: &RunArgs,
) -> Result<Outcome> {
    let mut jobs = VecDeque::new();
    let mut outcome = Outcome::default();
    for (i, cell) in record.cells.iter().enumerate() {
        for &seed in &record.seeds {
            outcome.planned += 1;
            let run_dir = dir.join(StudyRecord::run_dir(&cell.name, seed));
            if args.resume_study() && completed(&run_dir) {
                outcome.finished += 1;
                continue;
            }
            refuse_if_written(&run_dir)?;
            jobs.push_back(Job {
                config: dir.join(&cell.name).join(CELL_CONFIG),
                seed,
                dir: run_dir,
                memory: needs.get(i).copied().flatten(),
            });
        }
    }
    let wanted = usize::try_from(args.jobs.unwrap_or(1)).unwrap_or(usize::MAX);
    let workers = wanted.clamp(1, jobs.len().max(1));
    if !args.quiet {
        eprintln!(
            "study {}: {} cells x {} seeds = {} runs ({} already completed, {} to run, {} at a time)",
            record.name,
            record.cells.len(),
            record.seeds.len(),
            outcome.planned,
            outcome.finished,
            jobs.len(),
            workers
        );
    }
    let base = base_command(&record.subcommand, args, workers)?;
    run_pool(jobs, workers, &base, args.quiet, &mut outcome);
    Ok(outcome)
}

/// A run directory another live process still writes (it holds `run.lock`): wait a little for
/// it to be released, then refuse, naming the directory and the writer's pid.
pub fn refuse_if_written(run_dir: &Path) -> Result<()> {
    let Some(pid) = lock::wait_released(run_dir, RUN_LOCK, BUSY_WAIT) else {
        return Ok(());
    };
    Err(usage(format!(
        "run {} is still being written by lab process {pid}; wait for it or stop it first",
        run_dir.display()
    )))
}

/// Move what an earlier, unfinished attempt left in `run_dir` to `<run_dir>.replaced-<time>`
/// (or remove it if empty), saying where it went, so a new attempt starts in an empty folder.
pub fn set_aside_attempt(run_dir: &Path) -> Result<()> {
    let aside = crate::run::move_aside(run_dir)
        .with_context(|| format!("could not clear {} for a new attempt", run_dir.display()))?;
    if let Some(aside) = aside {
        eprintln!(
            "study: the earlier attempt in {} is kept as {}",
            run_dir.display(),
            aside.display()
        );
    }
    Ok(())
}

/// The part of every child's command line that does not depend on the run.
fn base_command(sub: &str, args: &RunArgs, workers: usize) -> Result<Command> {
    let exe = std::env::current_exe().context("locating the lab executable")?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = args.threads.unwrap_or((cores / workers).max(1));
    let mut cmd = Command::new(exe);
    cmd.arg(sub)
        .args(["--quiet", "--device", &args.device])
        .args(["--threads", &threads.to_string()]);
    Ok(cmd)
}

fn child_command(base: &Command, job: &Job) -> Command {
    let mut cmd = Command::new(base.get_program());
    cmd.args(base.get_args())
        .arg("--config")
        .arg(&job.config)
        .args(["--seed", &job.seed.to_string()])
        .arg("--out")
        .arg(&job.dir)
        .stdin(Stdio::null()) // as `output()` had it; a background group must not read the tty
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0); // the study forwards signals to it (see `signals`)
    die_with_parent(&mut cmd);
    cmd
}

/// On Linux, the child gets SIGHUP when the study dies (and exits at once if it already did):
/// it stops like on SIGTERM, and ignores the repeats the kernel sends while the study's
/// threads die one by one (a repeated SIGTERM would abort it before it writes its meta.json).
#[cfg(target_os = "linux")]
fn die_with_parent(cmd: &mut Command) {
    // SAFETY: both calls are async-signal-safe, as required between fork and exec.
    let parent = unsafe { libc::getpid() };
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGHUP) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                libc::_exit(128 + libc::SIGHUP); // the study died before the prctl
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_cmd: &mut Command) {}

/// How one child run ended.
enum Ended {
    Completed,
    Failed(String),
    /// Stopped by Ctrl-C (the study's own, or a signal while the study was being interrupted).
    Interrupted,
}

/// Workers take jobs in order from a shared pool that starts a job only when its memory
/// estimate fits beside the running ones'; the calling thread shows progress as results come in.
fn run_pool(jobs: VecDeque<Job>, workers: usize, base: &Command, quiet: bool, out: &mut Outcome) {
    let total = jobs.len();
    let pool = Pool::new(jobs);
    let (tx, rx) = mpsc::channel();
    let mut progress = Progress::new(total as u64, "study", quiet);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let tx = tx.clone();
            let pool = &pool;
            scope.spawn(move || loop {
                let next = pool.take(
                    |job: &Job| job.memory,
                    crate::run::interrupted,
                    |wait| say_wait(&wait, quiet),
                );
                let Some((job, bytes)) = next else { break };
                let ended = run_child(base, &job);
                pool.release(bytes);
                if tx.send((job, ended)).is_err() {
                    pool.wake();
                    break;
                }
            });
        }
        drop(tx);
        for (done, (job, ended)) in rx.into_iter().enumerate() {
            match ended {
                Ended::Completed => out.finished += 1,
                Ended::Failed(message) => out.failed.push(Failure {
                    run: job.dir,
                    message,
                }),
                Ended::Interrupted => {}
            }
            let msg = format!("runs, {} failed", out.failed.len());
            progress.set(done as u64 + 1, &msg);
        }
    });
    out.failed.sort_by(|a, b| a.run.cmp(&b.run));
    out.interrupted = crate::run::interrupted() || out.finished + out.failed.len() < out.planned;
    if !out.interrupted {
        // (when interrupted the bar is left where it stopped instead of being filled up)
        progress.finish(&format!("{} failed", out.failed.len()));
    }
}

/// The study log's line for a run that waits for memory.
fn say_wait(wait: &Wait<Job>, quiet: bool) {
    if quiet {
        return;
    }
    let show = super::memory::show;
    eprintln!(
        "study: {} waits for memory: it needs about {} and the runs going now about {}, \
         of {} available",
        wait.job.dir.display(),
        show(wait.need.bytes),
        show(wait.running_bytes),
        show(wait.need.budget)
    );
}

/// Run one child to the end; its stdout and stderr go to `<run>/output.log`. A failure carries
/// the run's error (from its meta.json, else the end of its stderr); a file the study cannot
/// write (output.log, the meta.json it completes) fails the run, naming the file.
fn run_child(base: &Command, job: &Job) -> Ended {
    // What is left of an earlier, unfinished attempt: set aside, never deleted (the user may
    // have put notes or analyses in it).
    if job.dir.exists() {
        if let Some(pid) = lock::holder(&job.dir, RUN_LOCK) {
            return Ended::Failed(format!("still being written by lab process {pid}"));
        }
        if let Err(e) = set_aside_attempt(&job.dir) {
            return Ended::Failed(format!("{e:#}"));
        }
    }
    let child = match child_command(base, job).spawn() {
        Ok(child) => child,
        Err(e) => return Ended::Failed(format!("could not start lab: {e}")),
    };
    let forwarded = signals::Children::add(child.id());
    let waited = child.wait_with_output();
    drop(forwarded);
    let output = match waited {
        Ok(output) => output,
        Err(e) => return Ended::Failed(format!("lost the lab child: {e}")),
    };
    record_end(job, &output)
}

/// Save the child's log and settle its meta.json; how the run ended. A file the study cannot
/// write turns the run into a failure whose message names the file.
fn record_end(job: &Job, output: &Output) -> Ended {
    let log = [output.stdout.as_slice(), &output.stderr].concat();
    let log_error = save_log(job, &log).err().map(|e| format!("{e:#}"));
    let completed = output.status.success();
    let (status, why) = if completed {
        if log_error.is_none() {
            return Ended::Completed;
        }
        (
            "failed",
            "the run completed but the study could not save its log".into(),
        )
    } else if interrupted_by_signal(&output.status) {
        let why = format!("interrupted by {}", signals::name(signals::received()));
        ("interrupted", why)
    } else {
        let how = match (output.status.code(), output.status.signal()) {
            (Some(code), _) => format!("exit {code}"),
            (None, Some(sig)) => format!("killed by signal {sig}"),
            (None, None) => "killed".into(),
        };
        let stderr = String::from_utf8_lossy(&output.stderr);
        let message = meta_error(&job.dir).unwrap_or_else(|| last_error_line(&stderr));
        ("failed", format!("{message} ({how})"))
    };
    let recorded = join(&why, log_error.iter());
    let meta_error = settle_meta(job, status, &recorded, completed)
        .err()
        .map(|e| format!("{e:#}"));
    if status == "interrupted" && log_error.is_none() && meta_error.is_none() {
        return Ended::Interrupted;
    }
    Ended::Failed(join(&why, log_error.iter().chain(&meta_error)))
}

/// `why`, then each problem, separated by `; `.
fn join<'a>(why: &str, problems: impl Iterator<Item = &'a String>) -> String {
    problems.fold(why.to_string(), |all, p| format!("{all}; {p}"))
}

/// Whether the child stopped because the study is being interrupted (the signal forwarded
/// to it, or the study's death).
fn interrupted_by_signal(status: &std::process::ExitStatus) -> bool {
    let codes =
        [libc::SIGINT, libc::SIGTERM, libc::SIGHUP].map(|s| Some(signals::exit_code(Some(s))));
    crate::run::interrupted() && (codes.contains(&status.code()) || status.signal().is_some())
}

/// `<run>/output.log`: the child's stdout then its stderr, written atomically (nothing when the
/// child left no run directory: it refused before making one).
fn save_log(job: &Job, log: &[u8]) -> Result<()> {
    if !job.dir.is_dir() {
        return Ok(());
    }
    crate::run::write_atomic(&job.dir.join("output.log"), log)
}

fn meta_error(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("meta.json")).ok()?;
    let meta: serde_json::Value = serde_json::from_str(&text).ok()?;
    meta.get("error")?.as_str().map(str::to_string)
}

pub(super) fn last_error_line(stderr: &str) -> String {
    stderr
        .lines()
        .rev()
        .find(|l| l.starts_with("error:"))
        .or_else(|| stderr.lines().rev().find(|l| !l.trim().is_empty()))
        .map(|l| l.trim_start_matches("error:").trim().to_string())
        .unwrap_or_else(|| "no error message".into())
}

/// A child that died without a final meta.json (missing, half written, or still `running`)
/// gets one from the study, so `report` lists it with the reason; `replace` overwrites a final
/// status too. An error names the file that could not be written.
fn settle_meta(job: &Job, status: &str, error: &str, replace: bool) -> Result<()> {
    let path = job.dir.join("meta.json");
    let old = std::fs::read_to_string(&path).ok();
    let mut meta: serde_json::Value = old
        .as_deref()
        .and_then(|t| serde_json::from_str(t).ok())
        .filter(serde_json::Value::is_object) // a list or string there is as unreadable as a torn file
        .unwrap_or_else(|| serde_json::json!({ "seed": job.seed }));
    let current = meta
        .get("status")
        .and_then(|s| s.as_str())
        .unwrap_or("running");
    if current != "running" && !replace {
        return Ok(()); // the run wrote its own final status
    }
    meta["status"] = status.into();
    meta["error"] = format!("{error}; meta.json completed by the study runner").into();
    std::fs::create_dir_all(&job.dir).with_context(|| format!("creating {}", job.dir.display()))?;
    crate::run::write_json(&path, &meta)
}
