//! The optimizer registry: `optimizer: {kind: K, ...}` → a [`Stepper`]. Each kind is one
//! variant of [`OptimizerConfig`] (its keys, defaults in configs/grng/kinds.yaml) and one arm
//! in each `match` below. First-order optimizers go through [`FirstOrder`]; curvature-aware
//! ones (K-FAC, RENG, RING, Sophia, R-Kalman) are [`Stepper`]s themselves.
use super::models::Classifier;
use super::rkalman::{self, RKalmanConfig};
use crate::error::usage;
use crate::nn::Tape;
use crate::optim::groups::{first_unused_override, trainable, trainable_dims, GroupRule};
use crate::optim::kfac::{kfac_groups, GrMode, Kfac, KfacConfig};
use crate::optim::{AdamW, AdamWConfig, FirstOrder, Sgd, SgdConfig, Sophia, SophiaConfig, Stepper};
use anyhow::Result;
use serde::{Deserialize, Serialize};
use tch::Tensor;

#[derive(Deserialize, Serialize, Debug, Clone)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum OptimizerConfig {
    /// Decoupled weight decay (spec §3.2).
    Adamw(AdamWConfig),
    /// SGD with momentum, coupled weight decay (§3.1).
    Sgd(SgdConfig),
    /// Sophia-G: clipped sign-momentum over a Gauss–Newton–Bartlett diagonal (§3.4).
    Sophia(SophiaConfig),
    /// K-FAC (§3.3): Kronecker-factored natural gradient, KL clip, momentum.
    Kfac(KfacConfig),
    /// RENG (§2.2): K-FAC applied to the gradient of L + ρ/2‖∇L‖² (double backprop).
    Reng(KfacConfig),
    /// RING (§2.3): K-FAC with damping λ0 + ρ‖∇L‖².
    Ring(KfacConfig),
    /// R-Kalman (§2.4): a Kalman filter on the weights, dense or Kronecker covariance.
    Rkalman(RKalmanConfig),
}

impl OptimizerConfig {
    /// The kind as written in configs and in the CSVs' `optimizer` column.
    pub fn name(&self) -> &'static str {
        match self {
            OptimizerConfig::Adamw(_) => "adamw",
            OptimizerConfig::Sgd(_) => "sgd",
            OptimizerConfig::Sophia(_) => "sophia",
            OptimizerConfig::Kfac(_) => "kfac",
            OptimizerConfig::Reng(_) => "reng",
            OptimizerConfig::Ring(_) => "ring",
            OptimizerConfig::Rkalman(_) => "rkalman",
        }
    }

    /// The base learning rate the schedule scales.
    pub fn lr(&self) -> f64 {
        match self {
            OptimizerConfig::Adamw(c) => c.lr,
            OptimizerConfig::Sgd(c) => c.lr,
            OptimizerConfig::Sophia(c) => c.lr,
            OptimizerConfig::Kfac(c) | OptimizerConfig::Reng(c) | OptimizerConfig::Ring(c) => c.lr,
            OptimizerConfig::Rkalman(c) => c.lr,
        }
    }

    /// Range problems as `(key, why)`, the key a path (`optimizer.lr`, or `optimizer` itself).
    pub fn problems(&self) -> Vec<(String, String)> {
        let seeded = match self {
            OptimizerConfig::Kfac(c) | OptimizerConfig::Reng(c) | OptimizerConfig::Ring(c) => {
                c.seed
            }
            OptimizerConfig::Sophia(c) => c.seed,
            OptimizerConfig::Rkalman(c) => c.seed,
            _ => 0,
        };
        let mut out = Vec::new();
        if let Some(c) = self.kfac_family() {
            let want = self.kfac_mode();
            if c.gr != want {
                out.push((
                    "optimizer.gr".to_string(),
                    format!(
                        "kind {} means gr {:?}; choose the kind (kfac | reng | ring) instead of `gr`",
                        self.name(),
                        want
                    ),
                ));
            }
        }
        if seeded != 0 {
            out.push((
                "optimizer.seed".to_string(),
                "the label-sampling RNG follows the run's top-level `seed`; remove `optimizer.seed`"
                    .to_string(),
            ));
        }
        let valid = match self {
            OptimizerConfig::Adamw(c) => c.validate(),
            OptimizerConfig::Sgd(c) => c.validate(),
            OptimizerConfig::Sophia(c) => c.validate(),
            OptimizerConfig::Kfac(c) | OptimizerConfig::Reng(c) | OptimizerConfig::Ring(c) => {
                c.validate()
            }
            OptimizerConfig::Rkalman(c) => c.validate(),
        };
        if let Err(e) = valid {
            out.push(key_and_why(&e.to_string()));
        }
        out
    }

    /// The parameter grouping of a kind with `groups` (AdamW, SGD, Sophia).
    fn group_rule(&self) -> Option<GroupRule> {
        match self {
            OptimizerConfig::Adamw(c) => Some(c.rule()),
            OptimizerConfig::Sgd(c) => Some(c.rule()),
            OptimizerConfig::Sophia(c) => Some(c.rule()),
            _ => None,
        }
    }

    /// The K-FAC family's config (kfac, reng, ring), if this is one.
    fn kfac_family(&self) -> Option<&KfacConfig> {
        match self {
            OptimizerConfig::Kfac(c) | OptimizerConfig::Reng(c) | OptimizerConfig::Ring(c) => {
                Some(c)
            }
            _ => None,
        }
    }

    /// The gradient regularization a K-FAC-family kind stands for.
    fn kfac_mode(&self) -> GrMode {
        match self {
            OptimizerConfig::Reng(_) => GrMode::Explicit,
            OptimizerConfig::Ring(_) => GrMode::Implicit,
            _ => GrMode::None,
        }
    }

    /// `optimizer.groups` against the model's trainable parameters that `vars` lists (name,
    /// rank): a group that takes none of them is a usage error naming it and the parameters.
    /// `vars` is called only when the kind has groups to check. Run by [`Self::build`], and
    /// before any run or study folder is made by `files::check_inputs` (on the task's model
    /// built without its data).
    pub fn check_groups(&self, vars: impl FnOnce() -> Result<Vec<(String, usize)>>) -> Result<()> {
        let Some(rule) = self.group_rule().filter(|r| !r.overrides.is_empty()) else {
            return Ok(());
        };
        match first_unused_override(&vars()?, &rule) {
            Some(why) => Err(usage(format!("optimizer.groups: {why}"))),
            None => Ok(()),
        }
    }

    /// The optimizer over every trainable variable of `model`. `sample` (a few inputs) is run
    /// once with capture on so the K-FAC family knows which parameters belong to linear
    /// layers. `seed` seeds the RNG of optimizers that sample labels from the model (true
    /// Fisher, Sophia-G, R-Kalman), see `optim::stepper::sample_labels`.
    pub fn build(
        &self,
        model: &dyn Classifier,
        sample: &Tensor,
        seed: u64,
    ) -> Result<Box<dyn Stepper>> {
        let vs = model.var_store();
        self.check_groups(|| Ok(trainable_dims(vs)))?;
        Ok(match self {
            OptimizerConfig::Adamw(c) => Box::new(FirstOrder::new(AdamW::new(vs, c)?)),
            OptimizerConfig::Sgd(c) => Box::new(FirstOrder::new(Sgd::new(vs, c)?)),
            OptimizerConfig::Sophia(c) => {
                let mut c = c.clone();
                c.seed = seed;
                Box::new(Sophia::new(vs, &c)?)
            }
            OptimizerConfig::Rkalman(c) => {
                rkalman::build(vs, &RKalmanConfig { seed, ..c.clone() })?
            }
            OptimizerConfig::Kfac(c) | OptimizerConfig::Reng(c) | OptimizerConfig::Ring(c) => {
                // One captured forward tells which parameters belong to linear layers.
                let mut tape = Tape::on();
                let _logits = tch::no_grad(|| model.forward(sample, &mut tape))?;
                let groups = kfac_groups(trainable(vs), &tape.items, c.weight_decay)?;
                let cfg = KfacConfig {
                    seed,
                    gr: self.kfac_mode(),
                    ..c.clone()
                };
                Box::new(Kfac::new(groups, cfg)?)
            }
        })
    }
}

/// The config key an optimizer's `validate` message names, and the rest of the message, for
/// `lab grng`'s checker (which then says where that key was set). The messages come in the
/// forms "sgd: `lr` must be ≥ 0", "optimizer `rho` must be ...", "optimizer lr must be ...",
/// "rkalman: `obs: jacobian` exists for ..." (a key with its value) and "optimizer group `g`:
/// ..." (the `groups` list). The key comes back as its path, `optimizer.<key>`; a message naming
/// no key is reported against `optimizer` itself.
fn key_and_why(msg: &str) -> (String, String) {
    let is_key =
        |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let under = |key: &str| format!("optimizer.{key}");
    let mut rest = msg;
    if let Some((who, r)) = rest.split_once(": ") {
        if is_key(who) && !r.is_empty() {
            rest = r; // "sgd: ..." → "..."
        }
    }
    let prefixed = rest.starts_with("optimizer ");
    rest = rest.strip_prefix("optimizer ").unwrap_or(rest);
    if let Some(quoted) = rest.strip_prefix('`') {
        if let Some((inner, why)) = quoted.split_once('`') {
            let why = why.trim_start();
            return match inner.split_once(": ") {
                // "`obs: jacobian` exists for ..." is about the key `obs`, set to that value.
                Some((key, _)) if is_key(key) => (under(key), format!("`{inner}` {why}")),
                _ if is_key(inner) => (under(inner), why.to_string()),
                _ => ("optimizer".into(), msg.to_string()),
            };
        }
    }
    if rest.starts_with("group ") {
        return (under("groups"), rest.to_string());
    }
    match rest.split_once(' ') {
        // "optimizer lr must be ..." (an unquoted key only after the "optimizer " prefix)
        Some((key, why)) if prefixed && is_key(key) => (under(key), why.to_string()),
        _ => ("optimizer".into(), msg.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::key_and_why;

    #[test]
    fn every_message_form_names_its_key() {
        let cases = [
            ("sgd: `lr` must be ≥ 0, got -1", "lr", "must be ≥ 0, got -1"),
            (
                "optimizer `rho` must be a finite number ≥ 0, got -1",
                "rho",
                "must be a finite number ≥ 0, got -1",
            ),
            (
                "optimizer lr must be ≥ 0, got -1",
                "lr",
                "must be ≥ 0, got -1",
            ),
            ("optimizer `t_inv` must be ≥ 1", "t_inv", "must be ≥ 1"),
            (
                "rkalman: `obs: jacobian` exists for `cov: dense` only",
                "obs",
                "`obs: jacobian` exists for `cov: dense` only",
            ),
            (
                "sgd: `nesterov: true` needs `momentum` > 0 and `dampening` 0 (as in PyTorch)",
                "nesterov",
                "`nesterov: true` needs `momentum` > 0 and `dampening` 0 (as in PyTorch)",
            ),
            (
                "optimizer `inverse: newton` needs `damping_scheme: factored`",
                "inverse",
                "`inverse: newton` needs `damping_scheme: factored`",
            ),
            (
                "optimizer group `norms`: lr_mult must be ≥ 0",
                "groups",
                "group `norms`: lr_mult must be ≥ 0",
            ),
            (
                "adamw: `weight_decay` must be ≥ 0, got -1",
                "weight_decay",
                "must be ≥ 0, got -1",
            ),
        ];
        for (msg, key, why) in cases {
            assert_eq!(
                key_and_why(msg),
                (format!("optimizer.{key}"), why.to_string()),
                "{msg}"
            );
        }
    }

    #[test]
    fn a_message_without_a_key_is_kept_whole() {
        let msg = "something odd happened";
        assert_eq!(key_and_why(msg), ("optimizer".to_string(), msg.to_string()));
        let msg = "optimizer `a b` is odd";
        assert_eq!(key_and_why(msg), ("optimizer".to_string(), msg.to_string()));
    }
}
