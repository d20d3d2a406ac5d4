//! What the algorithms need from an actor and a critic, over flat parameter vectors, so every
//! algorithm runs on either backend (config key `backend`): `torch` (tch tensors, autograd)
//! and `native` (hand-written f64 MLP, analytic gradients and Fisher products, spec §1.12).
use super::acktr::FisherStats;
use super::acktr_stats::native_fisher_stats;
use super::optim_actor::Objective;
use super::policy::{NativeActor, NativeCritic, Samples};
use crate::error::usage;
use anyhow::Result;
use ndarray::{Array2, ArrayView2};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// `backend` config key [D].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    Native,
    Torch,
}

/// A `v ↦ (F + damping·I) v` closure.
pub type FisherProduct<'a> = Box<dyn Fn(&[f64], &mut [f64]) + 'a>;

pub trait Policy {
    /// Samples in the backend's own form (tensors or rows).
    type Batch;
    /// The distribution of every row of a batch, frozen for a later KL.
    type Snapshot;
    fn batch(&self, s: &Samples) -> Self::Batch;
    fn rows(b: &Self::Batch) -> usize;
    fn numel(&self) -> usize;
    /// Parameters at the end of θ that are the log-std (0 for categorical policies).
    fn log_std_len(&self) -> usize;
    fn flat(&self) -> Vec<f64>;
    fn set_flat(&mut self, values: &[f64]) -> Result<()>;
    fn add_flat(&mut self, delta: &[f64]) -> Result<()>;
    /// Stored and sent actions for `[rows, obs_dim]` observations.
    fn act(
        &self,
        obs: &[f64],
        obs_dim: usize,
        rng: &mut ChaCha8Rng,
        deterministic: bool,
    ) -> (Vec<f64>, Vec<f64>);
    fn log_probs(&self, b: &Self::Batch) -> Vec<f64>;
    fn mean_entropy(&self, b: &Self::Batch) -> f64;
    /// `∇θ [mean objective(ρ, Â) + ent_coef · mean H]` and, for PPO, the clip fraction.
    fn objective_grad(
        &self,
        b: &Self::Batch,
        kind: Objective,
        ent_coef: f64,
    ) -> (Vec<f64>, Option<f64>);
    /// `mean(ρ Â)` without gradient.
    fn surrogate(&self, b: &Self::Batch) -> f64;
    /// Score of row `j`, or the mean score of the batch (`None`).
    fn score(&self, b: &Self::Batch, j: Option<usize>) -> Vec<f64>;
    fn snapshot(&self, b: &Self::Batch) -> Self::Snapshot;
    fn mean_kl(&self, old: &Self::Snapshot, b: &Self::Batch) -> f64;
    /// Hessian of the mean KL from the current policy, at the current θ, plus damping.
    fn fisher<'a>(&'a self, b: &'a Self::Batch, damping: f64) -> FisherProduct<'a>;
    /// Exact Fisher over the batch's states (categorical only, spec §3.8).
    fn exact_fisher(&self, b: &Self::Batch) -> Result<Array2<f64>>;
    /// ACKTR's K-FAC statistics (§3.7) of the sampled-Fisher loss `Σᵢ −log π(ãᵢ|sᵢ)`, ãᵢ drawn
    /// from the current policy with `rng`: every layer's inputs and pre-activation errors.
    fn fisher_stats(&self, b: &Self::Batch, rng: &mut ChaCha8Rng) -> Result<FisherStats>;
    /// MLP widths `[in, hidden..., out]` (the log-std, if any, follows in θ).
    fn mlp_sizes(&self) -> Vec<usize>;
}

pub trait ValueFn {
    type Batch;
    fn numel(&self) -> usize;
    fn flat(&self) -> Vec<f64>;
    fn set_flat(&mut self, values: &[f64]) -> Result<()>;
    fn add_flat(&mut self, delta: &[f64]) -> Result<()>;
    fn values(&self, obs: &[f64], obs_dim: usize) -> Vec<f64>;
    /// `½ mean (V(s) − R)²`.
    fn loss(&self, b: &Self::Batch) -> f64;
    fn loss_grad(&self, b: &Self::Batch) -> Vec<f64>;
}

fn rows_view(obs: &[f64], dim: usize) -> ArrayView2<'_, f64> {
    ArrayView2::from_shape((obs.len() / dim, dim), obs).expect("observation rows")
}

/// `d objective / d log π` per row (divided by the batch size) and the clip fraction.
pub fn objective_coefs(kind: Objective, ratio: &[f64], adv: &[f64]) -> (Vec<f64>, Option<f64>) {
    let b = ratio.len() as f64;
    match kind {
        Objective::Surrogate => (
            ratio.iter().zip(adv).map(|(r, a)| r * a / b).collect(),
            None,
        ),
        Objective::Clipped { clip } => {
            let coef = ratio
                .iter()
                .zip(adv)
                .map(|(&r, &a)| {
                    let inside = (1.0 - clip..=1.0 + clip).contains(&r);
                    let clipped = r.clamp(1.0 - clip, 1.0 + clip) * a;
                    if inside || r * a < clipped {
                        r * a / b
                    } else {
                        0.0
                    }
                })
                .collect();
            let clipped = ratio.iter().filter(|r| (*r - 1.0).abs() > clip).count();
            (coef, Some(clipped as f64 / b))
        }
    }
}

impl NativeActor {
    fn ratios(&self, s: &Samples) -> (super::policy::flat_mlp::Cache, Vec<f64>) {
        let cache = self.forward(s.obs_view());
        let logp = self.log_probs(&cache, &s.actions);
        let ratio = logp.iter().zip(&s.old_logp).map(|(l, o)| (l - o).exp());
        (cache, ratio.collect())
    }
}

impl Policy for NativeActor {
    type Batch = Samples;
    type Snapshot = (Array2<f64>, Vec<f64>);

    fn batch(&self, s: &Samples) -> Samples {
        s.clone()
    }
    fn rows(b: &Samples) -> usize {
        b.size
    }
    fn numel(&self) -> usize {
        self.params.len()
    }
    fn log_std_len(&self) -> usize {
        NativeActor::log_std_len(self)
    }
    fn flat(&self) -> Vec<f64> {
        self.params.clone()
    }
    fn set_flat(&mut self, values: &[f64]) -> Result<()> {
        NativeActor::set_flat(self, values)
    }
    fn add_flat(&mut self, delta: &[f64]) -> Result<()> {
        NativeActor::add_flat(self, delta)
    }
    fn act(
        &self,
        obs: &[f64],
        dim: usize,
        rng: &mut ChaCha8Rng,
        det: bool,
    ) -> (Vec<f64>, Vec<f64>) {
        NativeActor::act(self, rows_view(obs, dim), rng, det)
    }
    fn log_probs(&self, b: &Samples) -> Vec<f64> {
        NativeActor::log_probs(self, &self.forward(b.obs_view()), &b.actions)
    }
    fn mean_entropy(&self, b: &Samples) -> f64 {
        let h = self.entropies(&self.forward(b.obs_view()));
        h.iter().sum::<f64>() / h.len() as f64
    }
    fn objective_grad(&self, b: &Samples, kind: Objective, ent: f64) -> (Vec<f64>, Option<f64>) {
        let (cache, ratio) = self.ratios(b);
        let (coef, clipfrac) = objective_coefs(kind, &ratio, &b.adv);
        (self.logp_grad(&cache, &b.actions, &coef, ent), clipfrac)
    }
    fn surrogate(&self, b: &Samples) -> f64 {
        let ratio = self.ratios(b).1;
        ratio.iter().zip(&b.adv).map(|(r, a)| r * a).sum::<f64>() / b.size as f64
    }
    fn score(&self, b: &Samples, j: Option<usize>) -> Vec<f64> {
        NativeActor::score(self, b, j)
    }
    fn snapshot(&self, b: &Samples) -> Self::Snapshot {
        NativeActor::snapshot(self, b.obs_view())
    }
    fn mean_kl(&self, old: &Self::Snapshot, b: &Samples) -> f64 {
        NativeActor::mean_kl(self, old, b.obs_view())
    }
    fn fisher<'a>(&'a self, b: &'a Samples, damping: f64) -> FisherProduct<'a> {
        let cache = self.forward(b.obs_view());
        Box::new(move |v, out| {
            let fv = self.fisher_vector(&cache, v);
            for ((o, f), x) in out.iter_mut().zip(fv).zip(v) {
                *o = f + damping * x;
            }
        })
    }
    fn exact_fisher(&self, b: &Samples) -> Result<Array2<f64>> {
        NativeActor::exact_fisher(self, b)
            .ok_or_else(|| usage("cos_to_exact needs a discrete action space"))
    }
    fn fisher_stats(&self, b: &Samples, rng: &mut ChaCha8Rng) -> Result<FisherStats> {
        Ok(native_fisher_stats(self, b.obs_view(), rng))
    }
    fn mlp_sizes(&self) -> Vec<usize> {
        self.mlp.sizes.clone()
    }
}

impl ValueFn for NativeCritic {
    type Batch = Samples;
    fn numel(&self) -> usize {
        self.params.len()
    }
    fn flat(&self) -> Vec<f64> {
        self.params.clone()
    }
    fn set_flat(&mut self, values: &[f64]) -> Result<()> {
        NativeCritic::set_flat(self, values)
    }
    fn add_flat(&mut self, delta: &[f64]) -> Result<()> {
        NativeCritic::add_flat(self, delta)
    }
    fn values(&self, obs: &[f64], dim: usize) -> Vec<f64> {
        NativeCritic::values(self, rows_view(obs, dim))
    }
    fn loss(&self, b: &Samples) -> f64 {
        let v = NativeCritic::values(self, b.obs_view());
        let sq: f64 = v.iter().zip(&b.returns).map(|(v, r)| (v - r).powi(2)).sum();
        0.5 * sq / b.size as f64
    }
    fn loss_grad(&self, b: &Samples) -> Vec<f64> {
        NativeCritic::loss_grad(self, b.obs_view(), &b.returns).1
    }
}
