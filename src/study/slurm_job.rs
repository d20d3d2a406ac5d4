//! The files a Slurm study keeps in `<study>/slurm/` and its submission:
//! - `tasks.tsv`: line `i` (from 0) is array task `i`: seed, cell config and run directory,
//!   tab-separated, in the order of the study record (cells, then seeds);
//! - `job.sh`: the batch script (each task reads its line and `exec`s `lab`, so the scheduler's
//!   SIGTERM reaches the run itself), and `job-<id>.sh`, the script job `<id>` was submitted with;
//! - `submissions.json`: every submission: job id, `--array` spec and its task indices;
//! - `logs/<i>.log`: task `i`'s output; `ids/<i>`: `<array job id> <raw job id>` of task `i`,
//!   written when it starts (`sacct -c` knows finished jobs only by their raw id).
use super::slurm::SlurmBlock;
use crate::cli::RunArgs;
use crate::error::usage;
use crate::results::record::{StudyRecord, CELL_CONFIG};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::Command;

pub const SLURM_DIR: &str = "slurm";
const SUBMISSIONS: &str = "submissions.json";

/// One array task: one run of the study.
#[derive(Debug, Clone)]
pub struct Task {
    pub seed: u64,
    pub config: PathBuf,
    pub run_dir: PathBuf,
    /// `<cell>/seed-<k>`, for messages.
    pub name: String,
}

/// One `sbatch` call.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Submission {
    pub job_id: String,
    pub array: String,
    pub tasks: Vec<usize>,
    pub script: String,
}

/// The study's runs as array tasks (absolute paths), also written to `slurm/tasks.tsv`.
pub fn write_tasks(dir: &Path, record: &StudyRecord) -> Result<Vec<Task>> {
    let root = dir
        .canonicalize()
        .with_context(|| format!("locating {}", dir.display()))?;
    let tasks = tasks(&root, record);
    let mut text = String::new();
    for t in &tasks {
        let (config, run) = (
            t.config.display().to_string(),
            t.run_dir.display().to_string(),
        );
        if [&config, &run].iter().any(|p| p.contains(['\t', '\n'])) {
            return Err(usage(format!(
                "--executor slurm: the study path {} holds a tab or newline; pick another --out",
                root.display()
            )));
        }
        text.push_str(&format!("{}\t{config}\t{run}\n", t.seed));
    }
    let slurm = root.join(SLURM_DIR);
    for sub in ["logs", "ids"] {
        std::fs::create_dir_all(slurm.join(sub))
            .with_context(|| format!("creating {}", slurm.join(sub).display()))?;
    }
    crate::run::write_atomic(&slurm.join("tasks.tsv"), text.as_bytes())?;
    Ok(tasks)
}

/// The study's runs in task order, under `root`.
pub fn tasks(root: &Path, record: &StudyRecord) -> Vec<Task> {
    let mut out = Vec::new();
    for cell in &record.cells {
        for &seed in &record.seeds {
            let rel = StudyRecord::run_dir(&cell.name, seed);
            out.push(Task {
                seed,
                config: root.join(&cell.name).join(CELL_CONFIG),
                run_dir: root.join(&rel),
                name: rel.display().to_string(),
            });
        }
    }
    out
}

/// Every earlier submission of the study in `dir` (none: an empty list).
pub fn read_submissions(dir: &Path) -> Result<Vec<Submission>> {
    let path = dir.join(SLURM_DIR).join(SUBMISSIONS);
    match crate::input::read_result(&path) {
        Ok(text) => serde_json::from_str(&text)
            .with_context(|| format!("{}: not a list of submissions", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Submit task indices `todo` as one job array; the script and the job id are saved.
pub fn submit(
    dir: &Path,
    record: &StudyRecord,
    block: &SlurmBlock,
    args: &RunArgs,
    todo: &[usize],
) -> Result<Submission> {
    let root = dir.canonicalize()?;
    let slurm = root.join(SLURM_DIR);
    let script = batch_script(&root, &record.subcommand, block, args)?;
    let script_path = slurm.join("job.sh");
    crate::run::write_atomic(&script_path, script.as_bytes())?;
    let array = array_spec(todo, block.array_throttle);
    let mut cmd = Command::new("sbatch");
    cmd.arg("--parsable")
        .arg(format!("--array={array}"))
        .arg(format!(
            "--job-name=lab-{}-{}",
            record.subcommand, record.name
        ))
        .arg(format!(
            "--output={}",
            slurm.join("logs").join("%a.log").display()
        ))
        .arg(format!("--chdir={}", root.display()))
        .arg(&script_path);
    let out = cmd.output().map_err(|e| {
        usage(format!(
            "--executor slurm: could not run sbatch ({e}); the Slurm client commands \
             (sbatch, squeue, scancel) must be on PATH"
        ))
    })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "sbatch refused the study's job array: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let job_id = stdout.trim().split(';').next().unwrap_or("").to_string();
    if job_id.is_empty() || !job_id.bytes().all(|b| b.is_ascii_digit()) {
        bail!("sbatch printed no job id: `{}`", stdout.trim());
    }
    let saved = format!("job-{job_id}.sh");
    std::fs::copy(&script_path, slurm.join(&saved))
        .with_context(|| format!("saving {}", slurm.join(&saved).display()))?;
    let sub = Submission {
        job_id,
        array,
        tasks: todo.to_vec(),
        script: saved,
    };
    let mut all = read_submissions(&root)?;
    all.push(sub.clone());
    crate::run::write_json(&slurm.join(SUBMISSIONS), &all)?;
    Ok(sub)
}

/// The batch script: resources from `block`, then one `lab` run chosen by the task index.
fn batch_script(root: &Path, sub: &str, block: &SlurmBlock, args: &RunArgs) -> Result<String> {
    let exe = std::env::current_exe().context("locating the lab executable")?;
    let slurm = root.join(SLURM_DIR);
    let threads = args
        .threads
        .map_or_else(|| "\"${SLURM_CPUS_PER_TASK:-1}\"".into(), |n| n.to_string());
    let mut s = String::from("#!/bin/bash\n");
    s.push_str(&format!(
        "# lab study {}: array task i runs line i (from 0) of slurm/tasks.tsv\n",
        root.display()
    ));
    for line in block.sbatch_lines() {
        s.push_str(&line);
        s.push('\n');
    }
    s.push_str("#SBATCH --no-requeue\n"); // a requeued task would find its run directory taken
    s.push_str("set -euo pipefail\n");
    s.push_str(&format!(
        "line=$(sed -n \"$((SLURM_ARRAY_TASK_ID + 1))p\" {})\n",
        quote(&slurm.join("tasks.tsv"))
    ));
    s.push_str("IFS=$'\\t' read -r seed config out <<<\"$line\"\n");
    s.push_str(&format!(
        "echo \"$SLURM_ARRAY_JOB_ID $SLURM_JOB_ID\" > {}/\"$SLURM_ARRAY_TASK_ID\"\n",
        quote(&slurm.join("ids"))
    ));
    s.push_str(&format!(
        "exec {} {sub} --quiet --device {} --threads {threads} \\\n  \
         --config \"$config\" --seed \"$seed\" --out \"$out\"\n",
        quote(&exe),
        quote(Path::new(&args.device)),
    ));
    Ok(s)
}

/// A path or word in single quotes for bash.
fn quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

/// `--array` for these task indices: ranges where they run on (`0-3,7,9-12`), then `%throttle`.
pub fn array_spec(tasks: &[usize], throttle: Option<u32>) -> String {
    let mut sorted = tasks.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts = Vec::new();
    let mut k = 0;
    while k < sorted.len() {
        let start = sorted[k];
        while k + 1 < sorted.len() && sorted[k + 1] == sorted[k] + 1 {
            k += 1;
        }
        parts.push(if sorted[k] == start {
            start.to_string()
        } else {
            format!("{start}-{}", sorted[k])
        });
        k += 1;
    }
    let mut spec = parts.join(",");
    if let Some(n) = throttle {
        spec.push_str(&format!("%{n}"));
    }
    spec
}

/// Task `i`'s output file.
pub fn log_path(dir: &Path, i: usize) -> PathBuf {
    dir.join(SLURM_DIR).join("logs").join(format!("{i}.log"))
}

/// `(array job id, raw job id)` that task `i` wrote when it last started, if it did.
pub fn started_ids(dir: &Path, i: usize) -> Option<(String, String)> {
    let text = std::fs::read_to_string(dir.join(SLURM_DIR).join("ids").join(i.to_string())).ok()?;
    let mut words = text.split_whitespace();
    Some((words.next()?.to_string(), words.next()?.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_specs_join_runs_of_indices() {
        assert_eq!(array_spec(&[0, 1, 2, 3], None), "0-3");
        assert_eq!(
            array_spec(&[9, 0, 1, 2, 3, 7, 10, 11, 12], Some(5)),
            "0-3,7,9-12%5"
        );
        assert_eq!(array_spec(&[4], Some(1)), "4%1");
    }

    #[test]
    fn quoting_survives_single_quotes() {
        assert_eq!(quote(Path::new("/a b/it's")), r"'/a b/it'\''s'");
    }
}
