//! AdamW's config (serde, `deny_unknown_fields`). Defaults are PyTorch's `torch.optim.AdamW`
//! except `weight_decay`, which applies to the `decay` group only (see [`super::groups`]).
use super::groups::{default_no_decay_patterns, GroupFlags, GroupRule};
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

/// A group defined by name patterns; overrides the default decay/no-decay split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupOverride {
    pub name: String,
    /// A parameter whose name contains any of these joins this group.
    pub patterns: Vec<String>,
    #[serde(default = "one")]
    pub lr_mult: f64,
    /// None: the config's `weight_decay`.
    #[serde(default)]
    pub weight_decay: Option<f64>,
    #[serde(default)]
    pub flags: GroupFlags,
}

fn one() -> f64 {
    1.0
}

/// The weight decays of a config (its own and every group's) are finite and ≥ 0, then
/// [`check_groups`]; errors read "`<optimizer>`: `weight_decay` must be ≥ 0, got …" (SGD, Sophia).
pub fn check_decays_and_groups(
    optimizer: &str,
    weight_decay: f64,
    groups: &[GroupOverride],
) -> Result<()> {
    let decays = groups.iter().filter_map(|g| g.weight_decay);
    for wd in std::iter::once(weight_decay).chain(decays) {
        if !(wd.is_finite() && wd >= 0.0) {
            bail!("{optimizer}: `weight_decay` must be ≥ 0, got {wd}");
        }
    }
    check_groups(groups)
}

/// The grouping rule of a config's `weight_decay`, `no_decay_patterns` and `groups`.
pub fn group_rule(weight_decay: f64, patterns: &[String], groups: &[GroupOverride]) -> GroupRule {
    GroupRule {
        weight_decay,
        no_decay_patterns: patterns.to_vec(),
        overrides: groups.to_vec(),
    }
}

/// Checks shared by every optimizer config with `groups` (AdamW, SGD, Sophia): lr multipliers,
/// non-empty patterns, reserved names. (Decay values are checked with the config's own.)
pub fn check_groups(groups: &[GroupOverride]) -> Result<()> {
    for g in groups {
        if !(g.lr_mult.is_finite() && g.lr_mult >= 0.0) {
            bail!("optimizer group `{}`: lr_mult must be ≥ 0", g.name);
        }
        if g.patterns.is_empty() || g.patterns.iter().any(|p| p.is_empty()) {
            bail!("optimizer group `{}`: give non-empty patterns", g.name);
        }
        if g.name == "decay" || g.name == "no_decay" {
            bail!("optimizer group name `{}` is reserved", g.name);
        }
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdamWConfig {
    /// Base learning rate (a schedule may change it every step via `set_lr`).
    pub lr: f64,
    pub betas: [f64; 2],
    pub eps: f64,
    /// Decoupled weight decay of the `decay` group (matrices).
    pub weight_decay: f64,
    /// Clip the global gradient L2 norm to this value before each step; None = off.
    pub grad_clip: Option<f64>,
    /// Name substrings that mark embeddings (no weight decay).
    pub no_decay_patterns: Vec<String>,
    pub groups: Vec<GroupOverride>,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig {
            lr: 1e-3,
            betas: [0.9, 0.999],
            eps: 1e-8,
            weight_decay: 0.01,
            grad_clip: None,
            no_decay_patterns: default_no_decay_patterns(),
            groups: Vec::new(),
        }
    }
}

impl AdamWConfig {
    pub fn validate(&self) -> Result<()> {
        let [b1, b2] = self.betas;
        if !(self.lr.is_finite() && self.lr >= 0.0) {
            bail!("optimizer lr must be ≥ 0, got {}", self.lr);
        }
        if !((0.0..1.0).contains(&b1) && (0.0..1.0).contains(&b2)) {
            bail!("optimizer betas must lie in [0, 1), got [{b1}, {b2}]");
        }
        if !(self.eps.is_finite() && self.eps > 0.0) {
            bail!("optimizer eps must be > 0, got {}", self.eps);
        }
        let decays = self.groups.iter().filter_map(|g| g.weight_decay);
        for wd in std::iter::once(self.weight_decay).chain(decays) {
            if !(wd.is_finite() && wd >= 0.0) {
                bail!("optimizer weight_decay must be ≥ 0, got {wd}");
            }
        }
        if let Some(c) = self.grad_clip {
            if !(c.is_finite() && c > 0.0) {
                bail!("optimizer grad_clip must be > 0 (or absent), got {c}");
            }
        }
        check_groups(&self.groups)
    }

    /// The grouping rule this config implies.
    pub fn rule(&self) -> GroupRule {
        group_rule(self.weight_decay, &self.no_decay_patterns, &self.groups)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_with_defaults_and_rejects_unknown_keys() {
        let c: AdamWConfig =
            serde_yaml_ng::from_str("lr: 0.002\nbetas: [0.9, 0.95]\ngrad_clip: 1.0\n").unwrap();
        assert_eq!(c.lr, 0.002);
        assert_eq!(c.betas, [0.9, 0.95]);
        assert_eq!(c.grad_clip, Some(1.0));
        assert_eq!(c.eps, 1e-8);
        c.validate().unwrap();
        assert!(serde_yaml_ng::from_str::<AdamWConfig>("beta1: 0.9\n").is_err());
        let bad: AdamWConfig = serde_yaml_ng::from_str("betas: [0.9, 1.0]\n").unwrap();
        assert!(bad.validate().is_err());
        let g: AdamWConfig = serde_yaml_ng::from_str(
            "groups: [{name: head, patterns: [lm_head], flags: {kfac: true}}]",
        )
        .unwrap();
        assert_eq!(g.groups[0].lr_mult, 1.0);
        assert!(g.groups[0].flags.kfac);
    }
}
