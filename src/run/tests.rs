//! Tests of [`super::Run`]: meta.json's last words, fresh rows.
use super::*;
use crate::signals::last_words;

fn status(dir: &Path) -> serde_json::Value {
    let text = fs::read_to_string(dir.join("meta.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Rows of the run's own work are counted across its CSVs; rows a resume carries over are
/// not (a usage error keeps the folder of a run with any, `experiment::launch`).
#[test]
fn fresh_rows_count_the_runs_own_rows_not_carried_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let args = RunArgs {
        out: Some(tmp.path().join("r")),
        quiet: true,
        ..RunArgs::default()
    };
    let run = Run::create("test", &args, "seed: 0\n", 0).unwrap();
    let (mut a, mut b) = (
        run.csv("a.csv", &["step"]).unwrap(),
        run.csv("b.csv", &["step", "x"]).unwrap(),
    );
    a.carried(&["1".into()]).unwrap();
    assert_eq!(run.fresh_rows(), 0);
    a.cells(&["2".into()]).unwrap();
    let mut row = b.new_row();
    row.num("step", 2.0).num("x", 0.5);
    b.write(&row).unwrap();
    assert_eq!(run.fresh_rows(), 2);
}

/// The last words (what a second signal or a fault writes) say how a live run ended, and
/// once the run wrote its final meta.json they no longer change it.
#[test]
fn last_words_describe_a_live_run_and_never_overwrite_a_finished_one() {
    let tmp = tempfile::tempdir().unwrap();
    let args = |name: &str| RunArgs {
        out: Some(tmp.path().join(name)),
        quiet: true,
        ..RunArgs::default()
    };
    let run = Run::create("test", &args("crashed"), "seed: 0\n", 0).unwrap();
    last_words::speak(libc::SIGSEGV);
    let meta = status(&run.dir);
    assert_eq!(meta["status"], "failed", "{meta}");
    assert!(meta["error"]
        .as_str()
        .unwrap()
        .starts_with("crashed with SIGSEGV"));
    assert_eq!(meta["start_time"], run.meta.start_time.as_str());
    last_words::speak(libc::SIGTERM); // spoken once per process: nothing more is written
    assert_eq!(status(&run.dir)["status"], "failed");

    let run = Run::create("test", &args("aborted"), "seed: 0\n", 0).unwrap();
    let dir = run.dir.clone();
    last_words::speak(libc::SIGTERM);
    let meta = status(&dir);
    assert_eq!(meta["status"], "interrupted", "{meta}");
    assert!(meta["error"]
        .as_str()
        .unwrap()
        .contains("second signal (SIGTERM)"));

    let run = Run::create("test", &args("done"), "seed: 0\n", 0).unwrap();
    let dir = run.dir.clone();
    run.finish(&Ok(())).unwrap();
    last_words::speak(libc::SIGSEGV);
    assert_eq!(status(&dir)["status"], "completed");
    let leftovers: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
