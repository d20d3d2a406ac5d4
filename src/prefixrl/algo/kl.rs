//! KL to a reference policy (spec §2.8): Schulman's per-sampled-token estimators of
//! `KL(π_θ ‖ π_ref)` with `δ = log π_ref − log π_θ`, and the exact per-position KL over the
//! whole vocabulary, which a tiny vocabulary makes cheap (what the project logs, §5.2).
use anyhow::{bail, Result};
use tch::{Kind, Tensor};

/// k1 = `−δ = log π_θ − log π_ref` (unbiased, high variance, can be negative).
pub fn kl_k1(logp: &Tensor, logp_ref: &Tensor) -> Tensor {
    logp - logp_ref
}

/// k2 = `δ²/2`.
pub fn kl_k2(logp: &Tensor, logp_ref: &Tensor) -> Tensor {
    let delta = logp_ref - logp;
    &delta * &delta * 0.5
}

/// k3 = `e^δ − δ − 1` (verl `low_var_kl`), with verl's clamps: `δ` to [−20, 20] before the
/// exponential, the result to [−10, 10].
pub fn kl_k3(logp: &Tensor, logp_ref: &Tensor) -> Tensor {
    let delta = (logp_ref - logp).clamp(-20.0, 20.0);
    (delta.exp() - &delta - 1.0).clamp(-10.0, 10.0)
}

/// Exact `KL(p ‖ q) = Σ_v p_v (log p_v − log q_v)` per position, (B, T), with
/// `p = softmax(logits)` and `q = softmax(ref_logits)`, both (B, T, V). Computed in f64 and
/// returned in the logits' dtype (with gradient through `logits`); rounding below 0 is clamped.
pub fn exact_kl(logits: &Tensor, ref_logits: &Tensor) -> Result<Tensor> {
    let (a, b) = (logits.size(), ref_logits.size());
    if a.len() != 3 || a != b {
        bail!(
            "exact_kl wants logits and reference logits (B,T,V) of one shape; got {a:?} and {b:?}"
        );
    }
    let logp = logits.log_softmax(-1, Kind::Double); // (B, T, V)
    let logq = ref_logits.log_softmax(-1, Kind::Double); // (B, T, V)
    let kl = (logp.exp() * (&logp - logq)).sum_dim_intlist(-1, false, Kind::Double); // (B, T)
    Ok(kl.clamp_min(0.0).to_kind(logits.kind()))
}
