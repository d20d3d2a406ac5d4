//! The versioned optimizer-state format: named tensors (saved as safetensors) plus a JSON header.
//!
//! Tensor keys are `<slot>/<parameter name>` (`exp_avg/h.0.mlp.weight`): state is matched to
//! parameters by *name*, never by position. On load:
//! - a header whose `format` is not one this build knows ([`unknown_version`]: newer, or 0, which no
//!   build ever wrote) or with another optimizer's name is refused, naming the file;
//! - a missing or unexpected key is an error that lists the names (a renamed parameter shows up
//!   as one of each); an optimizer may document a default instead for slots added later;
//! - a shape mismatch is an error naming the parameter, and so is another dtype than the
//!   buffer's (a file this build wrote has the buffer's own);
//! - [`StateDict::load`] refuses a tensor that is not floating point or holds NaN or ±inf (no
//!   checkpoint is written after a step whose update was not finite), naming file and key;
//! - [`StateDict::check_settings`] refuses settings in the header (group weight decay, `hyper`'s
//!   betas, ...) other than those of the optimizer the run's config builds: loading takes them
//!   from the file, so an edited or foreign file would silently override the config.
//!
//! Header fields added in later formats must have serde defaults, so older files still load.
use super::groups::GroupFlags;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use tch::Tensor;

/// Version written by this build; files with a larger number are refused.
pub const FORMAT_VERSION: u32 = 1;

/// Why `format` is not readable (1..=[`FORMAT_VERSION`]), or None.
fn unknown_format(format: u32) -> Option<String> {
    unknown_version("optimizer state", format, FORMAT_VERSION)
}

/// Why version `format` of a file of `what` is not one of 1..=`newest` (the versions a build
/// that writes `newest` reads), or None. 0 is no version any build wrote: an edited or foreign
/// file, refused like a newer one rather than read as the current format.
pub fn unknown_version(what: &str, format: u32, newest: u32) -> Option<String> {
    if (1..=newest).contains(&format) {
        return None;
    }
    let known = if newest == 1 {
        "format 1".to_string()
    } else {
        format!("formats 1 to {newest}")
    };
    let which = if format > newest {
        "newer than this build; use the build that wrote it"
    } else {
        "older than any format lab wrote; the file was edited or is not lab's"
    };
    Some(format!(
        "{what} has format {format}, this build reads {known} ({which})"
    ))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupState {
    pub name: String,
    /// Effective learning rate when saved.
    pub lr: f64,
    pub lr_mult: f64,
    pub weight_decay: f64,
    #[serde(default)]
    pub flags: GroupFlags,
    /// Parameter names, in the group's order.
    pub params: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateHeader {
    pub format: u32,
    pub optimizer: String,
    /// Completed steps.
    pub step: u64,
    pub groups: Vec<GroupState>,
    /// Optimizer-specific hyperparameters (AdamW: betas, eps, grad_clip).
    #[serde(default)]
    pub hyper: serde_json::Value,
}

/// A snapshot of an optimizer: header plus named tensors (copies, on the parameters' device).
#[derive(Debug)]
pub struct StateDict {
    pub header: StateHeader,
    pub tensors: Vec<(String, Tensor)>,
}

/// Tensor key of `slot` (e.g. `exp_avg`) for parameter `param`.
pub fn key(slot: &str, param: &str) -> String {
    format!("{slot}/{param}")
}

fn paths(dir: &Path, stem: &str) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("{stem}.safetensors")),
        dir.join(format!("{stem}.json")),
    )
}

/// Key prefix of a nested optimizer's tensors (K-FAC's and R-Kalman's fallback for parameters
/// outside their layers).
pub const FALLBACK: &str = "fallback.";

impl StateDict {
    /// This state's tensors with `prefix` prepended to every key (to nest it in another state;
    /// its header goes in the outer header).
    pub fn into_nested(self, prefix: &str) -> (StateHeader, Vec<(String, Tensor)>) {
        let tensors = self.tensors.into_iter();
        let tensors = tensors.map(|(k, t)| (format!("{prefix}{k}"), t)).collect();
        (self.header, tensors)
    }

    /// Split this state into its own tensors (same header) and the tensors nested under
    /// `prefix`, with the prefix removed (see [`StateDict::into_nested`]).
    pub fn split_nested(&self, prefix: &str) -> (StateDict, Vec<(String, Tensor)>) {
        let mut own = Vec::new();
        let mut nested = Vec::new();
        for (k, t) in &self.tensors {
            match k.strip_prefix(prefix) {
                Some(rest) => nested.push((rest.to_string(), t.shallow_clone())),
                None => own.push((k.clone(), t.shallow_clone())),
            }
        }
        let own = StateDict {
            header: self.header.clone(),
            tensors: own,
        };
        (own, nested)
    }

    pub fn tensor(&self, key: &str) -> Option<&Tensor> {
        self.tensors.iter().find(|(k, _)| k == key).map(|(_, t)| t)
    }

    /// Write `<dir>/<stem>.safetensors` and `<dir>/<stem>.json` (each via a temp file + rename).
    pub fn save(&self, dir: &Path, stem: &str) -> Result<()> {
        let (st, js) = paths(dir, stem);
        let tmp = dir.join(format!("{stem}.safetensors.tmp"));
        let cpu: Vec<(&str, Tensor)> = self
            .tensors
            .iter()
            .map(|(k, t)| (k.as_str(), t.to_device(tch::Device::Cpu).contiguous()))
            .collect();
        Tensor::write_safetensors(&cpu, &tmp)
            .and_then(|()| Ok(std::fs::rename(&tmp, &st)?))
            .with_context(|| format!("writing {}", st.display()))?;
        let text = serde_json::to_vec_pretty(&self.header)?;
        crate::run::write_atomic(&js, &text)
    }

    /// Read what [`StateDict::save`] wrote (tensors on the CPU; `load_state_dict` moves them).
    pub fn load(dir: &Path, stem: &str) -> Result<StateDict> {
        let (st, js) = paths(dir, stem);
        // A FIFO in its place blocked the resume forever, a device filled memory.
        let text =
            crate::input::read_result(&js).with_context(|| format!("reading {}", js.display()))?;
        let header: StateHeader = serde_json::from_str(&text)
            .with_context(|| format!("{} is not an optimizer state header", js.display()))?;
        if let Some(why) = unknown_format(header.format) {
            bail!("{}: {why}", js.display());
        }
        let tensors =
            Tensor::read_safetensors(&st).with_context(|| format!("reading {}", st.display()))?;
        for (k, t) in &tensors {
            if let Some(why) = not_finite_float(t) {
                bail!(
                    "{}: `{k}` {why}; the file is damaged or not an optimizer state this \
                     build wrote",
                    st.display()
                );
            }
        }
        Ok(StateDict { header, tensors })
    }

    /// This saved state's settings must be `fresh`'s (the header of the optimizer the run's
    /// config builds, before any step): each group's parameters, learning-rate multiplier,
    /// weight decay and flags, and every value of `hyper` but the state that changes as a run
    /// goes ([`STATE_KEYS`]) and the parts `fresh` has not made yet (null before the first
    /// step). Loading takes these settings from the file, so without this check a file
    /// written under other settings or edited by hand would silently override the config.
    pub fn check_settings(&self, fresh: &StateHeader) -> Result<()> {
        let saved = &self.header.groups;
        for g in &fresh.groups {
            let Some(s) = saved.iter().find(|s| s.name == g.name) else {
                bail!("has no parameter group `{}`, which this run has", g.name);
            };
            let at = |what: &str, there: String, here: String| {
                format!(
                    "group `{}`: `{what}` is {there} there, this run's config gives {here}",
                    g.name
                )
            };
            if s.params != g.params {
                bail!(at(
                    "params",
                    format!("{:?}", s.params),
                    format!("{:?}", g.params)
                ));
            }
            for (what, there, here) in [
                ("lr_mult", s.lr_mult, g.lr_mult),
                ("weight_decay", s.weight_decay, g.weight_decay),
            ] {
                if there != here {
                    bail!(at(what, there.to_string(), here.to_string()));
                }
            }
            if s.flags != g.flags {
                bail!(at(
                    "flags",
                    format!("{:?}", s.flags),
                    format!("{:?}", g.flags)
                ));
            }
        }
        if let Some(s) = saved
            .iter()
            .find(|s| !fresh.groups.iter().any(|g| g.name == s.name))
        {
            bail!("has a parameter group `{}`, which this run has not", s.name);
        }
        match hyper_differs(&self.header.hyper, &fresh.hyper, "hyper") {
            Some(why) => bail!(why),
            None => Ok(()),
        }
    }

    /// Refuse a format this build does not read ([`unknown_version`]) or another optimizer's state.
    pub fn check_header(&self, optimizer: &str) -> Result<()> {
        let h = &self.header;
        if let Some(why) = unknown_format(h.format) {
            bail!(why);
        }
        if h.optimizer != optimizer {
            bail!(
                "optimizer state is for `{}`, not `{optimizer}`",
                h.optimizer
            );
        }
        Ok(())
    }

    /// The tensor keys must be exactly `expected`: errors list missing and unexpected names.
    pub fn check_keys(&self, expected: &[String]) -> Result<()> {
        let have: BTreeSet<&str> = self.tensors.iter().map(|(k, _)| k.as_str()).collect();
        let want: BTreeSet<&str> = expected.iter().map(String::as_str).collect();
        if have.len() != self.tensors.len() {
            bail!("optimizer state holds a tensor name twice");
        }
        let missing: Vec<&str> = want.difference(&have).copied().collect();
        let unexpected: Vec<&str> = have.difference(&want).copied().collect();
        if !missing.is_empty() || !unexpected.is_empty() {
            bail!(
                "optimizer state does not match the parameters: missing {missing:?}, \
                 not a parameter of this model {unexpected:?}"
            );
        }
        Ok(())
    }
}

/// Keys of a header's `hyper` that hold state a run carries on, not settings: the current
/// learning rate (schedules move it), RNGs, counters, K-FAC's damping boost and inverse flags.
pub const STATE_KEYS: [&str; 5] = ["lr", "rng", "step", "damping_boost", "inverses"];

/// Where `saved` differs from `fresh` (see [`StateDict::check_settings`]); numbers compare as
/// f64, keys only `saved` has are left to the optimizer's own parsing.
fn hyper_differs(saved: &Value, fresh: &Value, at: &str) -> Option<String> {
    match (saved, fresh) {
        (_, Value::Null) => None,
        (Value::Object(s), Value::Object(f)) => f
            .iter()
            .filter(|(k, _)| !STATE_KEYS.contains(&k.as_str()))
            .find_map(|(k, fv)| {
                let sv = s.get(k).unwrap_or(&Value::Null);
                hyper_differs(sv, fv, &format!("{at}.{k}"))
            }),
        (Value::Array(s), Value::Array(f)) if s.len() == f.len() => s
            .iter()
            .zip(f)
            .enumerate()
            .find_map(|(i, (s, f))| hyper_differs(s, f, &format!("{at}[{i}]"))),
        (Value::Number(s), Value::Number(f)) if s.as_f64() == f.as_f64() => None,
        (s, f) if s == f => None,
        _ => Some(format!(
            "`{at}` is {saved} there, this run's config gives {fresh}"
        )),
    }
}

/// Why `t` cannot be saved optimizer state or weights: not floating point, or NaN/±inf in it.
pub fn not_finite_float(t: &Tensor) -> Option<String> {
    if !t.is_floating_point() {
        return Some(format!("holds {:?} values, not floating point", t.kind()));
    }
    let finite = t.isfinite().all().int64_value(&[]) != 0;
    (!finite).then(|| "holds NaN or infinite values".to_string())
}

/// A saved second moment (AdamW's `exp_avg_sq`, Sophia's `hessian`: averages of squares)
/// must have no negative entry: one would make AdamW's step NaN and Sophia's unbounded.
pub fn check_nonnegative(src: &Tensor, key: &str) -> Result<()> {
    if src.lt(0.0).any().int64_value(&[]) != 0 {
        bail!("optimizer state `{key}` has negative entries; it is an average of squares");
    }
    Ok(())
}

/// Shape and dtype of a saved tensor and its destination must agree (the error names the key).
pub fn check_shape(dst: &Tensor, src: &Tensor, key: &str) -> Result<()> {
    if dst.size() != src.size() {
        bail!(
            "optimizer state `{key}` has shape {:?}, the parameter has {:?}",
            src.size(),
            dst.size()
        );
    }
    if src.kind() != dst.kind() {
        bail!(
            "optimizer state `{key}` is {:?}, the buffer it restores is {:?}",
            src.kind(),
            dst.kind()
        );
    }
    Ok(())
}

/// Copy a saved tensor into `dst` (moved to its device); shapes and dtypes must agree.
pub fn copy_checked(dst: &Tensor, src: &Tensor, key: &str) -> Result<()> {
    check_shape(dst, src, key)?;
    let src = src.to_device(dst.device());
    let mut dst = dst.shallow_clone();
    tch::no_grad(|| dst.f_copy_(&src))?;
    Ok(())
}
