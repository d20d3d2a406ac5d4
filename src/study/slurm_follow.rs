//! Following a Slurm study: every poll asks the scheduler once about the runs not yet ended
//! (see `slurm_poll`) and reads those runs' `meta.json`; one line of counts is printed when
//! they change. Ctrl-C (or SIGTERM) stops following and leaves the jobs to the cluster.
//! `lab status DIR` is one poll printed per run; `--cancel` cancels the study's jobs.
use super::runner::{Failure, Outcome};
use super::slurm_job::{self, Submission, Task};
use super::slurm_poll::{self as poll, TaskState};
use crate::error::usage;
use crate::results::record::StudyRecord;
use anyhow::Result;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A study's runs and what is known of each.
pub struct Follower {
    dir: PathBuf,
    tasks: Vec<Task>,
    /// The job id of the latest submission of each task.
    latest: Vec<Option<String>>,
    states: Vec<TaskState>,
    interval: Duration,
    quiet: bool,
    /// The state of a run nothing started: `not-submitted` in a Slurm study (one with a
    /// `slurm/` folder), `not-started` in a local one (no scheduler to submit it to).
    unstarted: TaskState,
}

impl Follower {
    pub fn new(dir: &Path, tasks: Vec<Task>, interval: Duration, quiet: bool) -> Result<Follower> {
        let n = tasks.len();
        let unstarted = match dir.join(slurm_job::SLURM_DIR).is_dir() {
            true => TaskState::NotSubmitted,
            false => TaskState::NotStarted,
        };
        let mut f = Follower {
            dir: dir.canonicalize()?,
            tasks,
            latest: vec![None; n],
            states: vec![unstarted.clone(); n],
            interval,
            quiet,
            unstarted,
        };
        for sub in slurm_job::read_submissions(dir)? {
            f.note_submission(&sub);
        }
        Ok(f)
    }

    fn note_submission(&mut self, sub: &Submission) {
        for &i in sub.tasks.iter().filter(|&&i| i < self.tasks.len()) {
            self.latest[i] = Some(sub.job_id.clone());
        }
    }

    /// A new submission: its tasks are pending until the next poll says otherwise.
    pub fn add_submission(&mut self, sub: Submission) {
        for &i in sub.tasks.iter().filter(|&&i| i < self.tasks.len()) {
            self.states[i] = TaskState::Pending("submitted".into());
        }
        self.note_submission(&sub);
    }

    /// Ask the scheduler (once) and the run directories where every unfinished run is; runs
    /// whose job ended without finishing them are settled (see [`poll::settle`]).
    pub fn poll(&mut self) -> Result<Vec<TaskState>> {
        let open: Vec<usize> = (0..self.tasks.len())
            .filter(|&i| !self.states[i].is_final())
            .collect();
        let jobs: BTreeSet<String> = open
            .iter()
            .filter_map(|&i| self.latest[i].clone())
            .collect();
        // The scheduler first, then meta.json: a run that ends in between is seen as ended
        // by both, never as a job gone with its run unfinished.
        let queue = poll::squeue(&jobs.into_iter().collect::<Vec<_>>())?;
        let mut gone = Vec::new();
        for &i in &open {
            let run_dir = &self.tasks[i].run_dir;
            if let Some(state) = poll::from_meta(run_dir) {
                self.finish(i, state)?;
                continue;
            }
            let Some(job) = self.latest[i].clone() else {
                // Never submitted: a local run may still write it.
                self.states[i] = match poll::read_meta(run_dir) {
                    Ok(Some((s, _))) if s == "running" => match poll::writer_gone(run_dir) {
                        // Killed without a chance to say so: `running` forever, as report
                        // and --resume know (they read it as `dead`).
                        Some(pid) => TaskState::Failed(format!(
                            "dead: meta.json says running, but its process {pid} is gone \
                             (killed?); --resume runs it again"
                        )),
                        None => TaskState::Running,
                    },
                    Ok(Some((s, _))) => {
                        TaskState::Unreadable(format!("meta.json has the unknown status `{s}`"))
                    }
                    Ok(None) => self.unstarted.clone(),
                    Err(why) => TaskState::Unreadable(why),
                };
                continue;
            };
            match queue.get(&(job.clone(), i)) {
                Some(q) => match poll::from_queue(q) {
                    Some(state) => self.states[i] = state,
                    None => {
                        let how = format!("slurm job {job}_{i}: {}", q.state);
                        let state = poll::ended(&how, &q.state, &self.log(i));
                        self.settle(i, state)?;
                    }
                },
                None => gone.push((i, job)),
            }
        }
        self.settle_gone(gone)?;
        Ok(self.states.clone())
    }

    /// Tasks that left the queue with their run unfinished: states from `sacct -c` (one call).
    fn settle_gone(&mut self, gone: Vec<(usize, String)>) -> Result<()> {
        let raw: Vec<Option<String>> = gone
            .iter()
            .map(|(i, job)| {
                slurm_job::started_ids(&self.dir, *i)
                    .filter(|(array, _)| array == job)
                    .map(|(_, raw)| raw)
            })
            .collect();
        let known: Vec<String> = raw.iter().flatten().cloned().collect();
        let done = poll::sacct_completed(&known);
        for ((i, job), raw) in gone.into_iter().zip(raw) {
            let found = raw.as_ref().and_then(|r| done.get(r));
            let (word, how) = match found {
                Some((state, exit)) => (state.clone(), format!("{state} {exit}")),
                None => (
                    "UNKNOWN".to_string(),
                    "gone from squeue, not in sacct -c".to_string(),
                ),
            };
            let how = format!("slurm job {job}_{i}: {how}");
            let state = poll::ended(&how, &word, &self.log(i));
            self.settle(i, state)?;
        }
        Ok(())
    }

    fn log(&self, i: usize) -> PathBuf {
        slurm_job::log_path(&self.dir, i)
    }

    fn settle(&mut self, i: usize, state: TaskState) -> Result<()> {
        poll::settle(
            &self.tasks[i].run_dir,
            self.tasks[i].seed,
            &state,
            &self.log(i),
        )?;
        self.states[i] = state;
        Ok(())
    }

    /// A run that wrote its own final status: keep its task's log beside it.
    fn finish(&mut self, i: usize, state: TaskState) -> Result<()> {
        if self.latest[i].is_some() {
            poll::copy_log(&self.tasks[i].run_dir, &self.log(i))?;
        }
        self.states[i] = state;
        Ok(())
    }

    /// The tasks to submit: every run neither completed nor still queued or running.
    pub fn to_submit(&self, states: &[TaskState]) -> Vec<usize> {
        (0..states.len())
            .filter(|&i| !states[i].is_completed() && !states[i].is_active())
            .collect()
    }

    /// Set aside what an unfinished earlier attempt of task `i` left (never a completed run).
    pub fn clear_run(&mut self, i: usize) -> Result<()> {
        let run_dir = &self.tasks[i].run_dir;
        if self.states[i].is_completed() || !run_dir.exists() {
            return Ok(());
        }
        super::runner::refuse_if_written(run_dir)?;
        super::runner::set_aside_attempt(run_dir)?;
        self.states[i] = self.unstarted.clone();
        Ok(())
    }

    /// Poll until every run ended or a signal stops the following; the jobs keep running then.
    pub fn follow(mut self) -> Result<Outcome> {
        let mut shown = String::new();
        let mut interrupted = false;
        loop {
            let line = self.counts();
            if line != shown && !self.quiet {
                eprintln!("slurm: {line}");
            }
            shown = line;
            if self.states.iter().all(TaskState::is_final) {
                break;
            }
            if sleep_unless_interrupted(self.interval) {
                interrupted = true;
                break;
            }
            if let Err(e) = self.poll() {
                eprintln!("warning: {e:#}; asking again in {:?}", self.interval);
            }
        }
        if interrupted {
            eprintln!(
                "stopped following: the jobs keep running. `lab status {0}` shows them, \
                 `lab status {0} --cancel` cancels them, the same command with --resume \
                 follows them again",
                self.dir.display()
            );
        }
        Ok(self.outcome(interrupted))
    }

    /// Every run in one of the counts; the rarer states only when some run is in them.
    fn counts(&self) -> String {
        let count = |label: &str| self.states.iter().filter(|s| s.label() == label).count();
        let mut line = format!(
            "{} completed, {} running, {} pending, {} failed, {} interrupted",
            count("completed"),
            count("running"),
            count("pending"),
            count("failed"),
            count("interrupted"),
        );
        for label in ["unreadable", "not-submitted", "not-started"] {
            let n = count(label);
            if n > 0 {
                line.push_str(&format!(", {n} {}", label.replace('-', " ")));
            }
        }
        line + &format!(" (of {} runs)", self.states.len())
    }

    fn outcome(&self, interrupted: bool) -> Outcome {
        let mut out = Outcome {
            planned: self.tasks.len(),
            interrupted,
            ..Outcome::default()
        };
        for (task, state) in self.tasks.iter().zip(&self.states) {
            match state {
                TaskState::Completed => out.finished += 1,
                TaskState::Failed(m) => out.failed.push(Failure {
                    run: task.run_dir.clone(),
                    message: m.clone(),
                }),
                TaskState::Interrupted(m) => out.failed.push(Failure {
                    run: task.run_dir.clone(),
                    message: if m.starts_with("interrupted") {
                        m.clone()
                    } else {
                        format!("interrupted: {m}")
                    },
                }),
                _ => {}
            }
        }
        out
    }

    /// The job ids with tasks still queued or running.
    fn active_jobs(&self) -> Vec<String> {
        let jobs: BTreeSet<&String> = (0..self.tasks.len())
            .filter(|&i| self.states[i].is_active())
            .filter_map(|i| self.latest[i].as_ref())
            .collect();
        jobs.into_iter().cloned().collect()
    }
}

/// Sleep `total`, waking early when Ctrl-C or SIGTERM arrives; whether one did.
fn sleep_unless_interrupted(total: Duration) -> bool {
    let end = Instant::now() + total;
    while Instant::now() < end {
        if crate::run::interrupted() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50).min(end - Instant::now()));
    }
    crate::run::interrupted()
}

/// A local `--resume` of a study whose Slurm jobs still run would race them: refuse.
pub fn refuse_if_queued(dir: &Path, record: &StudyRecord) -> Result<()> {
    if slurm_job::read_submissions(dir)?.is_empty() {
        return Ok(());
    }
    let tasks = slurm_job::tasks(&dir.canonicalize()?, record);
    let mut f = Follower::new(dir, tasks, Duration::ZERO, true)?;
    if let Err(e) = f.poll() {
        // No Slurm here (a copied study directory): nothing of it can still run here either.
        eprintln!("warning: could not ask Slurm about the study's earlier jobs: {e:#}");
        return Ok(());
    }
    let jobs = f.active_jobs();
    if jobs.is_empty() {
        return Ok(());
    }
    Err(usage(format!(
        "the study in {} still has Slurm jobs queued or running ({}); follow them with \
         --executor slurm --resume, or cancel them with `lab status {} --cancel`",
        dir.display(),
        jobs.join(", "),
        dir.display()
    )))
}

/// `lab status DIR [--cancel]`: where each run of the study is (its `meta.json`, and for a
/// Slurm study the scheduler's state), or cancel the study's queued and running jobs.
pub fn command(dir: &Path, cancel: bool) -> Result<()> {
    if !dir.is_dir() {
        let why = match dir.exists() {
            true => "not a directory (give a study directory, not a file in it)",
            false => "no such directory",
        };
        return Err(usage(format!("{}: {why}", dir.display())));
    }
    let record = StudyRecord::read(dir)?.ok_or_else(|| {
        usage(format!(
            "{} is not a study directory (no study.json)",
            dir.display()
        ))
    })?;
    let tasks = slurm_job::tasks(&dir.canonicalize()?, &record);
    let mut f = Follower::new(dir, tasks, Duration::ZERO, true)?;
    let states = f.poll()?;
    if cancel {
        return cancel_jobs(dir, &f.active_jobs());
    }
    let width = f
        .tasks
        .iter()
        .map(|t| t.name.len())
        .max()
        .unwrap_or(3)
        .max(3);
    let state_width = states
        .iter()
        .map(|s| s.label().len())
        .max()
        .unwrap_or(0)
        .max(11);
    println!("{:width$}  {:state_width$}  detail", "run", "state");
    for (i, (task, state)) in f.tasks.iter().zip(&states).enumerate() {
        let job = f.latest[i]
            .as_deref()
            .map_or_else(String::new, |j| format!("[slurm job {j}] "));
        let detail = format!("{job}{}", state.detail());
        println!(
            "{:width$}  {:state_width$}  {}",
            task.name,
            state.label(),
            detail.trim_end()
        );
    }
    println!("{}", f.counts());
    Ok(())
}

/// `scancel` the study's jobs (one call): running runs stop like on Ctrl-C and end
/// `interrupted`; `--resume` submits them again.
fn cancel_jobs(dir: &Path, jobs: &[String]) -> Result<()> {
    if jobs.is_empty() {
        println!(
            "no Slurm job of the study in {} is queued or running",
            dir.display()
        );
        return Ok(());
    }
    let out = std::process::Command::new("scancel")
        .args(jobs)
        .output()
        .map_err(|e| {
            usage(format!(
                "could not run scancel ({e}); is Slurm's client on PATH?"
            ))
        })?;
    if !out.status.success() {
        anyhow::bail!(
            "scancel failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    println!(
        "cancelled slurm job(s) {}: their runs end `interrupted`; --resume submits them again",
        jobs.join(", ")
    );
    Ok(())
}
