//! The config values that carry a payload in one string: `traces.source` (`model:<run dir>`,
//! `jsonl:<file>`), parsed when the config is read.
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// `base` | `oracle` | `model:<run dir>` | `jsonl:<file>` (§7.5).
#[derive(Deserialize, Serialize, Debug, Clone, PartialEq)]
#[serde(try_from = "String", into = "String")]
pub enum TraceSource {
    /// Rejection sampling from the base model (`inputs.base`).
    Base,
    /// The task's oracle solutions.
    Oracle,
    /// Rejection sampling from the base model of another pretrain run.
    Model(PathBuf),
    /// Traces read from a user's traces.jsonl.
    Jsonl(PathBuf),
}

impl TryFrom<String> for TraceSource {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "base" => return Ok(TraceSource::Base),
            "oracle" => return Ok(TraceSource::Oracle),
            _ => {}
        }
        let payload = |p: &str| (!p.is_empty()).then(|| PathBuf::from(p));
        let parsed = match s.split_once(':') {
            Some(("model", p)) => payload(p).map(TraceSource::Model),
            Some(("jsonl", p)) => payload(p).map(TraceSource::Jsonl),
            _ => None,
        };
        parsed.ok_or_else(|| {
            format!("`{s}` is not a trace source: expected base, oracle, model:<run dir> or jsonl:<file>")
        })
    }
}

impl From<TraceSource> for String {
    fn from(t: TraceSource) -> String {
        match t {
            TraceSource::Base => "base".into(),
            TraceSource::Oracle => "oracle".into(),
            TraceSource::Model(p) => format!("model:{}", p.display()),
            TraceSource::Jsonl(p) => format!("jsonl:{}", p.display()),
        }
    }
}
