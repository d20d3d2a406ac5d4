//! Loss aggregation (spec §2.8): per-token losses `ℓ` (B, T) and a completion mask `M` (B, T)
//! to one scalar. Built on [`crate::nn::loss::aggregate_weighted`] (the same modes serve the
//! masked cross-entropy); `global` is the one mode added here.
//!
//! | `Agg` | value | library |
//! |---|---|---|
//! | `token` | `Σ ℓM / Σ M` | verl `token-mean`, TRL `bnpo` |
//! | `seq` | `mean_i (Σ_t ℓM / Σ_t M)` | TRL `grpo`, verl `seq-mean-token-mean` |
//! | `const` | `Σ ℓM / (B · L_max)` | TRL `dr_grpo` |
//! | `const-verl` | `Σ ℓM / L_max` | verl `seq-mean-token-sum-norm` |
//! | `global` | `Σ ℓM / (completion tokens in the global batch)` | TRL `dapo` |
//!
//! Masked positions contribute nothing (not even a NaN or inf loss there) and get zero gradient.
use crate::error::usage;
use crate::nn::loss::{aggregate_weighted, Aggregation};
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use std::str::FromStr;
use tch::Tensor;

/// How per-token losses become one scalar (§2.8); names `token`, `seq`, `const`, `const-verl`,
/// `global`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Agg {
    Token,
    Seq,
    Const,
    ConstVerl,
    Global,
}

impl FromStr for Agg {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "token" => Self::Token,
            "seq" => Self::Seq,
            "const" => Self::Const,
            "const-verl" => Self::ConstVerl,
            "global" => Self::Global,
            other => {
                return Err(usage(format!(
                    "unknown loss aggregation `{other}`; expected token, seq, const, const-verl or global"
                )))
            }
        })
    }
}

/// Aggregate `per_token` (B, T) under `mask` (B, T, float or bool; 0 = masked). `l_max` is the
/// constant of `const`/`const-verl` (the maximum completion length); `global_tokens` the
/// completion-token count of the whole global batch, required by `global` (0 tokens gives 0).
pub fn aggregate(
    per_token: &Tensor,
    mask: &Tensor,
    agg: Agg,
    l_max: i64,
    global_tokens: Option<f64>,
) -> Result<Tensor> {
    if per_token.dim() != 2 || per_token.size() != mask.size() {
        bail!(
            "aggregate wants per-token losses and mask (B,T); got {:?} and {:?}",
            per_token.size(),
            mask.size()
        );
    }
    let keep = mask.ne(0.0);
    let w = mask.to_kind(per_token.kind()); // (B, T)
    let lw = (per_token * &w).where_self(&keep, &w.zeros_like()); // (B, T)
    let mode = match agg {
        Agg::Token => Aggregation::TokenMean,
        Agg::Seq => Aggregation::SeqMean,
        Agg::Const => Aggregation::ConstTrl { l_max: Some(l_max) },
        Agg::ConstVerl => Aggregation::ConstVerl { l_max: Some(l_max) },
        Agg::Global => {
            let Some(n) = global_tokens else {
                bail!("aggregation `global` needs the global batch's completion-token count");
            };
            if !(n.is_finite() && n >= 0.0) {
                bail!("aggregation `global`: token count must be finite and >= 0, got {n}");
            }
            let sum = lw.sum(lw.kind());
            return Ok(if n == 0.0 { sum * 0.0 } else { sum / n });
        }
    };
    aggregate_weighted(&lw, &w, mode)
}
