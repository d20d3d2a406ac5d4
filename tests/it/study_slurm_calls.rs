//! Following a Slurm study costs a fixed number of scheduler calls per poll, whatever its size:
//! fake `sbatch`, `squeue` and `sacct` on PATH count them (no cluster needed).
use crate::common::*;
use crate::study_slurm::slurm_study;
use std::process::Command;

/// Following a 1,000-run study asks the scheduler once per poll, not once per run. Fake
/// `sbatch`, `squeue` and `sacct` log their calls: "submitting" completes runs 0-989 and starts
/// 990-999, which then vanish from the queue; `sacct -c` says they were cancelled.
#[test]
fn a_thousand_runs_cost_one_squeue_and_one_sacct_per_poll() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, bin) = (tmp.path(), tmp.path().join("bin"));
    std::fs::create_dir(&bin).unwrap();
    let log = dir.join("calls.log");
    let fake = |name: &str, body: &str| {
        let path = bin.join(name);
        let script = format!(
            "#!/bin/bash\n[ \"$1\" = --version ] && exit 0\necho \"{name} $*\" >> '{}'\n{body}\n",
            log.display()
        );
        std::fs::write(&path, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    fake("sbatch", FAKE_SBATCH);
    fake(
        "squeue",
        "for i in $(seq 0 989); do echo \"77|77|$i|RUNNING|None\"; done",
    );
    fake("sacct", FAKE_SACCT);
    let seeds = format!(
        "[{}]",
        (0..100)
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let grid = "{matrix.n: [8, 9, 10, 11, 12, 13, 14, 15, 16, 17]}";
    std::fs::write(dir.join("big.yaml"), slurm_study("big", grid, &seeds, "")).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new(LAB)
        .args(["decompose", "--config", "big.yaml", "--executor", "slurm"])
        .current_dir(dir)
        .env("PATH", path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("10 of 1000 runs failed"),
        "{}",
        text(&out)
    );
    let calls = read(&log);
    let count = |name: &str| calls.lines().filter(|l| l.starts_with(name)).count();
    assert_eq!(
        (count("sbatch"), count("squeue"), count("sacct")),
        (1, 1, 1),
        "{calls}"
    );
    assert!(calls.contains("--array=0-999 "), "{calls}");
    assert!(
        calls.contains("--jobs=1990,1991,"),
        "only the vanished runs: {calls}"
    );
    let study = dir.join("results/decompose/big/matrix.n=17");
    assert_eq!(status(&study.join("seed-89")), "completed");
    let gone = study.join("seed-99");
    assert_eq!(status(&gone), "interrupted");
    let error = json(&gone.join("meta.json"))["error"].to_string();
    assert!(
        error.contains("slurm job 77_999: CANCELLED 0:15"),
        "{error}"
    );
}

/// Completes tasks 0-989 (a final meta.json and the summary.json every completed run has) and
/// starts 990-999 (raw job ids 1990-1999).
const FAKE_SBATCH: &str = r#"s=results/decompose/big/slurm
head -n 990 $s/tasks.tsv | cut -f3 | xargs -d '\n' mkdir -p
head -n 990 $s/tasks.tsv | while IFS=$'\t' read -r seed config out; do
  echo '{}' > "$out/summary.json"
  echo '{"status": "completed"}' > "$out/meta.json"
done
for i in $(seq 990 999); do echo "77 $((1000 + i))" > $s/ids/$i; done
echo 77"#;

/// Every job asked about was cancelled (exit signal 15).
const FAKE_SACCT: &str = r#"for a in "$@"; do
  case $a in --jobs=*) IFS=, read -ra ids <<< "${a#--jobs=}" ;; esac
done
for id in "${ids[@]}"; do echo "$id|CANCELLED by 0|0:15"; done"#;
