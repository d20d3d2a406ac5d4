//! The Slurm executor (`--executor slurm`): a study's runs become ONE `sbatch --array` job whose
//! task `i` runs line `i` of `slurm/tasks.tsv` (seed, cell config, run dir) as
//! `lab <sub> --config <cell.yaml> --seed <k> --out <study>/<cell>/seed-<k>`, the same runs the
//! local executor starts (a shared filesystem is assumed). `lab` then follows the job until every
//! run ended; Ctrl-C stops following and leaves the jobs running; `lab status DIR` shows where
//! each run is and `lab status DIR --cancel` cancels the jobs; `--resume` follows the jobs still
//! queued and resubmits only the runs that did not complete.
//!
//! Reading order: this file (the `study.slurm:` block, then [`execute`]), `slurm_job` (the files
//! in `<study>/slurm/` and the submission), `slurm_poll` (one `squeue` and at most one `sacct -c`
//! per poll for the whole study; settling runs whose job ended without finishing them),
//! `slurm_follow` (the follow loop and `lab status`).
use super::runner::Outcome;
use super::slurm_follow::Follower;
use super::slurm_job;
use crate::cli::RunArgs;
use crate::error::usage;
use crate::results::record::StudyRecord;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The `study.slurm:` block: what every array task asks of the cluster.
///
/// ```yaml
/// study:
///   slurm:
///     partition: gpu          # --partition
///     time: "2:00:00"         # --time: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS
///     cpus_per_task: 4        # --cpus-per-task (also the runs' --threads unless given)
///     mem: 8G                 # --mem: a number with an optional K, M, G or T
///     gpus: 1                 # --gpus: a count or type:count (a100:1)
///     account: proj42         # --account
///     qos: normal             # --qos
///     extra_sbatch: ["--constraint=avx2"]  # more #SBATCH lines, as written
///     array_throttle: 50      # at most 50 runs at a time (--array=...%50)
///     poll_seconds: 5         # how often `lab` asks the scheduler while following
/// ```
#[derive(Deserialize, Serialize, Debug, Default, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SlurmBlock {
    pub partition: Option<String>,
    pub time: Option<String>,
    pub cpus_per_task: Option<u32>,
    pub mem: Option<String>,
    pub gpus: Option<serde_yaml_ng::Value>,
    pub account: Option<String>,
    pub qos: Option<String>,
    #[serde(default)]
    pub extra_sbatch: Vec<String>,
    pub array_throttle: Option<u32>,
    pub poll_seconds: Option<f64>,
}

/// Seconds between polls when the block gives none.
const DEFAULT_POLL_S: f64 = 5.0;

impl SlurmBlock {
    /// Parse and check the raw `study.slurm` value; every mistake names its key (exit 2).
    pub fn parse(raw: Option<&serde_yaml_ng::Value>, args: &RunArgs) -> Result<SlurmBlock> {
        if args.jobs.is_some() && args.executor == crate::cli::Executor::Slurm {
            return Err(usage(
                "--jobs is for the local executor; with --executor slurm use \
                 `study.slurm.array_throttle`",
            ));
        }
        let Some(raw) = raw.filter(|v| !v.is_null()) else {
            return Ok(SlurmBlock::default());
        };
        let block: SlurmBlock = serde_yaml_ng::from_value(raw.clone()).map_err(|e| {
            usage(match raw.as_mapping() {
                Some(map) => key_error(map).unwrap_or_else(|| format!("`study.slurm`: {e}")),
                None => "`study.slurm`: expected a mapping of keys like `partition: gpu`".into(),
            })
        })?;
        block.check()?;
        Ok(block)
    }

    fn check(&self) -> Result<()> {
        let words = [
            ("partition", &self.partition),
            ("account", &self.account),
            ("qos", &self.qos),
        ];
        for (key, value) in words {
            if let Some(v) = value {
                if v.is_empty() || v.chars().any(|c| c.is_whitespace() || c == '\'') {
                    return Err(bad(key, v, "a plain name without spaces"));
                }
            }
        }
        if let Some(t) = &self.time {
            if !is_slurm_time(t) {
                let want = "a Slurm time: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS";
                return Err(bad("time", t, want));
            }
        }
        if let Some(m) = &self.mem {
            if !is_slurm_memory(m) {
                return Err(bad("mem", m, "a size like 4000, 500M or 8G"));
            }
        }
        if let Some(g) = &self.gpus {
            self.gpus_text()
                .filter(|t| is_gpu_request(t))
                .ok_or_else(|| bad("gpus", &yaml_text(g), "a count like 1, or type:count"))?;
        }
        positive("cpus_per_task", self.cpus_per_task)?;
        positive("array_throttle", self.array_throttle)?;
        if let Some(p) = self.poll_seconds {
            if !(p.is_finite() && p > 0.0) {
                return Err(bad("poll_seconds", &p.to_string(), "a positive number"));
            }
        }
        for line in &self.extra_sbatch {
            let option = line.trim().trim_start_matches("#SBATCH").trim();
            if !option.starts_with('-') || line.contains('\n') {
                let want = "one sbatch option per line, e.g. --constraint=avx2";
                return Err(bad("extra_sbatch", line, want));
            }
        }
        Ok(())
    }

    /// `gpus` as sbatch wants it (`2`, `a100:2`).
    fn gpus_text(&self) -> Option<String> {
        match self.gpus.as_ref()? {
            serde_yaml_ng::Value::Number(n) => n.as_u64().map(|n| n.to_string()),
            serde_yaml_ng::Value::String(s) => Some(s.clone()),
            _ => None,
        }
    }

    /// The `#SBATCH` lines of this block, in the order documented above.
    pub fn sbatch_lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut push = |opt: &str, v: Option<String>| {
            if let Some(v) = v {
                out.push(format!("#SBATCH --{opt}={v}"));
            }
        };
        push("partition", self.partition.clone());
        push("time", self.time.clone());
        push("cpus-per-task", self.cpus_per_task.map(|n| n.to_string()));
        push("mem", self.mem.clone());
        push("gpus", self.gpus_text());
        push("account", self.account.clone());
        push("qos", self.qos.clone());
        for line in &self.extra_sbatch {
            let option = line.trim().trim_start_matches("#SBATCH").trim();
            out.push(format!("#SBATCH {option}"));
        }
        out
    }

    pub fn poll_interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.poll_seconds.unwrap_or(DEFAULT_POLL_S))
    }
}

/// The first key of `map` that does not parse on its own, with serde's reason.
fn key_error(map: &serde_yaml_ng::Mapping) -> Option<String> {
    map.iter().find_map(|(k, v)| {
        let mut one = serde_yaml_ng::Mapping::new();
        one.insert(k.clone(), v.clone());
        let e = serde_yaml_ng::from_value::<SlurmBlock>(one.into()).err()?;
        Some(format!("`study.slurm.{}`: {e}", yaml_text(k)))
    })
}

fn bad(key: &str, value: &str, want: &str) -> anyhow::Error {
    usage(format!("`study.slurm.{key}`: `{value}` is not {want}"))
}

fn positive(key: &str, value: Option<u32>) -> Result<()> {
    match value {
        Some(0) => Err(bad(key, "0", "a positive whole number")),
        _ => Ok(()),
    }
}

fn yaml_text(v: &serde_yaml_ng::Value) -> String {
    serde_yaml_ng::to_string(v).map_or_else(|_| "?".into(), |s| s.trim().to_string())
}

/// Slurm's time formats (sbatch(1) `--time`), or UNLIMITED / INFINITE.
fn is_slurm_time(t: &str) -> bool {
    if matches!(t, "UNLIMITED" | "INFINITE") {
        return true;
    }
    let number = |s: &str| !s.is_empty() && s.len() <= 6 && s.bytes().all(|b| b.is_ascii_digit());
    let (days, clock) = match t.split_once('-') {
        Some((d, rest)) => (Some(d), rest),
        None => (None, t),
    };
    let parts: Vec<&str> = clock.split(':').collect();
    days.is_none_or(number) && parts.len() <= 3 && parts.iter().all(|p| number(p))
}

fn is_slurm_memory(m: &str) -> bool {
    let digits = m.trim_end_matches(['K', 'M', 'G', 'T', 'k', 'm', 'g', 't']);
    !digits.is_empty() && m.len() - digits.len() <= 1 && digits.bytes().all(|b| b.is_ascii_digit())
}

fn is_gpu_request(g: &str) -> bool {
    let (kind, count) = g.rsplit_once(':').unwrap_or(("", g));
    let kind_ok = kind
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    kind_ok && !count.is_empty() && count.bytes().all(|b| b.is_ascii_digit())
}

/// Stop early, before the study directory is made, when Slurm's client commands are missing.
pub fn check_client() -> Result<()> {
    match std::process::Command::new("sbatch")
        .arg("--version")
        .output()
    {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(usage(format!(
            "--executor slurm: `sbatch --version` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))),
        Err(e) => Err(usage(format!(
            "--executor slurm: cannot run sbatch ({e}); Slurm's client commands (sbatch, squeue, \
             scancel) must be on PATH (scripts/slurm-local.sh start makes a one-node cluster here)"
        ))),
    }
}

/// Run the study's unfinished runs on Slurm: follow the jobs still queued from an earlier
/// submission, submit the rest as one job array, and follow everything to the end (or Ctrl-C).
pub fn execute(
    dir: &Path,
    record: &StudyRecord,
    block: &SlurmBlock,
    args: &RunArgs,
) -> Result<Outcome> {
    let tasks = slurm_job::write_tasks(dir, record)?;
    let mut follower = Follower::new(dir, tasks, block.poll_interval(), args.quiet)?;
    let before = follower.poll()?;
    let todo = follower.to_submit(&before);
    for &i in &todo {
        follower.clear_run(i)?;
    }
    let queued = before.iter().filter(|s| s.is_active()).count();
    let completed = before.iter().filter(|s| s.is_completed()).count();
    let submitted = if todo.is_empty() {
        None
    } else {
        let sub = slurm_job::submit(dir, record, block, args, &todo)?;
        let id = sub.job_id.clone();
        follower.add_submission(sub);
        Some(id)
    };
    if !args.quiet {
        let how = submitted.map_or_else(String::new, |id| format!(" as slurm job {id}"));
        eprintln!(
            "study {}: {} cells x {} seeds = {} runs ({completed} already completed, \
             {queued} still queued or running, {} submitted{how})",
            record.name,
            record.cells.len(),
            record.seeds.len(),
            before.len(),
            todo.len(),
        );
    }
    follower.follow()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SlurmBlock> {
        let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).unwrap();
        SlurmBlock::parse(Some(&v), &RunArgs::default())
    }

    #[test]
    fn a_full_block_becomes_sbatch_lines_in_order() {
        let block = parse(
            "{partition: gpu, time: '1-02:00', cpus_per_task: 4, mem: 8G, gpus: 'a100:2', \
             account: p1, qos: low, extra_sbatch: ['--constraint=avx2', '#SBATCH --exclusive'], \
             array_throttle: 3}",
        )
        .unwrap();
        assert_eq!(
            block.sbatch_lines(),
            [
                "#SBATCH --partition=gpu",
                "#SBATCH --time=1-02:00",
                "#SBATCH --cpus-per-task=4",
                "#SBATCH --mem=8G",
                "#SBATCH --gpus=a100:2",
                "#SBATCH --account=p1",
                "#SBATCH --qos=low",
                "#SBATCH --constraint=avx2",
                "#SBATCH --exclusive",
            ]
        );
        assert_eq!(
            parse("{gpus: 2}").unwrap().sbatch_lines(),
            ["#SBATCH --gpus=2"]
        );
    }

    #[test]
    fn mistakes_name_their_key() {
        let cases = [
            (
                "{partiton: gpu}",
                "`study.slurm.partiton`: unknown field `partiton`",
            ),
            ("{time: '1h'}", "`study.slurm.time`"),
            ("{time: '1:2:3:4'}", "`study.slurm.time`"),
            ("{mem: 8GB}", "`study.slurm.mem`"),
            ("{gpus: [1]}", "`study.slurm.gpus`"),
            ("{gpus: 'a100:x'}", "`study.slurm.gpus`"),
            ("{cpus_per_task: 0}", "`study.slurm.cpus_per_task`"),
            (
                "{cpus_per_task: -1}",
                "`study.slurm.cpus_per_task`: invalid value",
            ),
            ("{array_throttle: 0}", "`study.slurm.array_throttle`"),
            ("{partition: 'a b'}", "`study.slurm.partition`"),
            (
                "{extra_sbatch: ['exclusive']}",
                "`study.slurm.extra_sbatch`",
            ),
            ("{poll_seconds: 0}", "`study.slurm.poll_seconds`"),
        ];
        for (text, want) in cases {
            let err = format!("{:#}", parse(text).unwrap_err());
            assert!(err.contains(want), "{text}: {err}");
        }
    }

    #[test]
    fn slurm_times_and_sizes() {
        for ok in [
            "30",
            "30:00",
            "2:00:00",
            "1-0",
            "1-02:00",
            "1-02:00:00",
            "INFINITE",
        ] {
            assert!(is_slurm_time(ok), "{ok}");
        }
        for bad in ["", "1h", "1-", "a:00", "1-2:3:4:5", "-1"] {
            assert!(!is_slurm_time(bad), "{bad}");
        }
        assert!(is_slurm_memory("4000") && is_slurm_memory("8G") && is_slurm_memory("500m"));
        assert!(!is_slurm_memory("G") && !is_slurm_memory("8GB") && !is_slurm_memory("1.5G"));
    }
}
