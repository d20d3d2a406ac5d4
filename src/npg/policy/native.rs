//! The native backend's actor and critic (spec §1.12): a [`FlatMlp`] on one flat `Vec<f64>`
//! (MLP parameters, then the log-std for Gaussian policies), with gradients, scores and
//! Fisher-vector products written analytically. Initial parameters are the tch ones (same
//! orthogonal init, §1.7), so both backends start from the same θ for a seed.
use super::actor::{sample_actions, Actor, DistKind};
use super::dist::{self, HeadGrad};
use super::flat_mlp::{Cache, FlatMlp};
use super::mlp::Critic;
use crate::rl::Space;
use anyhow::{ensure, Result};
use ndarray::{Array2, ArrayView2};
use rand_chacha::ChaCha8Rng;
use tch::Device;

/// Samples as plain rows: `obs` is `[size, obs_dim]` row-major; `actions` holds one index
/// (categorical) or `dim` values (Gaussian) per row.
#[derive(Clone, Debug, Default)]
pub struct Samples {
    pub obs: Vec<f64>,
    pub obs_dim: usize,
    pub actions: Vec<f64>,
    pub old_logp: Vec<f64>,
    /// Advantages, already normalised if enabled.
    pub adv: Vec<f64>,
    pub returns: Vec<f64>,
    pub size: usize,
}

impl Samples {
    pub fn obs_view(&self) -> ArrayView2<'_, f64> {
        ArrayView2::from_shape((self.size, self.obs_dim), &self.obs).expect("obs rows")
    }

    /// Row `j` alone.
    pub fn row(&self, j: usize) -> (ArrayView2<'_, f64>, &[f64]) {
        let d = self.obs_dim;
        let k = self.actions.len() / self.size.max(1);
        let obs = ArrayView2::from_shape((1, d), &self.obs[j * d..(j + 1) * d]).expect("row");
        (obs, &self.actions[j * k..(j + 1) * k])
    }
}

fn set_checked(dst: &mut [f64], values: &[f64], add: bool) -> Result<()> {
    ensure!(
        values.len() == dst.len(),
        "{} values for {} parameters",
        values.len(),
        dst.len()
    );
    for (d, v) in dst.iter_mut().zip(values) {
        *d = if add { *d + v } else { *v };
    }
    Ok(())
}

#[derive(Clone, Debug)]
pub struct NativeActor {
    pub mlp: FlatMlp,
    pub params: Vec<f64>,
    pub dist: DistKind,
}

impl NativeActor {
    /// The tch actor's architecture and initial parameters (draws from libtorch's RNG).
    pub fn new(obs_dim: usize, space: &Space, hidden: &[usize]) -> Self {
        Self::from_torch(&Actor::new(obs_dim, space, hidden, Device::Cpu))
    }

    pub fn from_torch(actor: &Actor) -> Self {
        let sizes: Vec<usize> = actor.mlp.sizes.iter().map(|&s| s as usize).collect();
        NativeActor {
            mlp: FlatMlp { sizes },
            params: actor.params.flat(),
            dist: actor.dist.clone(),
        }
    }

    pub fn numel(&self) -> usize {
        self.params.len()
    }

    pub fn log_std_len(&self) -> usize {
        self.params.len() - self.mlp.numel()
    }

    fn split(&self) -> (&[f64], &[f64]) {
        self.params.split_at(self.mlp.numel())
    }

    pub fn set_flat(&mut self, values: &[f64]) -> Result<()> {
        set_checked(&mut self.params, values, false)
    }

    pub fn add_flat(&mut self, delta: &[f64]) -> Result<()> {
        set_checked(&mut self.params, delta, true)
    }

    pub fn forward(&self, obs: ArrayView2<f64>) -> Cache {
        self.mlp.forward(self.split().0, obs)
    }

    /// Head outputs and the log-std, the distribution of every row.
    pub fn snapshot(&self, obs: ArrayView2<f64>) -> (Array2<f64>, Vec<f64>) {
        let (w, ls) = self.split();
        (self.mlp.output(w, obs), ls.to_vec())
    }

    pub fn log_probs(&self, cache: &Cache, actions: &[f64]) -> Vec<f64> {
        dist::log_probs(&self.dist, &cache.out, self.split().1, actions)
    }

    pub fn entropies(&self, cache: &Cache) -> Vec<f64> {
        dist::entropies(&self.dist, &cache.out, self.split().1)
    }

    pub fn mean_kl(&self, old: &(Array2<f64>, Vec<f64>), obs: ArrayView2<f64>) -> f64 {
        let (head, ls) = self.snapshot(obs);
        dist::mean_kl(&self.dist, (&old.0, &old.1), &head, &ls)
    }

    /// Flat gradient from a head-level gradient.
    fn pull_back(&self, cache: &Cache, g: HeadGrad) -> Vec<f64> {
        let mut out = vec![0.0; self.numel()];
        let n = self.mlp.numel();
        self.mlp
            .backward(self.split().0, cache, g.head, &mut out[..n]);
        out[n..].copy_from_slice(&g.log_std);
        out
    }

    /// `∇θ [Σ_i coef_i log π(a_i|s_i) + ent_w · mean_i H_i]`.
    pub fn logp_grad(&self, cache: &Cache, actions: &[f64], coef: &[f64], ent_w: f64) -> Vec<f64> {
        let ls = self.split().1;
        let g = dist::logp_vjp(&self.dist, &cache.out, ls, actions, coef, ent_w);
        self.pull_back(cache, g)
    }

    /// Score `∇θ log π(a_j|s_j)` of row `j`, or the mean score of all rows (`None`).
    pub fn score(&self, s: &Samples, j: Option<usize>) -> Vec<f64> {
        match j {
            Some(j) => {
                let (obs, a) = s.row(j);
                self.logp_grad(&self.forward(obs), a, &[1.0], 0.0)
            }
            None => {
                let coef = vec![1.0 / s.size as f64; s.size];
                self.logp_grad(&self.forward(s.obs_view()), &s.actions, &coef, 0.0)
            }
        }
    }

    /// `F v = Jᵀ M J v` with the head's Fisher metric `M` at the cached forward pass: the
    /// Hessian of the mean KL from the cached policy, at that policy.
    pub fn fisher_vector(&self, cache: &Cache, v: &[f64]) -> Vec<f64> {
        let n = self.mlp.numel();
        let jv = self.mlp.jvp(self.split().0, cache, &v[..n]);
        let ls = self.split().1;
        let m = dist::fisher_head(&self.dist, &cache.out, ls, jv, &v[n..]);
        self.pull_back(cache, m)
    }

    /// Exact Fisher `(1/N) Σᵢ Σₐ π(a|sᵢ) u uᵀ` of a categorical policy (spec §3.8).
    pub fn exact_fisher(&self, s: &Samples) -> Option<Array2<f64>> {
        let DistKind::Categorical { n: actions } = self.dist else {
            return None;
        };
        let mut scores = Array2::<f64>::zeros((s.size * actions, self.numel()));
        for i in 0..s.size {
            let cache = self.forward(s.row(i).0);
            let lp = dist::log_softmax(cache.out.view());
            for a in 0..actions {
                let w = (lp[[0, a]].exp() / s.size as f64).sqrt();
                let u = self.logp_grad(&cache, &[a as f64], &[w], 0.0);
                scores
                    .row_mut(i * actions + a)
                    .assign(&ndarray::Array1::from(u));
            }
        }
        Some(scores.t().dot(&scores))
    }

    /// Sample (or take the mode of) one action per row: stored and sent (clipped) actions.
    pub fn act(
        &self,
        obs: ArrayView2<f64>,
        rng: &mut ChaCha8Rng,
        deterministic: bool,
    ) -> (Vec<f64>, Vec<f64>) {
        let (w, ls) = self.split();
        let head = self.mlp.output(w, obs);
        let flat = head.as_slice().expect("standard layout");
        sample_actions(&self.dist, flat, ls, rng, deterministic)
    }
}

/// `V_φ(s)` on a flat parameter vector.
#[derive(Clone, Debug)]
pub struct NativeCritic {
    pub mlp: FlatMlp,
    pub params: Vec<f64>,
}

impl NativeCritic {
    pub fn new(obs_dim: usize, hidden: &[usize]) -> Self {
        Self::from_torch(&Critic::new(obs_dim, hidden, Device::Cpu))
    }

    pub fn from_torch(critic: &Critic) -> Self {
        let sizes = critic.mlp.sizes.iter().map(|&s| s as usize).collect();
        NativeCritic {
            mlp: FlatMlp { sizes },
            params: critic.params.flat(),
        }
    }

    pub fn set_flat(&mut self, values: &[f64]) -> Result<()> {
        set_checked(&mut self.params, values, false)
    }

    pub fn add_flat(&mut self, delta: &[f64]) -> Result<()> {
        set_checked(&mut self.params, delta, true)
    }

    pub fn values(&self, obs: ArrayView2<f64>) -> Vec<f64> {
        self.mlp
            .output(&self.params, obs)
            .into_raw_vec_and_offset()
            .0
    }

    /// `½ mean (V(s) − R)²` and its gradient.
    pub fn loss_grad(&self, obs: ArrayView2<f64>, returns: &[f64]) -> (f64, Vec<f64>) {
        let cache = self.mlp.forward(&self.params, obs);
        let b = returns.len() as f64;
        let resid: Vec<f64> = cache.out.iter().zip(returns).map(|(v, r)| v - r).collect();
        let loss = 0.5 * resid.iter().map(|r| r * r).sum::<f64>() / b;
        let dout = Array2::from_shape_fn((resid.len(), 1), |(i, _)| resid[i] / b);
        let mut grad = vec![0.0; self.params.len()];
        self.mlp.backward(&self.params, &cache, dout, &mut grad);
        (loss, grad)
    }
}
