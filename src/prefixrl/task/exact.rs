//! `exact-answer` (spec §8): problems from a JSONL file, one `{"id", "prompt", "answer"}` per
//! line (optional `difficulty`, default 0, and `solution`, served as the oracle). A solution
//! scores 1 when the text after the last `marker` (default `####`), trimmed, equals the
//! answer (trimmed) and the completion ended on `<eos>`. Bytes tokenizer.
use super::{Problem, Task, Verdict};
use crate::config::Checker;
use crate::error::usage;
use crate::prefixrl::jsonl::{check_unique, read_lines};
use anyhow::Result;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The `task:` keys of `kind: exact-answer`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExactConfig {
    /// The problems file (JSONL).
    pub file: PathBuf,
    /// The answer is the text after the last occurrence of this marker.
    #[serde(default = "d_marker")]
    pub marker: String,
}

fn d_marker() -> String {
    "####".into()
}

impl ExactConfig {
    pub fn validate_at(&self, c: &mut Checker, at: &str) {
        c.check(
            &format!("{at}.file"),
            !self.file.as_os_str().is_empty(),
            "must name a JSONL file",
        );
        c.check(
            &format!("{at}.marker"),
            !self.marker.trim().is_empty(),
            "must not be blank",
        );
    }
}

/// One line of the problems file.
#[derive(Deserialize)]
struct Line {
    id: String,
    prompt: String,
    answer: serde_json::Value,
    #[serde(default)]
    difficulty: u32,
    #[serde(default)]
    solution: Option<String>,
}

/// The answer as text: a JSON string as is, a number or other value as JSON writes it.
fn answer_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.trim().to_string(),
        other => other.to_string(),
    }
}

/// The exact-answer task (module doc).
pub struct ExactAnswer {
    cfg: ExactConfig,
    pool: Vec<Problem>,
}

impl ExactAnswer {
    /// Read `cfg.file` (a bad line or a duplicate id is a usage error naming file and line).
    pub fn load(cfg: ExactConfig) -> Result<ExactAnswer> {
        let rows: Vec<(usize, Line)> = read_lines(&cfg.file)?;
        check_unique(&cfg.file, &rows, "id", |l| {
            (l.id.clone(), format!("`{}`", l.id))
        })?;
        let pool = rows
            .into_iter()
            .map(|(_, l)| Problem {
                meta: serde_json::json!({"answer": answer_text(&l.answer)}),
                id: l.id,
                task: "exact-answer".into(),
                difficulty: l.difficulty,
                prompt: l.prompt,
                oracle: l.solution,
            })
            .collect();
        Ok(ExactAnswer { cfg, pool })
    }

    /// The answer `solution` gives: the text after the last marker, trimmed.
    pub fn extract<'a>(&self, solution: &'a str) -> Option<&'a str> {
        let at = solution.rfind(&self.cfg.marker)?;
        Some(solution[at + self.cfg.marker.len()..].trim())
    }
}

impl Task for ExactAnswer {
    fn name(&self) -> &'static str {
        "exact-answer"
    }

    fn alphabet(&self) -> Option<Vec<char>> {
        None
    }

    /// A uniformly random pool problem of difficulty `level`, under the id `id`.
    fn sample(&self, rng: &mut ChaCha8Rng, level: u32, id: String) -> Result<Problem> {
        let at: Vec<&Problem> = self.pool.iter().filter(|p| p.difficulty == level).collect();
        if at.is_empty() {
            return Err(usage(format!(
                "exact-answer: {} has no problem of difficulty {level}",
                self.cfg.file.display()
            )));
        }
        let mut p = at[rng.gen_range(0..at.len())].clone();
        p.id = id;
        Ok(p)
    }

    fn fixed_pool(&self) -> Option<&[Problem]> {
        Some(&self.pool)
    }

    fn check(&mut self, p: &Problem, solution: &str, ended: bool) -> Verdict {
        let Some(answer) = p.meta.get("answer") else {
            return Verdict::error("problem");
        };
        if solution.is_empty() {
            return Verdict::fail("empty");
        }
        if !ended {
            return Verdict::fail("no_eos");
        }
        match self.extract(solution) {
            None => Verdict::fail("format"),
            Some(given) if given == answer_text(answer) => Verdict::pass(),
            Some(_) => Verdict::fail("answer"),
        }
    }

    fn oracle(&self, p: &Problem) -> Option<String> {
        p.oracle.clone()
    }

    fn step_delimiter(&self) -> Option<char> {
        None
    }
}
