//! The versioned optimizer-state format: named tensors (saved as safetensors) plus a JSON header.
//!
//! Tensor keys are `<slot>/<parameter name>` (`exp_avg/h.0.mlp.weight`): state is matched to
//! parameters by *name*, never by position. On load:
//! - a header with a newer `format` or another optimizer's name is refused;
//! - a missing or unexpected key is an error that lists the names (a renamed parameter shows up
//!   as one of each); an optimizer may document a default instead for slots added later;
//! - a shape mismatch is an error naming the parameter; dtypes are converted to the parameter's.
//!
//! Header fields added in later formats must have serde defaults, so older files still load.
use super::groups::GroupFlags;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use tch::Tensor;

/// Version written by this build; files with a larger number are refused.
pub const FORMAT_VERSION: u32 = 1;

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
        let text =
            std::fs::read_to_string(&js).with_context(|| format!("reading {}", js.display()))?;
        let header: StateHeader = serde_json::from_str(&text)
            .with_context(|| format!("{} is not an optimizer state header", js.display()))?;
        let tensors =
            Tensor::read_safetensors(&st).with_context(|| format!("reading {}", st.display()))?;
        Ok(StateDict { header, tensors })
    }

    /// Refuse a newer format or another optimizer's state.
    pub fn check_header(&self, optimizer: &str) -> Result<()> {
        let h = &self.header;
        if h.format > FORMAT_VERSION {
            bail!(
                "optimizer state has format {}, this build reads up to {FORMAT_VERSION}",
                h.format
            );
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

/// Shapes of a saved tensor and its destination must agree (the error names the key).
pub fn check_shape(dst: &Tensor, src: &Tensor, key: &str) -> Result<()> {
    if dst.size() != src.size() {
        bail!(
            "optimizer state `{key}` has shape {:?}, the parameter has {:?}",
            src.size(),
            dst.size()
        );
    }
    Ok(())
}

/// Copy a saved tensor into `dst` (converted to its dtype/device); shapes must agree.
pub fn copy_checked(dst: &Tensor, src: &Tensor, key: &str) -> Result<()> {
    check_shape(dst, src, key)?;
    let src = src.to_device(dst.device()).to_kind(dst.kind());
    let mut dst = dst.shallow_clone();
    tch::no_grad(|| dst.f_copy_(&src))?;
    Ok(())
}
