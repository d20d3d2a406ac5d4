//! Per-token policy-gradient terms (spec §2.8, §3 rows 4–5), all `(B, T)` tensors:
//! * [`ppo_clip`]: the PPO clipped surrogate as a loss, with verl's dual clip for `A < 0`;
//! * [`is_weights`]: importance weights `w_t = exp(log π_θ − sg[log μ])` of off-policy tokens,
//!   per token or per sequence, optionally clipped (baseline 4);
//! * [`luffy_shape`]: LUFFY's policy shaping `f(p) = p/(p+γ)` of off-policy tokens (baseline 5).
use crate::error::usage;
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use tch::Tensor;

/// PPO clipped surrogate **loss** per token (§2.8): `ℓ = −min(ρA, clip(ρ, 1−ε_lo, 1+ε_hi)·A)`.
/// With `dual_clip = Some(c)` (verl: c = 3, must be > 1), tokens with `A < 0` have their loss
/// capped at `−c·A`. `ratio` and `adv` broadcast (e.g. (B, T) and (B, 1)).
pub fn ppo_clip(
    ratio: &Tensor,
    adv: &Tensor,
    eps_lo: f64,
    eps_hi: f64,
    dual_clip: Option<f64>,
) -> Tensor {
    let unclipped = ratio * adv;
    let clipped = ratio.clamp(1.0 - eps_lo, 1.0 + eps_hi) * adv;
    let loss = -unclipped.minimum(&clipped);
    match dual_clip {
        None => loss,
        Some(c) => {
            let capped = loss.minimum(&(adv * -c));
            capped.where_self(&adv.lt(0.0), &loss)
        }
    }
}

/// Clipping of importance weights: `none`, `ppo` (to `[1−ε, 1+ε]`) or `max:<c>` (`min(w, c)`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum IsClip {
    None,
    Ppo,
    Max(f64),
}

impl FromStr for IsClip {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            usage(format!(
                "unknown importance-weight clip `{s}`; expected none, ppo or max:<c> with c > 0"
            ))
        };
        Ok(match s {
            "none" => Self::None,
            "ppo" => Self::Ppo,
            _ => {
                let c: f64 = s
                    .strip_prefix("max:")
                    .and_then(|c| c.trim().parse().ok())
                    .ok_or_else(bad)?;
                if !(c.is_finite() && c > 0.0) {
                    return Err(bad());
                }
                Self::Max(c)
            }
        })
    }
}

impl TryFrom<String> for IsClip {
    type Error = anyhow::Error;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl fmt::Display for IsClip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => write!(f, "none"),
            Self::Ppo => write!(f, "ppo"),
            Self::Max(c) => write!(f, "max:{c}"),
        }
    }
}

impl From<IsClip> for String {
    fn from(c: IsClip) -> String {
        c.to_string()
    }
}

/// Importance weights per token, or one per sequence broadcast over its tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IsLevel {
    Token,
    Sequence,
}

impl FromStr for IsLevel {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "token" => Ok(Self::Token),
            "sequence" => Ok(Self::Sequence),
            other => Err(usage(format!(
                "unknown importance-weight level `{other}`; expected token or sequence"
            ))),
        }
    }
}

/// Importance weights (§3 row 4), (B, T): `w_t = exp(logp_t − sg[logp_μ,t])` (`token`), or
/// `exp(Σ_t M_t (logp_t − sg[logp_μ,t]))` for every token of the row (`sequence`), then
/// clipped; 0 at masked positions (whose log-probs are never read). Differentiable in `logp`
/// (gradient `w·∇logp` where unclipped). `eps` is the ε of `IsClip::Ppo`.
pub fn is_weights(
    logp: &Tensor,
    logp_behaviour: &Tensor,
    mask: &Tensor,
    clip: IsClip,
    level: IsLevel,
    eps: f64,
) -> Result<Tensor> {
    let (a, b, m) = (logp.size(), logp_behaviour.size(), mask.size());
    if a.len() != 2 || a != b || a != m {
        bail!("is_weights wants logp, behaviour logp and mask (B,T); got {a:?}, {b:?}, {m:?}");
    }
    let keep = mask.ne(0.0);
    let zero = logp.zeros_like();
    let log_ratio = (logp - logp_behaviour.detach()).where_self(&keep, &zero); // (B, T)
    let w = match level {
        IsLevel::Token => log_ratio.exp(),
        IsLevel::Sequence => log_ratio
            .sum_dim_intlist(-1, true, log_ratio.kind()) // (B, 1)
            .exp()
            .expand_as(logp),
    };
    let w = match clip {
        IsClip::None => w,
        IsClip::Ppo => w.clamp(1.0 - eps, 1.0 + eps),
        IsClip::Max(c) => w.clamp_max(c),
    };
    Ok(w.where_self(&keep, &zero))
}

/// LUFFY's policy shaping (§3 row 5): `f(p) = p/(p+γ)` with `p = exp(logp)`, element-wise and
/// differentiable: `d f / d logp = γ/(p+γ)² · p`.
pub fn luffy_shape(logp: &Tensor, gamma: f64) -> Tensor {
    let p = logp.exp();
    &p / (&p + gamma)
}
