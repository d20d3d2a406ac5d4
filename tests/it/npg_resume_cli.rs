//! `lab npg-rank1` continued from a checkpoint through the command line: `resume_from` and
//! `--resume RUN_DIR` end with the rows of an uninterrupted run, and every way of asking for
//! something the checkpoint cannot continue (its own folder as `--out`, a changed key, a finished
//! run, another algorithm, a gap in its rows, another network size) is exit 2 that leaves the
//! checkpointed run as it was.
use crate::common::*;
use crate::npg_cli::{npg, run_to, smoke};
use std::path::{Path, PathBuf};

/// The smoke config stopped after 4 of its 8 iterations, in `dir/run`.
fn half_run(dir: &Path) -> PathBuf {
    let b = run_to(dir, &smoke(), &["--set", "total_steps=2048"]);
    assert_eq!(
        untimed(&b).len(),
        1 + 4,
        "the half run stops after 4 of 8 rows"
    );
    b
}

fn utf8(p: &Path) -> &str {
    p.to_str().expect("utf-8")
}

/// A run continued from its checkpoint ends with the same metrics as an uninterrupted run.
#[test]
fn resume_gives_the_same_metrics_as_an_uninterrupted_run() {
    let (full, half, cont) = (
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
    );
    let a = run_to(full.path(), &smoke(), &[]);
    let b = half_run(half.path());
    let resume = format!("resume_from={}", b.display());
    let c = run_to(cont.path(), &smoke(), &["--set", &resume]);
    assert_eq!(untimed(&a).len(), 1 + 8);
    assert_eq!(untimed(&a), untimed(&c));
    let episodes = |d: &Path| read(&d.join("episodes.csv"));
    assert!(episodes(&a).lines().count() > 1, "episodes were recorded");
    assert_eq!(episodes(&a), episodes(&c));
    let summary = |d: &Path| json(&d.join("summary.json"));
    for key in ["final_eval_mean", "final_ma100"] {
        assert!(summary(&a)[key].is_f64(), "{key}: {}", summary(&a));
        assert_eq!(summary(&a)[key], summary(&c)[key], "{key}");
    }
    // `--resume RUN_DIR` does the same from the run's own config.yaml.
    let d = cont.path().join("again");
    let args = [
        "--resume",
        utf8(&b),
        "--set",
        "total_steps=4096",
        "--out",
        utf8(&d),
    ];
    let o = npg(cont.path(), &args);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(untimed(&a), untimed(&d));
}

/// `--out` naming the resumed run itself is refused, with or without --force, and the run stays
/// as it was (--force would otherwise move it aside before reading it).
#[test]
fn out_naming_the_run_being_resumed_is_refused() {
    let tmp = tempfile::tempdir().expect("tmp");
    let b = half_run(tmp.path());
    let (half_rows, b_dir) = (untimed(&b), utf8(&b));
    let want = format!("--out names the run being resumed ({b_dir})");
    for force in [false, true] {
        let mut args = vec!["--resume", b_dir, "--out", b_dir];
        args.extend(force.then_some("--force"));
        let o = npg(tmp.path(), &args);
        assert_eq!(code(&o), 2, "{}", text(&o));
        assert!(stderr(&o).contains(&want), "{}", text(&o));
    }
    // The same through the key (`--set resume_from=…` over the run's own config).
    let (b_config, key) = (b.join("config.yaml"), format!("resume_from={b_dir}"));
    for force in [false, true] {
        let mut args = vec!["--config", utf8(&b_config), "--set", &key, "--out", b_dir];
        args.extend(force.then_some("--force"));
        let o = npg(tmp.path(), &args);
        assert_eq!(code(&o), 2, "{}", text(&o));
        assert!(stderr(&o).contains(&want), "{}", text(&o));
    }
    assert_eq!(untimed(&b), half_rows);
    assert_eq!(json(&b.join("meta.json"))["status"], "completed");
}

/// A changed key other than the budget would mix two configs in the continued rows; resuming a
/// finished run, or with another algorithm, or through a subcommand without checkpoints, is a
/// usage error too, and the checkpointed runs stay as they were.
#[test]
fn a_changed_config_a_finished_run_or_another_algorithm_is_refused() {
    let (full, half) = (
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
    );
    let (a, b) = (run_to(full.path(), &smoke(), &[]), half_run(half.path()));
    let (full_rows, half_rows) = (untimed(&a), untimed(&b));
    let tmp = half.path();
    let o = npg(
        tmp,
        &[
            "--resume",
            utf8(&b),
            "--set",
            "gamma=0.5",
            "--out",
            "changed",
        ],
    );
    assert_eq!(code(&o), 2, "{}", text(&o));
    let err = stderr(&o);
    let want = "the config differs from the one of the run it continues";
    assert!(err.contains(want), "{err}");
    assert!(err.contains("gamma: 0.99 there, 0.5 now"), "{err}");
    assert!(!tmp.join("changed").exists(), "nothing written");
    let o = lab(tmp, &["decompose", "--resume", utf8(&b)]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    let want = "`lab decompose` runs keep no checkpoints";
    assert!(stderr(&o).contains(want), "{}", text(&o));
    let (finished, resume) = (
        format!("resume_from={}", a.display()),
        format!("resume_from={}", b.display()),
    );
    let pg = format!("{}/configs/npg-rank1/pg.yaml", env!("CARGO_MANIFEST_DIR"));
    let cases = [
        (smoke(), &finished, "nothing left of 8 iterations"),
        (
            pg,
            &resume,
            "checkpoint is smac on CartPole-v1, config asks for pg",
        ),
    ];
    for (k, (config, from, message)) in cases.iter().enumerate() {
        let out = tmp.join(format!("refused-{k}"));
        let o = npg(
            tmp,
            &["--config", config, "--set", from, "--out", utf8(&out)],
        );
        assert_eq!(code(&o), 2, "{}", text(&o));
        assert!(stderr(&o).contains(message), "want {message}: {}", text(&o));
        assert!(!out.exists(), "nothing written");
    }
    assert_eq!(untimed(&a), full_rows);
    assert_eq!(untimed(&b), half_rows);
}

/// A metrics.csv that lost a row before the checkpoint would leave a gap, and another network
/// size or env count than the checkpoint's would not fit it: each is exit 2 naming what is wrong
/// (the second failed exit 1), with nothing written.
#[test]
fn a_gap_in_the_rows_or_another_network_size_is_refused() {
    let tmp = tempfile::tempdir().expect("tmp");
    let b = half_run(tmp.path());
    let (resume, smoke_cfg) = (format!("resume_from={}", b.display()), smoke());
    let metrics = b.join("metrics.csv");
    let whole = read(&metrics);
    let gap: Vec<&str> = whole
        .lines()
        .enumerate()
        .filter(|(k, _)| *k != 2)
        .map(|(_, l)| l)
        .collect();
    std::fs::write(&metrics, gap.join("\n") + "\n").expect("write");
    let out = tmp.path().join("gap");
    let args = [
        "--config",
        &smoke_cfg,
        "--set",
        &resume,
        "--out",
        utf8(&out),
    ];
    let o = npg(tmp.path(), &args);
    assert_eq!(code(&o), 2, "{}", text(&o));
    let want = "metrics.csv: line 3: `iter` is 3 where 2 was due";
    assert!(stderr(&o).contains(want), "want {want}: {}", text(&o));
    assert!(!out.exists(), "nothing written");
    std::fs::write(&metrics, whole).expect("write");
    let cases = [
        ("hidden=[16]", "hidden: [64,64] there, [16] now"),
        ("num_envs=2", "num_envs: 4 there, 2 now"),
    ];
    for (i, (set, want)) in cases.into_iter().enumerate() {
        let out = tmp.path().join(format!("misfit-{i}"));
        let args = [
            "--config",
            &smoke_cfg,
            "--set",
            &resume,
            "--set",
            set,
            "--out",
            utf8(&out),
        ];
        let o = npg(tmp.path(), &args);
        assert_eq!(code(&o), 2, "{set}: {}", text(&o));
        assert!(stderr(&o).contains(want), "{set}: {}", text(&o));
        assert!(!out.exists(), "{set}: nothing written");
    }
}
