//! One iteration's batch as plain rows (spec §1.9 step 2–3): GAE targets, `log π_old`, and
//! the shuffled minibatches with per-minibatch advantage normalisation (§1.7). Each backend
//! turns these [`Samples`] into its own batch type.
use super::backend::Policy;
use super::policy::Samples;
use super::rollout::Batch;
use crate::rl::gae::Targets;

/// The whole batch with raw advantages and the policy's `log π_old`.
pub fn samples<P: Policy>(actor: &P, b: &Batch, targets: &Targets, obs_dim: usize) -> Samples {
    let size = targets.advantages.len();
    let mut s = Samples {
        obs: b.obs.clone(),
        obs_dim,
        actions: b.actions.clone(),
        old_logp: Vec::new(),
        adv: targets.advantages.clone(),
        returns: targets.returns.clone(),
        size,
    };
    s.old_logp = actor.log_probs(&actor.batch(&s));
    s
}

/// `(Â − mean)/(std + 1e-8)` with the unbiased std, when enabled and there are 2+ rows.
pub fn normalise(adv: &mut [f64], enabled: bool) {
    if !enabled || adv.len() < 2 {
        return;
    }
    let n = adv.len() as f64;
    let mean = adv.iter().sum::<f64>() / n;
    let std = (adv.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    adv.iter_mut().for_each(|a| *a = (*a - mean) / (std + 1e-8));
}

/// The rows `idx` of `s`, advantages normalised if enabled.
pub fn select(s: &Samples, idx: &[usize], norm_adv: bool) -> Samples {
    let (d, k) = (s.obs_dim, s.actions.len() / s.size.max(1));
    let mut out = Samples {
        obs_dim: d,
        size: idx.len(),
        ..Samples::default()
    };
    for &i in idx {
        out.obs.extend_from_slice(&s.obs[i * d..(i + 1) * d]);
        out.actions
            .extend_from_slice(&s.actions[i * k..(i + 1) * k]);
        out.old_logp.push(s.old_logp[i]);
        out.adv.push(s.adv[i]);
        out.returns.push(s.returns[i]);
    }
    normalise(&mut out.adv, norm_adv);
    out
}

/// `1 − Var(R − V)/Var(R)` (0 when the returns are constant).
pub fn explained_variance(returns: &[f64], values: &[f64]) -> f64 {
    let var = |xs: &[f64]| {
        let m = xs.iter().sum::<f64>() / xs.len() as f64;
        xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / xs.len() as f64
    };
    let resid: Vec<f64> = returns.iter().zip(values).map(|(r, v)| r - v).collect();
    let vr = var(returns);
    if vr == 0.0 {
        0.0
    } else {
        1.0 - var(&resid) / vr
    }
}
