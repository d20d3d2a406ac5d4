//! Actor updates driven by a first-order optimiser on the loss `−objective` (spec §3.3, §3.6):
//! `a2c` (RMSprop on −g, matched profile) and `ppo` (Adam on the clipped surrogate, linearly
//! annealed learning rate, CleanRL defaults).
use super::backend::Policy;
use super::policy::optim::clip_grad_norm;
use super::policy::{Adam, RmsProp};
use super::rank1::norm;
use anyhow::Result;
use tch::{Kind, Tensor};

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub enum Optimiser {
    Adam(Adam),
    RmsProp(RmsProp),
}

/// `a2c`: plain surrogate; `ppo`: `min(ρÂ, clip(ρ, 1±ε)Â)`.
#[derive(Clone, Copy, Debug)]
pub enum Objective {
    Surrogate,
    Clipped { clip: f64 },
}

pub struct OptimActor {
    pub objective: Objective,
    pub optimiser: Optimiser,
    pub base_lr: f64,
    pub anneal_lr: bool,
    pub max_grad_norm: f64,
    pub ent_coef: f64,
}

/// Per-minibatch numbers for the metrics row.
#[derive(Clone, Debug, Default)]
pub struct OptimStats {
    pub g_norm: f64,
    pub update_norm: f64,
    pub clipfrac: Option<f64>,
}

/// The objective to maximise and, for PPO, the fraction of clipped ratios.
pub fn objective(kind: Objective, ratio: &Tensor, adv: &Tensor) -> (Tensor, Option<f64>) {
    match kind {
        Objective::Surrogate => ((ratio * adv).mean(Kind::Double), None),
        Objective::Clipped { clip } => {
            let unclipped = ratio * adv;
            let clipped = ratio.clamp(1.0 - clip, 1.0 + clip) * adv;
            let frac = tch::no_grad(|| {
                (ratio - 1.0)
                    .abs()
                    .gt(clip)
                    .to_kind(Kind::Double)
                    .mean(Kind::Double)
                    .double_value(&[])
            });
            (unclipped.min_other(&clipped).mean(Kind::Double), Some(frac))
        }
    }
}

impl OptimActor {
    /// Linear annealing to 0 over the run (CleanRL): `lr = base·(1 − (iter−1)/iters)`.
    pub fn set_iteration(&mut self, iter: usize, iters: usize) {
        let lr = if self.anneal_lr {
            self.base_lr * (1.0 - (iter as f64 - 1.0) / iters as f64)
        } else {
            self.base_lr
        };
        match &mut self.optimiser {
            Optimiser::Adam(a) => a.lr = lr,
            Optimiser::RmsProp(r) => r.lr = lr,
        }
    }

    pub fn lr(&self) -> f64 {
        match &self.optimiser {
            Optimiser::Adam(a) => a.lr,
            Optimiser::RmsProp(r) => r.lr,
        }
    }

    /// One optimiser step on `−objective − ent_coef·H`, gradient-norm clipped.
    pub fn step<P: Policy>(&mut self, actor: &mut P, mb: &P::Batch) -> Result<OptimStats> {
        let (grad, clipfrac) = actor.objective_grad(mb, self.objective, self.ent_coef);
        let mut loss_grad: Vec<f64> = grad.iter().map(|g| -g).collect();
        let g_norm = norm(&loss_grad);
        clip_grad_norm(&mut loss_grad, self.max_grad_norm);
        let delta = match &mut self.optimiser {
            Optimiser::Adam(a) => a.delta(&loss_grad),
            Optimiser::RmsProp(r) => r.delta(&loss_grad),
        };
        actor.add_flat(&delta)?;
        Ok(OptimStats {
            g_norm,
            update_norm: norm(&delta),
            clipfrac,
        })
    }
}
