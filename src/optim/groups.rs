//! Parameter groups: each trainable variable of a `VarStore` goes to exactly one group, which
//! carries its learning-rate multiplier, weight decay and free-form flags.
//!
//! Default rule ([`GroupRule`]): a parameter whose name matches an override's pattern goes to
//! that override's group (first match wins); otherwise 1-D tensors (biases, norm weights) and
//! embeddings go to `no_decay` (weight decay 0) and everything else to `decay`.
//! A name *matches* a pattern when it contains it as a substring; embeddings are recognised by
//! the patterns in `no_decay_patterns` (default `wte`, `wpe`, `emb`), so name embedding tables
//! accordingly (`wte.weight`, `pos_emb`, ...). An empty `decay` or `no_decay` group is dropped;
//! an override that takes no parameter (a pattern typo, or names an earlier override took) is
//! an error naming the model's parameters, not a group that silently does nothing.
use super::config::GroupOverride;
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use tch::nn::VarStore;
use tch::Tensor;

/// Flags a later optimizer may read per group (ignored by AdamW).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GroupFlags {
    /// Precondition this group with K-FAC (grng).
    pub kfac: bool,
}

/// One group: its parameters (sorted by name) and hyperparameters.
#[derive(Debug)]
pub struct ParamGroup {
    pub name: String,
    pub params: Vec<(String, Tensor)>,
    pub lr_mult: f64,
    pub weight_decay: f64,
    pub flags: GroupFlags,
}

impl ParamGroup {
    pub fn numel(&self) -> usize {
        self.params.iter().map(|(_, t)| t.numel()).sum()
    }
}

/// How [`param_groups`] assigns parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRule {
    /// Weight decay of the `decay` group.
    pub weight_decay: f64,
    /// Name substrings that mark an embedding (no decay).
    pub no_decay_patterns: Vec<String>,
    pub overrides: Vec<GroupOverride>,
}

/// Default embedding patterns.
pub fn default_no_decay_patterns() -> Vec<String> {
    ["wte", "wpe", "emb"].map(String::from).to_vec()
}

impl GroupRule {
    pub fn new(weight_decay: f64) -> Self {
        GroupRule {
            weight_decay,
            no_decay_patterns: default_no_decay_patterns(),
            overrides: Vec::new(),
        }
    }

    /// The group name a parameter goes to (`decay`, `no_decay` or an override's name).
    pub fn group_of(&self, name: &str, dim: usize) -> &str {
        if let Some(o) = self
            .overrides
            .iter()
            .find(|o| o.patterns.iter().any(|p| name.contains(p.as_str())))
        {
            return &o.name;
        }
        let embedding = self
            .no_decay_patterns
            .iter()
            .any(|p| name.contains(p.as_str()));
        if dim < 2 || embedding {
            "no_decay"
        } else {
            "decay"
        }
    }
}

/// The trainable variables of `vs`, sorted by name.
pub fn trainable(vs: &VarStore) -> Vec<(String, Tensor)> {
    let mut vars: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .filter(|(_, t)| t.requires_grad())
        .collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    vars
}

/// The names and ranks of the trainable variables of `vs` ([`trainable`]), what
/// [`first_unused_override`] reads.
pub fn trainable_dims(vs: &VarStore) -> Vec<(String, usize)> {
    let vars = trainable(vs).into_iter();
    vars.map(|(n, t)| (n, t.dim())).collect()
}

/// Groups from the trainable variables of `vs` (in order: `decay`, `no_decay`, then overrides).
pub fn param_groups(vs: &VarStore, rule: &GroupRule) -> Result<Vec<ParamGroup>> {
    groups_from(trainable(vs), rule)
}

/// Every group's learning rate set to `base` × its multiplier (`Optimizer::set_lr`).
pub fn set_base_lr(lrs: &mut [f64], groups: &[ParamGroup], base: f64) {
    for (lr, g) in lrs.iter_mut().zip(groups) {
        *lr = base * g.lr_mult;
    }
}

/// One group's learning rate (`Optimizer::set_group_lr`); an index past the last group is an
/// error.
pub fn set_group_lr(lrs: &mut [f64], group: usize, lr: f64) -> Result<()> {
    match lrs.get_mut(group) {
        Some(slot) => *slot = lr,
        None => bail!("no optimizer group {group} (there are {})", lrs.len()),
    }
    Ok(())
}

/// Groups from an explicit list of named tensors (names must be unique).
pub fn groups_from(vars: Vec<(String, Tensor)>, rule: &GroupRule) -> Result<Vec<ParamGroup>> {
    let dims: Vec<(String, usize)> = vars.iter().map(|(n, t)| (n.clone(), t.dim())).collect();
    let mut groups = vec![
        group("decay", rule.weight_decay, 1.0, GroupFlags::default()),
        group("no_decay", 0.0, 1.0, GroupFlags::default()),
    ];
    for o in &rule.overrides {
        if groups.iter().any(|g| g.name == o.name) {
            bail!("optimizer group `{}` is defined twice", o.name);
        }
        let wd = o.weight_decay.unwrap_or(rule.weight_decay);
        groups.push(group(&o.name, wd, o.lr_mult, o.flags));
    }
    for (name, t) in vars {
        if groups
            .iter()
            .flat_map(|g| &g.params)
            .any(|(n, _)| *n == name)
        {
            bail!("parameter `{name}` is listed twice");
        }
        let target = rule.group_of(&name, t.dim()).to_string();
        let g = groups.iter_mut().find(|g| g.name == target);
        g.expect("every rule target is a group")
            .params
            .push((name, t));
    }
    if let Some(why) = first_unused_override(&dims, rule) {
        bail!("{why}");
    }
    groups.retain(|g| !g.params.is_empty());
    Ok(groups)
}

/// The first override of `rule` that would take none of the parameters `vars` (name, dims):
/// the message [`groups_from`] fails with, so a caller can refuse it before building.
pub fn first_unused_override(vars: &[(String, usize)], rule: &GroupRule) -> Option<String> {
    let names: Vec<&str> = vars.iter().map(|(n, _)| n.as_str()).collect();
    rule.overrides
        .iter()
        .find(|o| !vars.iter().any(|(n, d)| rule.group_of(n, *d) == o.name))
        .map(|o| unused_override(&o.name, &o.patterns, &names))
}

fn unused_override(group: &str, patterns: &[String], names: &[&str]) -> String {
    format!(
        "optimizer group `{group}`: its patterns {patterns:?} match no parameter (or only \
         ones an earlier group took), so the group would do nothing; the model's parameters \
         are {names:?}: fix the patterns or remove the group"
    )
}

fn group(name: &str, weight_decay: f64, lr_mult: f64, flags: GroupFlags) -> ParamGroup {
    ParamGroup {
        name: name.to_string(),
        params: Vec::new(),
        lr_mult,
        weight_decay,
        flags,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_rule_keeps_matrices_in_decay() {
        let r = GroupRule::new(0.1);
        assert_eq!(r.group_of("h.0.attn.c_attn.weight", 2), "decay");
        assert_eq!(r.group_of("h.0.attn.c_attn.bias", 1), "no_decay");
        assert_eq!(r.group_of("ln_f.weight", 1), "no_decay");
        assert_eq!(r.group_of("wte.weight", 2), "no_decay");
        assert_eq!(r.group_of("tok_emb", 2), "no_decay");
    }

    #[test]
    fn overrides_win_in_order() {
        let mut r = GroupRule::new(0.1);
        r.overrides.push(GroupOverride {
            name: "head".into(),
            patterns: vec!["lm_head".into()],
            lr_mult: 0.5,
            weight_decay: None,
            flags: GroupFlags { kfac: true },
        });
        assert_eq!(r.group_of("lm_head.weight", 2), "head");
        assert_eq!(r.group_of("lm_head.bias", 1), "head");
        assert_eq!(r.group_of("mlp.weight", 2), "decay");
    }
}
