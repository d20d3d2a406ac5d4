//! Studies end to end with the real binary: grid × seeds in parallel, the report's means checked
//! against the runs' own files, a failing cell, resume after a kill, and bad input.
use crate::common::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

#[test]
fn study_runs_every_cell_and_seed_and_reports_their_means() {
    let tmp = tempfile::tempdir().unwrap();
    let yaml = study_yaml("sizes", "{matrix.n: [8, 12]}", "[0, 1]");
    std::fs::write(tmp.path().join("sizes.yaml"), yaml).unwrap();
    let out = lab(
        tmp.path(),
        &[
            "decompose",
            "--config",
            "sizes.yaml",
            "--jobs",
            "2",
            "--threads",
            "1",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let study = tmp.path().join("results/decompose/sizes");
    let mut runs = Vec::new();
    for cell in ["matrix.n=8", "matrix.n=12"] {
        for seed in [0, 1] {
            let run = study.join(cell).join(format!("seed-{seed}"));
            assert_eq!(status(&run), "completed", "{}", run.display());
            let config = std::fs::read_to_string(run.join("config.yaml")).unwrap();
            assert!(
                !config.contains("study"),
                "study block leaked into {config}"
            );
            assert!(config.contains(&format!("seed: {seed}")), "{config}");
            runs.push(run);
        }
    }
    let n = json(&runs[2].join("summary.json"))["n"].as_u64();
    assert_eq!(n, Some(12), "the grid value reached the run");
    let report = std::fs::read_to_string(study.join("report.md")).unwrap();
    for (cell, pair) in [("matrix.n=8", &runs[..2]), ("matrix.n=12", &runs[2..])] {
        let dirs: Vec<&Path> = pair.iter().map(|p| p.as_path()).collect();
        for metric in ["log_det_b_inv", "iterations", "reconstruction_error"] {
            let shown = report_value(&report, cell, metric);
            let mean: f64 = shown.split(" ± ").next().unwrap().parse().unwrap();
            let expected = mean_of(&dirs, metric);
            let tol = 1e-3 * expected.abs().max(1e-300);
            assert!(
                (mean - expected).abs() <= tol,
                "{cell} {metric}: {shown} vs {expected}"
            );
        }
        assert_eq!(table_cell(&report, cell, "runs"), "2/2");
    }
    assert_csv_means(&study, &runs);
    assert_same_as_a_direct_run(tmp.path(), &study, &runs[3]);
}

/// A study run equals `lab decompose --config <cell.yaml> --seed 1` run by hand with the same
/// thread count (timing columns aside).
fn assert_same_as_a_direct_run(dir: &Path, study: &Path, run: &Path) {
    let cell = study.join("matrix.n=12/cell.yaml");
    let args = [
        "decompose",
        "--config",
        cell.to_str().unwrap(),
        "--seed",
        "1",
        "--out",
        "direct",
        "--quiet",
        "--threads",
        "1",
    ];
    let out = lab(dir, &args);
    assert!(out.status.success(), "{}", text(&out));
    let direct = untimed(&dir.join("direct"));
    assert!(direct.len() >= 3, "header and Newton rows: {direct:?}");
    assert_eq!(untimed(run), direct);
}

/// summary.csv carries full precision: its means equal the runs' means to rounding.
fn assert_csv_means(study: &Path, runs: &[std::path::PathBuf]) {
    let mut reader = csv::Reader::from_path(study.join("summary.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let mut checked = 0;
    for rec in reader.records() {
        let rec = rec.unwrap();
        if &rec[col("metric")] != "log_det_b_inv" {
            continue;
        }
        let pair = if &rec[col("matrix.n")] == "8" {
            &runs[..2]
        } else {
            &runs[2..]
        };
        let dirs: Vec<&Path> = pair.iter().map(|p| p.as_path()).collect();
        let mean: f64 = rec[col("mean")].parse().unwrap();
        assert!((mean - mean_of(&dirs, "log_det_b_inv")).abs() < 1e-12);
        assert_eq!(&rec[col("runs")], "2");
        checked += 1;
    }
    assert_eq!(checked, 2);
}

#[test]
fn failing_runs_are_reported_and_the_others_complete() {
    let tmp = tempfile::tempdir().unwrap();
    let yaml = study_yaml("caps", "{solver.max_iter: [1, 100]}", "[0, 1]");
    std::fs::write(tmp.path().join("caps.yaml"), yaml).unwrap();
    let out = lab(
        tmp.path(),
        &["decompose", "--config", "caps.yaml", "--jobs", "2"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("2 of 4 runs failed"), "{}", text(&out));
    let study = tmp.path().join("results/decompose/caps");
    for seed in [0, 1] {
        let good = study.join(format!("solver.max_iter=100/seed-{seed}"));
        assert_eq!(status(&good), "completed");
        assert_eq!(
            status(&study.join(format!("solver.max_iter=1/seed-{seed}"))),
            "failed"
        );
    }
    let report = std::fs::read_to_string(study.join("report.md")).unwrap();
    assert!(report.contains("## Failed runs"), "{report}");
    let failed_lines = report
        .lines()
        .filter(|l| l.starts_with("- `solver.max_iter=1/seed-") && l.contains("not converged"))
        .count();
    assert_eq!(failed_lines, 2, "{report}");
    assert_eq!(table_cell(&report, "solver.max_iter=1", "runs"), "0/2");
    assert_eq!(table_cell(&report, "solver.max_iter=100", "runs"), "2/2");

    // `--resume` runs the failed runs again, and keeps (never deletes) what was in their folders.
    let failed = study.join("solver.max_iter=1/seed-0");
    std::fs::write(failed.join("notes.txt"), "mine").unwrap();
    let again = lab(
        tmp.path(),
        &["decompose", "--config", "caps.yaml", "--resume"],
    );
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert!(
        text(&again).contains("2 already completed, 2 to run"),
        "{}",
        text(&again)
    );
    let kept: Vec<_> = std::fs::read_dir(study.join("solver.max_iter=1"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("seed-0.replaced-"))
        .collect();
    assert_eq!(kept.len(), 1, "{}", text(&again));
    assert_eq!(
        std::fs::read_to_string(kept[0].join("notes.txt")).unwrap(),
        "mine"
    );
    assert!(text(&again).contains("is kept as"), "{}", text(&again));
    assert_eq!(status(&failed), "failed");
    assert!(!failed.join("notes.txt").exists());
}

#[test]
fn resume_after_a_kill_runs_only_the_missing_runs() {
    let tmp = tempfile::tempdir().unwrap();
    // Larger matrices so that each run takes a noticeable time and the kill lands mid-study.
    let yaml = study_yaml("long", "{matrix.n: [40, 41, 42]}", "[0, 1]");
    std::fs::write(tmp.path().join("long.yaml"), yaml).unwrap();
    let study = tmp.path().join("results/decompose/long");
    let runs: Vec<_> = [40, 41, 42]
        .iter()
        .flat_map(|n| [0, 1].map(|s| study.join(format!("matrix.n={n}/seed-{s}"))))
        .collect();
    kill_study_after_first_run(tmp.path(), &runs);
    let done: Vec<_> = runs
        .iter()
        .filter(|r| r.join("meta.json").exists() && status(r) == "completed")
        .collect();
    assert!(
        !done.is_empty() && done.len() < runs.len(),
        "kill landed mid-study: {} done",
        done.len()
    );
    let before: Vec<String> = done
        .iter()
        .map(|r| std::fs::read_to_string(r.join("meta.json")).unwrap())
        .collect();
    let out = lab(
        tmp.path(),
        &[
            "decompose",
            "--config",
            "long.yaml",
            "--resume",
            "--jobs",
            "2",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let expect = format!(
        "{} already completed, {} to run",
        done.len(),
        runs.len() - done.len()
    );
    assert!(text(&out).contains(&expect), "{expect}\n{}", text(&out));
    for (run, meta) in zip_eq(&done, &before) {
        let now = std::fs::read_to_string(run.join("meta.json")).unwrap();
        assert_eq!(&now, meta, "completed run {} was run again", run.display());
    }
    for run in &runs {
        assert_eq!(status(run), "completed", "{}", run.display());
    }
}

/// Start the study in its own process group and SIGKILL the group once the first run has
/// completed: like a crash. (Child runs have process groups of their own; they get SIGTERM
/// when the study dies, and the resume waits for them to let go of their run directories.)
fn kill_study_after_first_run(dir: &Path, runs: &[std::path::PathBuf]) {
    use std::os::unix::process::CommandExt;
    let mut child = Command::new(LAB)
        .args([
            "decompose",
            "--config",
            "long.yaml",
            "--jobs",
            "1",
            "--quiet",
        ])
        .current_dir(dir)
        .process_group(0)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lock = dir.join("results/decompose/long/study.lock");
    wait_until("the study lock", Duration::from_secs(60), || lock.exists());
    let second = lab(dir, &["decompose", "--config", "long.yaml", "--resume"]);
    assert_eq!(second.status.code(), Some(2), "{}", text(&second));
    assert!(
        text(&second).contains("is being run by lab process"),
        "{}",
        text(&second)
    );
    wait_until("the first completed run", Duration::from_secs(60), || {
        runs.iter()
            .any(|r| try_status(r).as_deref() == Some("completed"))
    });
    let group = format!("-{}", child.id());
    let killed = Command::new("kill")
        .args(["-KILL", "--", &group])
        .status()
        .unwrap();
    assert!(killed.success());
    let _ = child.wait();
}

#[test]
fn study_usage_mistakes_exit_2_with_a_clear_message() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cases = [
        (
            study_yaml("a", "{matrix.nn: [8]}", "[0]"),
            vec![],
            "did you mean `n`",
        ),
        (
            study_yaml("b", "{matrix.n: []}", "[0]"),
            vec![],
            "non-empty list",
        ),
        (
            study_yaml("c", "{matrix.n: [8]}", "[0]"),
            vec!["--seed", "3"],
            "--seed conflicts",
        ),
        (
            study_yaml("d", "{matrix.n: [0]}", "[0]"),
            vec![],
            "study cell `matrix.n=0`",
        ),
        (
            study_yaml("e", "{matrix.n: [8]}", "[0]"),
            vec!["--resume"],
            "not a study directory",
        ),
        ("seed: 1\n".to_string(), vec!["--jobs", "2"], "for studies"),
    ];
    for (i, (yaml, extra, message)) in cases.iter().enumerate() {
        let file = format!("case{i}.yaml");
        std::fs::write(dir.join(&file), yaml).unwrap();
        let mut args = vec!["decompose", "--config", file.as_str()];
        args.extend(extra.iter().copied());
        let out = lab(dir, &args);
        assert_eq!(out.status.code(), Some(2), "case {i}: {}", text(&out));
        assert!(
            text(&out).contains(message),
            "case {i}: want {message}\n{}",
            text(&out)
        );
    }
    std::fs::write(
        dir.join("ok.yaml"),
        study_yaml("ok", "{matrix.n: [8]}", "[0]"),
    )
    .unwrap();
    let ok = lab(dir, &["decompose", "--config", "ok.yaml", "--quiet"]);
    assert!(ok.status.success(), "{}", text(&ok));
    let again = lab(dir, &["decompose", "--config", "ok.yaml"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        text(&again).contains("--resume to finish it"),
        "{}",
        text(&again)
    );
    let forced = lab(
        dir,
        &["decompose", "--config", "ok.yaml", "--force", "--quiet"],
    );
    assert!(forced.status.success(), "{}", text(&forced));
}
