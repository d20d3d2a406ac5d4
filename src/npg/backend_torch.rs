//! The `torch` backend: [`Policy`] and [`ValueFn`] on the tch actor and critic, with
//! gradients by autograd and Fisher-vector products as Hessian-vector products of the KL.
use super::acktr::FisherStats;
use super::acktr_stats::torch_fisher_stats;
use super::backend::{FisherProduct, Policy, ValueFn};
use super::exact::exact_fisher;
use super::optim_actor::{objective, Objective};
use super::policy::{Actor, Critic, Samples};
use super::rollout::to_tensor;
use super::trust_region::Fvp;
use super::update::Minibatch;
use anyhow::Result;
use ndarray::Array2;
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};

fn device_of(tensors: &[Tensor]) -> Device {
    tensors.first().map_or(Device::Cpu, |t| t.device())
}

fn vector(values: &[f64], dev: Device) -> Tensor {
    Tensor::from_slice(values).to_device(dev)
}

impl Policy for Actor {
    type Batch = Minibatch;
    type Snapshot = (Tensor, Option<Tensor>);

    fn batch(&self, s: &Samples) -> Minibatch {
        let dev = device_of(&self.params.tensors);
        Minibatch {
            obs: to_tensor(&s.obs, s.obs_dim, dev),
            actions: self.action_tensor(&s.actions, dev),
            old_logp: vector(&s.old_logp, dev),
            adv: vector(&s.adv, dev),
            returns: vector(&s.returns, dev),
            size: s.size,
        }
    }
    fn rows(b: &Minibatch) -> usize {
        b.size
    }
    fn numel(&self) -> usize {
        self.params.numel()
    }
    fn log_std_len(&self) -> usize {
        Actor::log_std_len(self)
    }
    fn flat(&self) -> Vec<f64> {
        self.params.flat()
    }
    fn set_flat(&mut self, values: &[f64]) -> Result<()> {
        self.params.set_flat(values)
    }
    fn add_flat(&mut self, delta: &[f64]) -> Result<()> {
        self.params.add_flat(delta)
    }
    fn act(
        &self,
        obs: &[f64],
        dim: usize,
        rng: &mut ChaCha8Rng,
        det: bool,
    ) -> (Vec<f64>, Vec<f64>) {
        let dev = device_of(&self.params.tensors);
        Actor::act(self, &to_tensor(obs, dim, dev), rng, det)
    }
    fn log_probs(&self, b: &Minibatch) -> Vec<f64> {
        let lp = tch::no_grad(|| Actor::log_prob(self, &b.obs, &b.actions));
        Vec::<f64>::try_from(&lp).expect("f64 log-probs")
    }
    fn mean_entropy(&self, b: &Minibatch) -> f64 {
        tch::no_grad(|| self.entropy(&b.obs).mean(Kind::Double)).double_value(&[])
    }
    fn objective_grad(&self, b: &Minibatch, kind: Objective, ent: f64) -> (Vec<f64>, Option<f64>) {
        // One forward pass; the entropy term only when it is used.
        let (logp, entropy) = if ent > 0.0 {
            let (l, h) = self.log_prob_entropy(&b.obs, &b.actions);
            (l, Some(h))
        } else {
            (Actor::log_prob(self, &b.obs, &b.actions), None)
        };
        let ratio = (logp - &b.old_logp).exp();
        let (mut obj, clipfrac) = objective(kind, &ratio, &b.adv);
        if let Some(h) = entropy {
            obj += h.mean(Kind::Double) * ent;
        }
        (self.params.grad(&obj), clipfrac)
    }
    fn surrogate(&self, b: &Minibatch) -> f64 {
        tch::no_grad(|| {
            let ratio = (Actor::log_prob(self, &b.obs, &b.actions) - &b.old_logp).exp();
            (ratio * &b.adv).mean(Kind::Double).double_value(&[])
        })
    }
    fn score(&self, b: &Minibatch, j: Option<usize>) -> Vec<f64> {
        let logp = match j {
            Some(j) => {
                let j = j as i64;
                Actor::log_prob(self, &b.obs.narrow(0, j, 1), &b.actions.narrow(0, j, 1))
                    .sum(Kind::Double)
            }
            None => Actor::log_prob(self, &b.obs, &b.actions).mean(Kind::Double),
        };
        self.params.grad(&logp)
    }
    fn snapshot(&self, b: &Minibatch) -> Self::Snapshot {
        Actor::snapshot(self, &b.obs)
    }
    fn mean_kl(&self, old: &Self::Snapshot, b: &Minibatch) -> f64 {
        tch::no_grad(|| Actor::mean_kl(self, old, &b.obs)).double_value(&[])
    }
    fn fisher<'a>(&'a self, b: &'a Minibatch, damping: f64) -> FisherProduct<'a> {
        let fvp = Fvp::new(self, &b.obs, damping);
        Box::new(move |v, out| fvp.apply(v, out))
    }
    fn exact_fisher(&self, b: &Minibatch) -> Result<Array2<f64>> {
        exact_fisher(self, &b.obs)
    }
    fn fisher_stats(&self, b: &Minibatch, rng: &mut ChaCha8Rng) -> Result<FisherStats> {
        torch_fisher_stats(self, &b.obs, rng)
    }
    fn mlp_sizes(&self) -> Vec<usize> {
        self.mlp.sizes.iter().map(|&s| s as usize).collect()
    }
}

impl ValueFn for Critic {
    type Batch = Minibatch;
    fn numel(&self) -> usize {
        self.params.numel()
    }
    fn flat(&self) -> Vec<f64> {
        self.params.flat()
    }
    fn set_flat(&mut self, values: &[f64]) -> Result<()> {
        self.params.set_flat(values)
    }
    fn add_flat(&mut self, delta: &[f64]) -> Result<()> {
        self.params.add_flat(delta)
    }
    fn values(&self, obs: &[f64], dim: usize) -> Vec<f64> {
        let obs = to_tensor(obs, dim, device_of(&self.params.tensors));
        Vec::<f64>::try_from(&tch::no_grad(|| Critic::values(self, &obs))).expect("f64 values")
    }
    fn loss(&self, b: &Minibatch) -> f64 {
        tch::no_grad(|| value_loss(self, &b.obs, &b.returns)).double_value(&[])
    }
    fn loss_grad(&self, b: &Minibatch) -> Vec<f64> {
        self.params.grad(&value_loss(self, &b.obs, &b.returns))
    }
}

/// `½ mean (V(s) − R)²`.
pub fn value_loss(critic: &Critic, obs: &Tensor, returns: &Tensor) -> Tensor {
    (critic.values(obs) - returns).square().mean(Kind::Double) * 0.5
}
