//! The optimizer of the parameters outside R-Kalman's Kronecker layers (grng spec §2.6):
//! embeddings, norms, a tied head and positional tables take AdamW or SGD with momentum.
use super::config::{Fallback, RKalmanConfig};
use crate::optim::{AdamW, AdamWConfig, GroupFlags, Optimizer, ParamGroup, Sgd, SgdConfig};
use anyhow::Result;
use tch::Tensor;

/// The optimizer of the parameters outside the layers (§2.6).
pub(super) type FallbackOpt = Box<dyn Optimizer>;

/// The fallback optimizer of `cfg.fallback` over `params` (one group, no weight decay).
pub(super) fn build_fallback(
    cfg: &RKalmanConfig,
    params: Vec<(String, Tensor)>,
) -> Result<Option<FallbackOpt>> {
    if params.is_empty() {
        return Ok(None);
    }
    let group = ParamGroup {
        name: "fallback".into(),
        params,
        lr_mult: 1.0,
        weight_decay: 0.0,
        flags: GroupFlags::default(),
    };
    let lr = cfg.fallback_base_lr();
    Ok(Some(match cfg.fallback {
        Fallback::Adamw => {
            let c = AdamWConfig {
                lr,
                weight_decay: 0.0,
                ..AdamWConfig::default()
            };
            Box::new(AdamW::from_groups(vec![group], &c)?)
        }
        Fallback::SgdMomentum => {
            let c = SgdConfig {
                lr,
                weight_decay: 0.0,
                ..SgdConfig::default()
            };
            Box::new(Sgd::from_groups(vec![group], &c)?)
        }
    }))
}
