//! `--executor slurm` on a real one-node Slurm cluster (scripts/slurm-local.sh): the same runs
//! and metrics as the local executor, a failing cell reported while the others complete,
//! Ctrl-C that leaves the jobs queued, `lab status --cancel` and `--resume` submitting only
//! what did not complete. The cluster is started once per test process (as root; installed
//! with apt-get if missing) and stopped at exit if these tests started it; without root or
//! when it cannot start, each test prints `SKIP: ...` and passes.
use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/slurm-local.sh");
/// Long enough for a cold start (apt-get install) and a few queued jobs on two cores.
const LIMIT: Duration = Duration::from_secs(180);

fn slurm_dir() -> PathBuf {
    std::env::var_os("LAB_SLURM_DIR").map_or_else(|| "/tmp/lab-slurm".into(), PathBuf::from)
}

/// The cluster's SLURM_CONF, or why the tests skip.
fn cluster(test: &str) -> Option<PathBuf> {
    static UP: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let up = UP.get_or_init(|| {
        let up = start_cluster();
        if let Err(why) = &up {
            // Straight to stderr, past the harness's capture, so `make test` shows it.
            use std::io::Write;
            let line = format!("SKIP: the Slurm executor tests (study_slurm): {why}\n");
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
        up
    });
    match up {
        Ok(conf) => Some(conf.clone()),
        Err(why) => {
            println!("SKIP: {test}: no Slurm cluster ({why})");
            None
        }
    }
}

fn start_cluster() -> Result<PathBuf, String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err("not root: scripts/slurm-local.sh installs and starts it as root".into());
    }
    let script = |action: &str| {
        Command::new(SCRIPT)
            .arg(action)
            .env("LAB_SLURM_DIR", slurm_dir())
            .stdin(Stdio::null())
            .output()
    };
    let conf = slurm_dir().join("slurm.conf");
    let was_up = script("status")
        .map(|o| o.status.success())
        .unwrap_or(false);
    if was_up {
        return Ok(conf); // someone else's cluster: leave it running
    }
    let started = script("start").map_err(|e| format!("{SCRIPT}: {e}"))?;
    if !started.status.success() {
        let why = String::from_utf8_lossy(&started.stderr);
        let last = why
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no message");
        return Err(format!("slurm-local.sh start failed: {}", last.trim()));
    }
    // SAFETY: registers a plain function, run once at process exit.
    unsafe { libc::atexit(stop_cluster) };
    Ok(conf)
}

extern "C" fn stop_cluster() {
    let _ = Command::new(SCRIPT)
        .arg("stop")
        .env("LAB_SLURM_DIR", slurm_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// `lab` talking to the test cluster, given at most [`LIMIT`] to finish.
fn slurm_lab(conf: &Path, cwd: &Path, args: &[&str]) -> Output {
    let child = spawn_lab(conf, cwd, args);
    finish_within(child, LIMIT)
}

fn spawn_lab(conf: &Path, cwd: &Path, args: &[&str]) -> std::process::Child {
    Command::new(LAB)
        .args(args)
        .current_dir(cwd)
        .env("SLURM_CONF", conf)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the lab binary runs")
}

/// The child's output once it exits; killed (and the test failed) after `limit`.
fn finish_within(mut child: std::process::Child, limit: Duration) -> Output {
    let start = std::time::Instant::now();
    while child.try_wait().expect("waiting for lab").is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("lab's output");
            panic!("lab ran longer than {limit:?}:\n{}", text(&out));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("lab's output")
}

/// A decompose study with a `slurm:` block that polls often.
pub fn slurm_study(name: &str, grid: &str, seeds: &str, slurm: &str) -> String {
    format!(
        "{}  slurm: {{poll_seconds: 0.2{slurm}}}\n",
        study_yaml(name, grid, seeds)
    )
}

#[test]
fn a_slurm_study_runs_the_same_runs_as_the_local_executor() {
    let Some(conf) = cluster("a_slurm_study_runs_the_same_runs_as_the_local_executor") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let yaml = slurm_study(
        "sizes",
        "{matrix.n: [8, 12]}",
        "[0, 1]",
        ", array_throttle: 2",
    );
    std::fs::write(tmp.path().join("sizes.yaml"), yaml).unwrap();
    let common = ["decompose", "--config", "sizes.yaml", "--threads", "1"];
    let local = lab(tmp.path(), &[&common[..], &["--out", "local"]].concat());
    assert!(local.status.success(), "{}", text(&local));
    let args = [&common[..], &["--out", "slurm", "--executor", "slurm"]].concat();
    let out = slurm_lab(&conf, tmp.path(), &args);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("4 submitted as slurm job"),
        "{}",
        text(&out)
    );
    for cell in ["matrix.n=8", "matrix.n=12"] {
        for seed in [0, 1] {
            let rel = format!("{cell}/seed-{seed}");
            let (a, b) = (
                tmp.path().join("local").join(&rel),
                tmp.path().join("slurm").join(&rel),
            );
            assert_eq!(status(&b), "completed", "{rel}");
            let rows = untimed(&b);
            assert!(rows.len() >= 3, "header and Newton rows: {rows:?}");
            assert_eq!(rows, untimed(&a), "{rel}: slurm and local metrics differ");
            // The study ends when every meta.json is final; each task prints its last line
            // ("results: …") to its log just after writing meta.json, so wait for that line.
            let log = b.join("output.log");
            let done = || std::fs::read_to_string(&log).is_ok_and(|t| t.contains("results:"));
            wait_until(
                &format!("{rel}: task log kept"),
                Duration::from_secs(30),
                done,
            );
        }
    }
    let study = tmp.path().join("slurm");
    let subs = json(&study.join("slurm/submissions.json"));
    assert_eq!(
        subs.as_array().map(Vec::len),
        Some(1),
        "one sbatch for the study: {subs}"
    );
    assert_eq!(subs[0]["array"], "0-3%2");
    let id = subs[0]["job_id"].as_str().unwrap();
    assert!(
        study.join(format!("slurm/job-{id}.sh")).exists(),
        "the submitted script is kept"
    );
    assert_eq!(
        table_cell(&read(&study.join("report.md")), "matrix.n=12", "runs"),
        "2/2"
    );
    let shown = slurm_lab(&conf, tmp.path(), &["status", "slurm"]);
    assert!(shown.status.success(), "{}", text(&shown));
    assert!(
        stdout(&shown).contains("4 completed, 0 running, 0 pending, 0 failed"),
        "{}",
        text(&shown)
    );
}

#[test]
fn a_failing_cell_is_reported_and_resume_resubmits_only_it() {
    let Some(conf) = cluster("a_failing_cell_is_reported_and_resume_resubmits_only_it") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let yaml = slurm_study("caps", "{solver.max_iter: [1, 100]}", "[0]", "");
    std::fs::write(tmp.path().join("caps.yaml"), yaml).unwrap();
    let args = ["decompose", "--config", "caps.yaml", "--executor", "slurm"];
    let out = slurm_lab(&conf, tmp.path(), &args);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("1 of 2 runs failed"), "{}", text(&out));
    let study = tmp.path().join("results/decompose/caps");
    let (bad, good) = (
        study.join("solver.max_iter=1/seed-0"),
        study.join("solver.max_iter=100/seed-0"),
    );
    assert_eq!(status(&good), "completed");
    assert_eq!(status(&bad), "failed");
    let failed_line = format!(
        "failed: {}: not converged",
        std::fs::canonicalize(&bad).unwrap().display()
    );
    assert!(
        text(&out).contains(&failed_line),
        "{failed_line}\n{}",
        text(&out)
    );
    let shown = stdout(&slurm_lab(
        &conf,
        tmp.path(),
        &["status", "results/decompose/caps"],
    ));
    let row = shown
        .lines()
        .find(|l| l.starts_with("solver.max_iter=1/"))
        .unwrap_or_default();
    assert!(
        row.contains("failed") && row.contains("not converged"),
        "{shown}"
    );

    let kept = read(&good.join("meta.json"));
    let again = slurm_lab(&conf, tmp.path(), &[&args[..], &["--resume"]].concat());
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    let expect = "1 already completed, 0 still queued or running, 1 submitted";
    assert!(text(&again).contains(expect), "{}", text(&again));
    assert_eq!(
        read(&good.join("meta.json")),
        kept,
        "the completed run was not touched"
    );
    let subs = json(&study.join("slurm/submissions.json"));
    assert_eq!(
        subs[1]["tasks"],
        serde_json::json!([0]),
        "only the failed cell: {subs}"
    );
}

#[test]
fn ctrl_c_leaves_the_jobs_queued_then_cancel_and_resume_finish_them() {
    let Some(conf) = cluster("ctrl_c_leaves_the_jobs_queued_then_cancel_and_resume_finish_them")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let yaml = slurm_study("held", "{matrix.n: [8, 9]}", "[0]", "");
    std::fs::write(tmp.path().join("held.yaml"), yaml).unwrap();
    let args = ["decompose", "--config", "held.yaml", "--executor", "slurm"];
    // Held jobs stay pending until cancelled: nothing here depends on timing.
    let hold = ["--set", "study.slurm.extra_sbatch=[--hold]"];
    let follower = spawn_lab(&conf, tmp.path(), &[&args[..], &hold].concat());
    let study = tmp.path().join("results/decompose/held");
    let subs = study.join("slurm/submissions.json");
    wait_until("the submission", LIMIT, || subs.exists());
    let job = json(&subs)[0]["job_id"].as_str().unwrap().to_string();
    let signalled = Command::new("kill")
        .args(["-INT", &follower.id().to_string()])
        .status();
    assert!(signalled.unwrap().success());
    let stopped = finish_within(follower, LIMIT);
    assert_eq!(stopped.status.code(), Some(130), "{}", text(&stopped));
    assert!(
        text(&stopped).contains("the jobs keep running"),
        "{}",
        text(&stopped)
    );
    let queue = Command::new("squeue")
        .args(["-h", "-r", "-o", "%T|%r", "-j", &job])
        .env("SLURM_CONF", &conf)
        .output()
        .unwrap();
    assert_eq!(
        stdout(&queue).matches("PENDING|JobHeldUser").count(),
        2,
        "{}",
        text(&queue)
    );

    for racing in [&["--force"][..], &["--resume", "--executor", "local"]] {
        let refused = slurm_lab(&conf, tmp.path(), &[&args[..3], racing].concat());
        assert_eq!(
            refused.status.code(),
            Some(2),
            "{racing:?}: {}",
            text(&refused)
        );
        assert!(
            text(&refused).contains("still has Slurm jobs queued"),
            "{}",
            text(&refused)
        );
    }

    let cancel = slurm_lab(
        &conf,
        tmp.path(),
        &["status", "results/decompose/held", "--cancel"],
    );
    assert!(cancel.status.success(), "{}", text(&cancel));
    assert!(
        stdout(&cancel).contains(&format!("cancelled slurm job(s) {job}")),
        "{}",
        text(&cancel)
    );
    let shown = stdout(&slurm_lab(
        &conf,
        tmp.path(),
        &["status", "results/decompose/held"],
    ));
    assert!(
        shown.contains("0 completed, 0 running, 0 pending, 0 failed, 2 interrupted"),
        "{shown}"
    );
    assert_eq!(shown.matches("CANCELLED").count(), 2, "{shown}");
    assert_eq!(status(&study.join("matrix.n=8/seed-0")), "interrupted");

    let resumed = slurm_lab(&conf, tmp.path(), &[&args[..], &["--resume"]].concat());
    assert!(resumed.status.success(), "{}", text(&resumed));
    assert!(text(&resumed).contains("0 already completed, 0 still queued or running, 2 submitted"));
    for cell in ["matrix.n=8", "matrix.n=9"] {
        assert_eq!(
            status(&study.join(cell).join("seed-0")),
            "completed",
            "{cell}"
        );
    }
}
