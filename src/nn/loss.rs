//! Masked token cross-entropy for language models, with the aggregation modes of public RL
//! libraries (verl, TRL), and evaluation loss in nats and bits per token.
//!
//! Shapes: logits `(B, T, V)` (f32 or f64), targets `(B, T)` i64, mask `(B, T)` bool or float
//! weights. Per-token loss `ℓ = −log softmax(logits)[target]`, weight `w` (mask as a number).
//! A position with `w = 0` gets exactly zero gradient and its target is never read (it may be
//! a pad id or −100), provided its logits are finite. Aggregations (`L_max` defaults to `T`):
//!
//! | mode | value |
//! |---|---|
//! | `token_mean` | `Σ ℓw / Σ w` (verl `token-mean`, TRL `bnpo`) |
//! | `seq_mean` | `mean_b (Σ_t ℓw / Σ_t w)` (TRL `grpo`, verl `seq-mean-token-mean`) |
//! | `const_trl` | `Σ ℓw / (L_max·B)` (TRL `dr_grpo`) |
//! | `const_verl` | `Σ ℓw / L_max` (verl `seq-mean-token-sum-norm`) |
//!
//! A batch (or, in `seq_mean`, a sequence) with `Σ w = 0` contributes 0, never NaN.
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Aggregation {
    TokenMean,
    SeqMean,
    ConstTrl { l_max: Option<i64> },
    ConstVerl { l_max: Option<i64> },
}

fn check(logits: &Tensor, targets: &Tensor, mask: &Tensor) -> Result<()> {
    let (l, t, m) = (logits.size(), targets.size(), mask.size());
    if l.len() != 3 || t.len() != 2 || t[..] != l[..2] || m != t {
        bail!(
            "cross-entropy wants logits (B,T,V), targets and mask (B,T); got {l:?}, {t:?}, {m:?}"
        );
    }
    if targets.kind() != Kind::Int64 {
        bail!(
            "cross-entropy targets must be i64, got {:?}",
            targets.kind()
        );
    }
    Ok(())
}

/// `Σ` with zeros replaced by ones (so `0/0` becomes `0/1`).
fn safe(denom: &Tensor) -> Tensor {
    denom.where_self(&denom.ne(0.0), &denom.ones_like())
}

/// Per-token weighted loss `ℓ·w` (B, T) and the weights `w` (B, T), in the logits' dtype.
pub fn weighted_nll(logits: &Tensor, targets: &Tensor, mask: &Tensor) -> Result<(Tensor, Tensor)> {
    check(logits, targets, mask)?;
    let kind = logits.kind();
    let keep = mask.ne(0.0);
    let w = mask.to_kind(kind);
    let safe_targets = targets.where_self(&keep, &targets.zeros_like());
    let logp = logits.log_softmax(-1, kind);
    let nll = -logp
        .gather(-1, &safe_targets.unsqueeze(-1), false)
        .squeeze_dim(-1);
    let weighted = (nll * &w).where_self(&keep, &w.zeros_like());
    Ok((weighted, w))
}

/// The aggregated masked cross-entropy (a scalar with gradient).
pub fn masked_cross_entropy(
    logits: &Tensor,
    targets: &Tensor,
    mask: &Tensor,
    agg: Aggregation,
) -> Result<Tensor> {
    let (lw, w) = weighted_nll(logits, targets, mask)?;
    aggregate_weighted(&lw, &w, agg)
}

/// Aggregate per-token weighted losses `ℓ·w` (B, T) with their weights `w` (B, T) (zero where
/// masked) into a scalar, as the table above; shared by [`masked_cross_entropy`] and the
/// policy-gradient losses of `prefixrl::algo::aggregate`.
pub fn aggregate_weighted(lw: &Tensor, w: &Tensor, agg: Aggregation) -> Result<Tensor> {
    if lw.dim() != 2 || lw.size() != w.size() {
        bail!(
            "aggregation wants losses and weights (B,T); got {:?} and {:?}",
            lw.size(),
            w.size()
        );
    }
    let (b, t) = (lw.size()[0], lw.size()[1]);
    let l_max = |l: Option<i64>| -> Result<f64> {
        match l.unwrap_or(t) {
            n if n > 0 => Ok(n as f64),
            n => bail!("aggregation L_max must be > 0, got {n}"),
        }
    };
    Ok(match agg {
        Aggregation::TokenMean => lw.sum(lw.kind()) / safe(&w.sum(w.kind())),
        Aggregation::SeqMean => {
            let per_seq = lw.sum_dim_intlist(-1, false, lw.kind())
                / safe(&w.sum_dim_intlist(-1, false, w.kind()));
            per_seq.mean(lw.kind())
        }
        Aggregation::ConstTrl { l_max: l } => lw.sum(lw.kind()) / (l_max(l)? * b as f64),
        Aggregation::ConstVerl { l_max: l } => lw.sum(lw.kind()) / l_max(l)?,
    })
}

/// Summed evaluation loss; add batches with [`EvalLoss::add`], read per-token values.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EvalLoss {
    /// `Σ ℓw` in nats.
    pub nll_sum: f64,
    /// `Σ w` (tokens, for a bool mask).
    pub tokens: f64,
}

impl EvalLoss {
    /// Loss of one batch (no gradient).
    pub fn of(logits: &Tensor, targets: &Tensor, mask: &Tensor) -> Result<EvalLoss> {
        let (lw, w) = tch::no_grad(|| weighted_nll(logits, targets, mask))?;
        Ok(EvalLoss {
            nll_sum: lw.sum(Kind::Double).double_value(&[]),
            tokens: w.sum(Kind::Double).double_value(&[]),
        })
    }

    pub fn add(&mut self, other: EvalLoss) {
        self.nll_sum += other.nll_sum;
        self.tokens += other.tokens;
    }

    /// Mean nats per token (NaN with no tokens).
    pub fn nats_per_token(&self) -> f64 {
        self.nll_sum / self.tokens
    }

    /// Mean bits per token.
    pub fn bits_per_token(&self) -> f64 {
        self.nats_per_token() / std::f64::consts::LN_2
    }
}

/// Entropy (nats) of `softmax(logits)` along the last axis, as `ln Σ exp(z) − Σ softmax(z)·z`:
/// the log-sum-exp form stays finite for logits up to ±1e4 (where `−Σ p ln p` meets `0 · −inf`).
pub fn entropy_of_logits(logits: &Tensor) -> Tensor {
    let lse = logits.logsumexp([-1i64].as_slice(), false);
    let p = logits.softmax(-1, logits.kind());
    lse - (p * logits).sum_dim_intlist(-1, false, logits.kind())
}
