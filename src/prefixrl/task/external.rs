//! `external` (spec §8): a user command scores solutions. It is started once and kept alive;
//! each check writes one line `{"problem": <Problem>, "solution": "..."}` to its stdin and reads
//! one line `{"reward": x}` from its stdout, x in [0, 1].
//!
//! A reply later than `timeout_ms` gives reward 0 with `error`, and the process is killed (and
//! started again on the next check). A process that exits, a reply that is not that JSON or a
//! reward outside [0, 1] also give reward 0 with `error`. A command that cannot be started at
//! all is a usage error naming `task.command` (tried when the task is built). Its stderr goes to
//! ours. A completion that did not end on `<eos>` scores 0 (reason `no_eos`) without a
//! call. Problems are generated elsewhere: `sample` is an error.
use super::{Problem, Task, Verdict};
use crate::config::Checker;
use crate::error::usage;
use anyhow::Result;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::Duration;

/// The `task:` keys of `kind: external`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalConfig {
    /// Program and arguments (no shell).
    pub command: Vec<String>,
    /// Per-check limit on the reply.
    #[serde(default = "d_timeout_ms")]
    pub timeout_ms: u64,
}

fn d_timeout_ms() -> u64 {
    2000
}

impl ExternalConfig {
    pub fn validate_at(&self, c: &mut Checker, at: &str) {
        c.check(
            &format!("{at}.command"),
            self.command.first().is_some_and(|p| !p.is_empty()),
            "must name a program (a list: [program, args...])",
        );
        c.check(
            &format!("{at}.timeout_ms"),
            self.timeout_ms >= 1,
            "must be >= 1",
        );
    }
}

/// A running checker process: its stdin and the lines its stdout thread reads.
struct Process {
    child: Child,
    stdin: ChildStdin,
    replies: Receiver<String>,
}

impl Process {
    fn spawn(command: &[String]) -> std::io::Result<Process> {
        let (program, args) = command
            .split_first()
            .ok_or_else(|| std::io::Error::other("empty command"))?;
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let (stdin, stdout) = match (child.stdin.take(), child.stdout.take()) {
            (Some(i), Some(o)) => (i, o),
            _ => return Err(std::io::Error::other("no pipes to the child")),
        };
        let (send, replies) = channel();
        // Ends when the child's stdout closes (it exited or was killed) or we hang up.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Process {
            child,
            stdin,
            replies,
        })
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Deserialize)]
struct Reply {
    reward: f64,
}

/// The external task (module doc).
pub struct External {
    cfg: ExternalConfig,
    process: Option<Process>,
    /// Processes started so far (the first included).
    starts: u64,
}

impl External {
    /// Start the command; `at` is the config path used in the error (`task`).
    pub fn start(cfg: ExternalConfig, at: &str) -> Result<External> {
        let process = Process::spawn(&cfg.command).map_err(|e| {
            usage(format!(
                "`{at}.command` {:?} could not be started: {e}",
                cfg.command
            ))
        })?;
        Ok(External {
            cfg,
            process: Some(process),
            starts: 1,
        })
    }

    /// How many times the command was started (1 + restarts after a failure).
    pub fn starts(&self) -> u64 {
        self.starts
    }

    /// One request/reply exchange; on a failure the process is dropped (killed) or kept as
    /// the failure allows.
    fn ask(&mut self, request: &str) -> Verdict {
        let mut process = match self.process.take() {
            Some(p) => p,
            None => match Process::spawn(&self.cfg.command) {
                Ok(p) => {
                    self.starts += 1;
                    p
                }
                Err(_) => return Verdict::error("start"),
            },
        };
        let sent = writeln!(process.stdin, "{request}").and_then(|()| process.stdin.flush());
        if sent.is_err() {
            process.kill();
            return Verdict::error("crash");
        }
        let timeout = Duration::from_millis(self.cfg.timeout_ms);
        match process.replies.recv_timeout(timeout) {
            Err(RecvTimeoutError::Timeout) => {
                process.kill();
                Verdict::error("timeout")
            }
            Err(RecvTimeoutError::Disconnected) => {
                process.kill();
                Verdict::error("crash")
            }
            Ok(line) => {
                self.process = Some(process);
                match serde_json::from_str::<Reply>(&line) {
                    Ok(r) if r.reward.is_finite() && (0.0..=1.0).contains(&r.reward) => Verdict {
                        reward: r.reward,
                        reason: (r.reward < 1.0).then_some("external"),
                        error: false,
                    },
                    _ => Verdict::error("reply"),
                }
            }
        }
    }
}

impl Drop for External {
    fn drop(&mut self) {
        if let Some(p) = self.process.take() {
            p.kill();
        }
    }
}

impl Task for External {
    fn name(&self) -> &'static str {
        "external"
    }

    fn alphabet(&self) -> Option<Vec<char>> {
        None
    }

    fn sample(&self, _rng: &mut ChaCha8Rng, _level: u32, _id: String) -> Result<Problem> {
        Err(usage(
            "task kind `external` does not generate problems: give a problems.jsonl file",
        ))
    }

    /// A completion that did not end on `<eos>` scores 0 without asking (as in every task).
    fn check(&mut self, p: &Problem, solution: &str, ended: bool) -> Verdict {
        if !ended {
            return Verdict::fail("no_eos");
        }
        let request = serde_json::json!({"problem": p, "solution": solution});
        self.ask(&request.to_string())
    }

    fn oracle(&self, p: &Problem) -> Option<String> {
        p.oracle.clone()
    }

    fn step_delimiter(&self) -> Option<char> {
        None
    }
}
