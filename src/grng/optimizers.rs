//! The optimizer registry: `optimizer: {kind: K, ...}` → a [`Stepper`]. Each kind is one
//! variant of [`OptimizerConfig`] (its keys, defaults in configs/grng/kinds.yaml) and one arm
//! in each `match` below. First-order optimizers go through [`FirstOrder`]; curvature-aware
//! ones (K-FAC, RENG, RING, Sophia, R-Kalman) are [`Stepper`]s themselves.
use super::models::Classifier;
use super::rkalman::{self, RKalmanConfig};
use crate::nn::Tape;
use crate::optim::groups::trainable;
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

    /// Range problems as `key: why` (key relative to the `optimizer` section).
    pub fn problems(&self) -> Vec<String> {
        let strip = |e: anyhow::Error| {
            let msg = e.to_string();
            // "sgd: `lr` must be ≥ 0" → "lr: must be ≥ 0"
            if let Some((key, why)) = msg.split_once(": `").and_then(|(_, r)| r.split_once("` ")) {
                return format!("{key}: {why}");
            }
            // "optimizer lr must be ≥ 0" → "lr: must be ≥ 0"
            let rest = msg.strip_prefix("optimizer ").unwrap_or(&msg).to_string();
            match rest.split_once(' ') {
                Some((key, why)) if !key.is_empty() => format!("{key}: {why}"),
                _ => rest,
            }
        };
        let seeded = match self {
            OptimizerConfig::Kfac(c) | OptimizerConfig::Reng(c) | OptimizerConfig::Ring(c) => {
                c.seed
            }
            OptimizerConfig::Sophia(c) => c.seed,
            OptimizerConfig::Rkalman(c) => c.seed,
            _ => 0,
        };
        let mut out: Vec<String> = Vec::new();
        if let Some(c) = self.kfac_family() {
            let want = self.kfac_mode();
            if c.gr != want {
                out.push(format!(
                    "gr: kind {} means gr {:?}; choose the kind (kfac | reng | ring) instead of `gr`",
                    self.name(),
                    want
                ));
            }
        }
        if seeded != 0 {
            out.push("seed: the label-sampling RNG follows the run's top-level `seed`; remove `optimizer.seed`".into());
        }
        out.extend(match self {
            OptimizerConfig::Adamw(c) => c
                .validate()
                .err()
                .map(strip)
                .into_iter()
                .collect::<Vec<_>>(),
            OptimizerConfig::Sgd(c) => c.validate().err().map(strip).into_iter().collect(),
            OptimizerConfig::Sophia(c) => c.validate().err().map(strip).into_iter().collect(),
            OptimizerConfig::Kfac(c) | OptimizerConfig::Reng(c) | OptimizerConfig::Ring(c) => {
                c.validate().err().map(strip).into_iter().collect()
            }
            OptimizerConfig::Rkalman(c) => c.validate().err().map(strip).into_iter().collect(),
        });
        out
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
