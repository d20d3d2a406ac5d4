//! Tasks (spec §7.1, §8 "bring your own task"): a generator of problems, a total deterministic
//! checker of full solution texts (prefix ⊕ completion), an oracle trace and the alphabet the
//! char tokenizer is built over.
//!
//! | kind | problems | checker |
//! |---|---|---|
//! | `countdown` | generated: n numbers, reach the target with `+ - *` (`/` optional) | step by step, §7.1 |
//! | `path` | generated: a random directed graph, a source and a target | every hop an edge |
//! | `exact-answer` | a JSONL file `{id, prompt, answer}` | the text after a marker equals the answer |
//! | `external` | (generated elsewhere) | a user command over JSON lines |
//!
//! Reading order: this file ([`Problem`], [`Verdict`], [`Task`], [`TaskConfig`], [`build`],
//! [`tokenizer`]), then `countdown.rs`, `path.rs`, `exact.rs`, `external.rs`.
pub mod countdown;
pub mod exact;
pub mod external;
pub mod path;

use crate::config::{Checker, Validate};
use crate::data::tokenizer::{BytesTokenizer, CharTokenizer, Tokenizer};
use crate::error::usage;
use anyhow::Result;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub use countdown::{Countdown, CountdownConfig};
pub use exact::{ExactAnswer, ExactConfig};
pub use external::{External, ExternalConfig};
pub use path::{PathConfig, PathTask};

/// One problems.jsonl line (§7.2). Unknown JSON fields ignored.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Problem {
    pub id: String,
    pub task: String,
    pub difficulty: u32,
    pub prompt: String,
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub meta: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oracle: Option<String>,
}

/// A checker's answer. `reason`: a short failure class for the `checker_fail_<reason>` counters
/// (§9; e.g. "format", "arithmetic", "unavailable", "range", "unused", "target", "no_eos",
/// "empty", "path"); `error`: the checker itself failed (external process crash/timeout/bad
/// reply) → reward 0, counted in `checker_errors`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Verdict {
    pub reward: f64,
    pub reason: Option<&'static str>,
    pub error: bool,
}

impl Verdict {
    /// Reward 1, no failure.
    pub fn pass() -> Verdict {
        Verdict {
            reward: 1.0,
            reason: None,
            error: false,
        }
    }
    /// Reward 0 for a wrong solution, with its failure class.
    pub fn fail(reason: &'static str) -> Verdict {
        Verdict {
            reward: 0.0,
            reason: Some(reason),
            error: false,
        }
    }
    /// Reward 0 because the checker itself failed.
    pub fn error(reason: &'static str) -> Verdict {
        Verdict {
            reward: 0.0,
            reason: Some(reason),
            error: true,
        }
    }
}

/// A task (module doc).
pub trait Task: Send {
    fn name(&self) -> &'static str;
    /// Characters of prompts and solutions (a char tokenizer over them + <bos> <eos> <pad>);
    /// None: the bytes tokenizer.
    fn alphabet(&self) -> Option<Vec<char>>;
    /// A fresh instance at difficulty `level` (countdown: n numbers), id given by the caller.
    fn sample(&self, rng: &mut ChaCha8Rng, level: u32, id: String) -> Result<Problem>;
    /// Problems a file-backed task serves instead of sampling (exact-answer); default None.
    fn fixed_pool(&self) -> Option<&[Problem]> {
        None
    }
    /// Score the full solution text (prefix ⊕ completion, `<eos>` NOT included); `ended`: it
    /// ended on <eos>.
    fn check(&mut self, p: &Problem, solution: &str, ended: bool) -> Verdict;
    fn oracle(&self, p: &Problem) -> Option<String>;
    fn step_delimiter(&self) -> Option<char>;
}

/// The `task:` section, kind-tagged (`kind: countdown|path|exact-answer|external`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum TaskConfig {
    Countdown(CountdownConfig),
    Path(PathConfig),
    ExactAnswer(ExactConfig),
    External(ExternalConfig),
}

impl Default for TaskConfig {
    fn default() -> TaskConfig {
        TaskConfig::Countdown(CountdownConfig::default())
    }
}

impl TaskConfig {
    /// Range checks, with key paths under `at` (e.g. `task.vmax`).
    pub fn validate_at(&self, c: &mut Checker, at: &str) {
        match self {
            TaskConfig::Countdown(k) => k.validate_at(c, at),
            TaskConfig::Path(k) => k.validate_at(c, at),
            TaskConfig::ExactAnswer(k) => k.validate_at(c, at),
            TaskConfig::External(k) => k.validate_at(c, at),
        }
    }
}

impl Validate for TaskConfig {
    fn validate(&self, c: &mut Checker) {
        self.validate_at(c, "task");
    }
}

/// The task of `cfg` (validated first; a bad value is a usage error naming `task.<key>`).
pub fn build(cfg: &TaskConfig) -> Result<Box<dyn Task>> {
    let mut checker = Checker::default();
    cfg.validate_at(&mut checker, "task");
    if !checker.problems.is_empty() {
        let all: Vec<String> = checker
            .problems
            .iter()
            .map(|(key, why)| format!("`{key}` {why}"))
            .collect();
        return Err(usage(all.join("; ")));
    }
    Ok(match cfg {
        TaskConfig::Countdown(k) => Box::new(Countdown::new(k.clone())),
        TaskConfig::Path(k) => Box::new(PathTask::new(k.clone())),
        TaskConfig::ExactAnswer(k) => Box::new(ExactAnswer::load(k.clone())?),
        TaskConfig::External(k) => Box::new(External::start(k.clone(), "task")?),
    })
}

/// The special tokens every prefixrl tokenizer has, in this order.
pub const SPECIALS: [&str; 3] = ["<bos>", "<eos>", "<pad>"];

/// A char tokenizer over the task's alphabet, or the bytes tokenizer; specials [`SPECIALS`].
pub fn tokenizer(task: &dyn Task) -> Result<Tokenizer> {
    let specials: Vec<String> = SPECIALS.iter().map(|s| s.to_string()).collect();
    Ok(match task.alphabet() {
        Some(mut chars) => {
            chars.sort_unstable();
            chars.dedup();
            Tokenizer::Char(CharTokenizer::from_parts(chars, specials)?)
        }
        None => Tokenizer::Bytes(BytesTokenizer::new(specials)),
    })
}
