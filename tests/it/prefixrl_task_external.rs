//! The external checker task (spec §7.10 item 6): a checker process that replies, stays alive
//! between problems, is killed and restarted after a timeout or a crash, and whose bad replies
//! score 0 with the error; a command that cannot start is a usage error.
use crate::prefixrl_task::{problem, write};
use lab::prefixrl::task::{self, External, ExternalConfig, Task, TaskConfig, Verdict};
use std::path::Path;

/// A `sh` script in `dir` as an external checker command.
fn script(dir: &Path, name: &str, body: &str) -> ExternalConfig {
    let path = write(dir, name, body);
    ExternalConfig {
        command: vec!["sh".into(), path.display().to_string()],
        timeout_ms: 5000,
    }
}

#[test]
fn external_replies_and_stays_alive() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The reward depends on the solution, and the second call proves the same process answers.
    let cfg = script(
        dir.path(),
        "ok.sh",
        "n=0\nwhile read line; do n=$((n+1))\n\
         case \"$line\" in *'\"solution\":\"good\"'*) echo \"{\\\"reward\\\": 1}\";;\n\
         *) echo \"{\\\"reward\\\": 0.$n}\";; esac\ndone\n",
    );
    let mut t = External::start(cfg, "task").expect("start");
    let p = problem("external", "q");
    assert_eq!(t.check(&p, "good", true), Verdict::pass());
    let v = t.check(&p, "bad", true);
    assert_eq!((v.reward, v.error), (0.2, false));
    assert_eq!(t.check(&p, "good", false).reason, Some("no_eos"));
    assert_eq!(t.starts(), 1);
}

#[test]
fn external_timeout_kills_and_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mark = dir.path().join("hung");
    let body = format!(
        "while read line; do\n\
         if [ ! -e {m} ]; then touch {m}; sleep 5; fi\n\
         echo '{{\"reward\": 1}}'\ndone\n",
        m = mark.display()
    );
    // 1 s, not less: the restarted process must answer within it on a loaded machine.
    let cfg = ExternalConfig {
        timeout_ms: 1000,
        ..script(dir.path(), "hang.sh", &body)
    };
    let mut t = External::start(cfg, "task").expect("start");
    let p = problem("external", "q");
    assert_eq!(t.check(&p, "s", true), Verdict::error("timeout"));
    // The hung process was killed; the next call starts a new one, which replies.
    assert_eq!(t.check(&p, "s", true), Verdict::pass());
    assert_eq!(t.starts(), 2);
}

#[test]
fn external_crash_then_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mark = dir.path().join("crashed");
    let body = format!(
        "while read line; do\n\
         if [ ! -e {m} ]; then touch {m}; exit 3; fi\n\
         echo '{{\"reward\": 0.5}}'\ndone\n",
        m = mark.display()
    );
    let cfg = script(dir.path(), "crash.sh", &body);
    let mut t = External::start(cfg, "task").expect("start");
    let p = problem("external", "q");
    assert_eq!(t.check(&p, "s", true), Verdict::error("crash"));
    let v = t.check(&p, "s", true);
    assert_eq!((v.reward, v.error), (0.5, false));
    assert_eq!(t.starts(), 2);
}

#[test]
fn external_bad_replies_score_zero_with_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let body = "read l; echo 'not json'\nread l; echo '{\"reward\": 1.5}'\n\
                read l; echo '{\"score\": 1}'\nread l; echo '{\"reward\": 1}'\n";
    let cfg = script(dir.path(), "bad.sh", body);
    let mut t = External::start(cfg, "task").expect("start");
    let p = problem("external", "q");
    for _ in 0..3 {
        assert_eq!(t.check(&p, "s", true), Verdict::error("reply"));
    }
    // Still the same process, in step.
    assert_eq!(t.check(&p, "s", true), Verdict::pass());
    assert_eq!(t.starts(), 1);
}

#[test]
fn external_command_that_cannot_start_is_a_usage_error() {
    let cfg: TaskConfig =
        serde_yaml_ng::from_str("kind: external\ncommand: [/nonexistent/checker]\n").expect("yaml");
    let err = task::build(&cfg).err().expect("no such program");
    assert!(err.to_string().contains("task.command"), "{err}");
    assert_eq!(lab::error::exit_code(&err), 2);
}
