//! The config values that carry a payload in one string: `traces.source` (`model:<run dir>`,
//! `jsonl:<file>`) and `offpolicy.is_clip` (`max:<c>`), parsed when the config is read.
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

/// `none` | `ppo` | `max:<c>` (§3 row 4).
#[derive(Deserialize, Serialize, Debug, Clone, Copy, PartialEq)]
#[serde(try_from = "String", into = "String")]
pub enum IsClip {
    None,
    Ppo,
    Max(f64),
}

impl TryFrom<String> for IsClip {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "none" => return Ok(IsClip::None),
            "ppo" => return Ok(IsClip::Ppo),
            _ => {}
        }
        s.strip_prefix("max:")
            .and_then(|c| c.trim().parse::<f64>().ok())
            .map(IsClip::Max)
            .ok_or_else(|| format!("`{s}` is not an IS clip: expected none, ppo or max:<c>"))
    }
}

impl From<IsClip> for String {
    fn from(c: IsClip) -> String {
        match c {
            IsClip::None => "none".into(),
            IsClip::Ppo => "ppo".into(),
            IsClip::Max(c) => format!("max:{c}"),
        }
    }
}
