//! The learner of one iteration (spec §1.9, §3.1): GAE, then shuffled minibatch passes of the
//! actor's method and the critic's Adam steps; the §3.8 exact natural direction on diagnostic
//! iterations.
use super::backend::{Policy, ValueFn};
use super::batch::{explained_variance, normalise, samples, select};
use super::config::NpgConfig;
use super::exact::{ExactNatural, FisherLimit};
use super::iter_stats::UpdateStats;
use super::method::ActorMethod;
use super::policy::Adam;
use super::rollout::Batch;
use super::trust_region::trust_region_step;
use super::update::{actor_step, critic_step, Preconditioner};
use crate::rl::gae::{gae, Rollout};
use anyhow::Result;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

pub(super) struct Learner<A, C> {
    pub(super) actor: A,
    pub(super) critic: C,
    pub(super) adam: Adam,
    pub(super) method: ActorMethod,
    pub(super) shuffle_rng: ChaCha8Rng,
    pub(super) score_rng: ChaCha8Rng,
}

impl<A: Policy, C: ValueFn<Batch = A::Batch>> Learner<A, C> {
    /// GAE, then `max(epochs, critic.epochs)` shuffled passes of minibatch updates.
    pub(super) fn update(
        &mut self,
        cfg: &NpgConfig,
        b: &Batch,
        obs_dim: usize,
        diagnose: bool,
    ) -> Result<UpdateStats> {
        let rollout = Rollout {
            num_envs: cfg.num_envs,
            rewards: &b.rewards,
            values: &b.values,
            terminated: &b.terminated,
            truncated: &b.truncated,
            final_values: &b.final_values,
            last_values: &b.last_values,
        };
        let targets = gae(&rollout, cfg.gamma, cfg.gae_lambda);
        let all = samples(&self.actor, b, &targets, obs_dim);
        let full = self.actor.batch(&all);
        let snapshot = self.actor.snapshot(&full);
        let mut stats = UpdateStats {
            pg_loss: -all.adv.iter().sum::<f64>() / all.size as f64,
            v_loss: self.critic.loss(&full),
            entropy: self.actor.mean_entropy(&full),
            explained_var: explained_variance(&targets.returns, &b.values),
            ..UpdateStats::default()
        };
        if let ActorMethod::TrustRegion(tr) = &self.method {
            let mut normed = all.clone();
            normalise(&mut normed.adv, cfg.norm_adv);
            let batch = self.actor.batch(&normed);
            stats.trust = Some(trust_region_step(&mut self.actor, tr, &batch)?);
        }
        let exact = self.exact_natural(cfg, &full, diagnose)?;
        let n = all.size;
        let mut order: Vec<usize> = (0..n).collect();
        for pass in 0..cfg.epochs.max(cfg.critic.epochs) {
            order.shuffle(&mut self.shuffle_rng);
            for chunk in order.chunks(n.div_ceil(cfg.minibatches)) {
                let mb = self.actor.batch(&select(&all, chunk, cfg.norm_adv));
                if pass < cfg.epochs {
                    // The exact-Fisher cosine on the first minibatch only (it is costly).
                    let ex = exact.as_ref().filter(|_| stats.actor.is_empty());
                    self.actor_minibatch(&mb, ex, &mut stats)?;
                }
                if pass < cfg.critic.epochs {
                    let clip = cfg.critic.max_grad_norm;
                    critic_step(&mut self.critic, &mut self.adam, &mb, clip)?;
                }
            }
        }
        stats.approx_kl = self.actor.mean_kl(&snapshot, &full);
        Ok(stats)
    }

    /// The §3.8 exact natural direction for SMAC on diagnostic iterations.
    fn exact_natural(
        &self,
        cfg: &NpgConfig,
        full: &A::Batch,
        diagnose: bool,
    ) -> Result<Option<ExactNatural>> {
        match (&self.method, diagnose) {
            (ActorMethod::Minibatch(u), true) => match u.pre {
                Preconditioner::Rank1 { damping, .. } => {
                    let limit = FisherLimit {
                        key: "cos_to_exact_max_params",
                        max_params: cfg.cos_to_exact_max_params,
                    };
                    ExactNatural::of(&self.actor, full, damping, limit).map(Some)
                }
                Preconditioner::Identity | Preconditioner::Exact { .. } => Ok(None),
            },
            _ => Ok(None),
        }
    }

    fn actor_minibatch(
        &mut self,
        mb: &A::Batch,
        ex: Option<&ExactNatural>,
        stats: &mut UpdateStats,
    ) -> Result<()> {
        let actor = &mut self.actor;
        match &mut self.method {
            ActorMethod::Minibatch(upd) => {
                stats
                    .actor
                    .push(actor_step(actor, mb, upd, &mut self.score_rng, ex)?);
            }
            ActorMethod::Optimiser(opt) => stats.optim.push(opt.step(actor, mb)?),
            ActorMethod::Acktr(k) => {
                let step = k.step(actor, mb, &mut self.score_rng)?;
                *stats.skipped.get_or_insert(0) += u64::from(step.skipped);
                stats.actor.push(step);
            }
            ActorMethod::TrustRegion(_) => {}
        }
        Ok(())
    }
}
