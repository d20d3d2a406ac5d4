//! The training loop shared by every algorithm (spec §1.9, §3.1): rollout, GAE, minibatch
//! updates, evaluation (§6.3) and one metrics row per iteration (§6.4).
use super::checkpoint::{self, Checkpoint};
use super::config::NpgConfig;
use super::eval::evaluate;
use super::exact::ExactNatural;
use super::iter_stats::{fill_update, UpdateStats};
use super::log::{Row, COLUMNS, EPISODE_COLUMNS};
use super::method::{actor_method, ActorMethod};
use super::optim_actor::Optimiser;
use super::rollout::{to_tensor, Batch, Collector};
use super::summary::Tracker;
use super::trust_region::trust_region_step;
use super::update::{actor_step, critic_step, value_loss, Minibatch, Preconditioner};
use crate::experiment::Ctx;
use crate::nn::{Actor, Adam, Critic};
use crate::rl::gae::{gae, Rollout, Targets};
use crate::rl::normalize::{ObsNormalizer, RewardScaler};
use crate::rl::seed::derive_seed;
use crate::rl::{RngState, VecEnv};
use crate::run::{Metrics, Run};
use anyhow::{anyhow, Result};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::time::Instant;
use tch::{Kind, Tensor};

/// RNG stream ids (spec §7.1): one independent stream per purpose.
const STREAM_ENVS: u64 = 1;
const STREAM_ACTIONS: u64 = 2;
const STREAM_SHUFFLE: u64 = 3;
const STREAM_SCORE: u64 = 4;
const STREAM_EVAL: u64 = 5;

struct Learner {
    actor: Actor,
    critic: Critic,
    adam: Adam,
    method: ActorMethod,
    shuffle_rng: ChaCha8Rng,
    score_rng: ChaCha8Rng,
}

fn explained_variance(returns: &[f64], values: &[f64]) -> f64 {
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

fn scalar(t: &Tensor) -> f64 {
    t.double_value(&[])
}

impl Learner {
    /// GAE, then `max(epochs, critic.epochs)` shuffled passes of minibatch updates.
    fn update(
        &mut self,
        cfg: &NpgConfig,
        b: &Batch,
        obs_dim: usize,
        dev: tch::Device,
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
        let t = self.batch_tensors(b, &targets, obs_dim, dev);
        let snapshot = self.actor.snapshot(&t.obs);
        let mut stats = self.start_stats(&t, &targets, &b.values);
        if let ActorMethod::TrustRegion(tr) = &self.method {
            let a = normalise(&t.adv, cfg.norm_adv);
            let (obs, actions, old_logp) = (&t.obs, &t.actions, &t.old_logp);
            stats.trust = Some(trust_region_step(
                &self.actor,
                tr,
                obs,
                actions,
                old_logp,
                &a,
            )?);
        }
        let exact = self.exact_natural(cfg, &t.obs, diagnose)?;
        let n = targets.advantages.len();
        let mut order: Vec<i64> = (0..n as i64).collect();
        for pass in 0..cfg.epochs.max(cfg.critic.epochs) {
            order.shuffle(&mut self.shuffle_rng);
            for chunk in order.chunks(n.div_ceil(cfg.minibatches)) {
                let mb = t.minibatch(chunk, cfg.norm_adv, dev);
                if pass < cfg.epochs {
                    // The exact-Fisher cosine on the first minibatch only (it is costly).
                    let ex = exact.as_ref().filter(|_| stats.actor.is_empty());
                    self.actor_minibatch(&mb, ex, &mut stats)?;
                }
                if pass < cfg.critic.epochs {
                    critic_step(&self.critic, &mut self.adam, &mb, cfg.critic.max_grad_norm)?;
                }
            }
        }
        stats.approx_kl = scalar(&tch::no_grad(|| self.actor.mean_kl(&snapshot, &t.obs)));
        Ok(stats)
    }

    fn batch_tensors(
        &self,
        b: &Batch,
        targets: &Targets,
        obs_dim: usize,
        dev: tch::Device,
    ) -> BatchTensors {
        let obs = to_tensor(&b.obs, obs_dim, dev);
        let actions = self.actor.action_tensor(&b.actions, dev);
        BatchTensors {
            old_logp: tch::no_grad(|| self.actor.log_prob(&obs, &actions)),
            adv: Tensor::from_slice(&targets.advantages).to_device(dev),
            returns: Tensor::from_slice(&targets.returns).to_device(dev),
            obs,
            actions,
        }
    }

    /// pg_loss, v_loss, entropy at the start of the update, and the explained variance.
    fn start_stats(&self, t: &BatchTensors, targets: &Targets, values: &[f64]) -> UpdateStats {
        let adv = &targets.advantages;
        UpdateStats {
            pg_loss: -adv.iter().sum::<f64>() / adv.len() as f64,
            v_loss: scalar(&tch::no_grad(|| {
                value_loss(&self.critic, &t.obs, &t.returns)
            })),
            entropy: scalar(&tch::no_grad(|| {
                self.actor.entropy(&t.obs).mean(Kind::Double)
            })),
            explained_var: explained_variance(&targets.returns, values),
            ..UpdateStats::default()
        }
    }

    /// The §3.8 exact natural direction for SMAC on diagnostic iterations.
    fn exact_natural(
        &self,
        cfg: &NpgConfig,
        obs: &Tensor,
        diagnose: bool,
    ) -> Result<Option<ExactNatural>> {
        match (&self.method, diagnose) {
            (ActorMethod::Minibatch(u), true) => match u.pre {
                Preconditioner::Rank1 { damping, .. } => {
                    ExactNatural::new(&self.actor, obs, damping, cfg.cos_to_exact_max_params)
                        .map(Some)
                }
                Preconditioner::Identity | Preconditioner::Exact { .. } => Ok(None),
            },
            _ => Ok(None),
        }
    }

    fn actor_minibatch(
        &mut self,
        mb: &Minibatch,
        ex: Option<&ExactNatural>,
        stats: &mut UpdateStats,
    ) -> Result<()> {
        match &mut self.method {
            ActorMethod::Minibatch(upd) => {
                stats
                    .actor
                    .push(actor_step(&self.actor, mb, upd, &mut self.score_rng, ex)?);
            }
            ActorMethod::Optimiser(opt) => stats.optim.push(opt.step(&self.actor, mb)?),
            ActorMethod::TrustRegion(_) => {}
        }
        Ok(())
    }
}

/// The batch as tensors, shared by every minibatch.
struct BatchTensors {
    obs: Tensor,
    actions: Tensor,
    old_logp: Tensor,
    adv: Tensor,
    returns: Tensor,
}

impl BatchTensors {
    fn minibatch(&self, chunk: &[i64], norm_adv: bool, dev: tch::Device) -> Minibatch {
        let idx = Tensor::from_slice(chunk).to_device(dev);
        let adv = self.adv.index_select(0, &idx);
        Minibatch {
            obs: self.obs.index_select(0, &idx),
            actions: self.actions.index_select(0, &idx),
            old_logp: self.old_logp.index_select(0, &idx),
            adv: normalise(&adv, norm_adv && chunk.len() > 1),
            returns: self.returns.index_select(0, &idx),
            size: chunk.len(),
        }
    }
}

/// `(Â − mean)/(std + 1e-8)` when enabled (§1.7).
fn normalise(adv: &Tensor, enabled: bool) -> Tensor {
    if enabled {
        (adv - adv.mean(Kind::Double)) / (adv.std(true) + 1e-8)
    } else {
        adv.shallow_clone()
    }
}

/// Everything that evolves during training; checkpoints save and restore exactly this.
pub(crate) struct Trainer {
    learner: Learner,
    collector: Collector,
    act_rng: ChaCha8Rng,
    eval_rng: ChaCha8Rng,
    tracker: Tracker,
    obs_dim: usize,
}

impl Trainer {
    fn new(cfg: &NpgConfig, dev: tch::Device) -> Result<Self> {
        let stream = |s| ChaCha8Rng::seed_from_u64(derive_seed(cfg.seed, s));
        let opts = cfg.env.options();
        let venv = VecEnv::from_id(
            &cfg.env.id,
            &opts,
            cfg.num_envs,
            derive_seed(cfg.seed, STREAM_ENVS),
        )?;
        let obs_dim = venv.obs_dim();
        let actor = Actor::new(obs_dim, venv.action_space(), &cfg.hidden, dev);
        let critic = Critic::new(obs_dim, &cfg.critic.hidden, dev);
        let learner = Learner {
            method: actor_method(cfg, actor.params.numel())?,
            adam: Adam::new(critic.params.numel(), cfg.critic.lr),
            actor,
            critic,
            shuffle_rng: stream(STREAM_SHUFFLE),
            score_rng: stream(STREAM_SCORE),
        };
        let (on, gamma) = (&cfg.reward_norm, cfg.gamma);
        let collector = Collector {
            obs_norm: cfg
                .obs_norm
                .enabled
                .then(|| ObsNormalizer::new(obs_dim, cfg.obs_norm.clip)),
            reward_scale: on
                .enabled
                .then(|| RewardScaler::new(cfg.num_envs, gamma, on.clip)),
            venv,
            device: dev,
        };
        Ok(Trainer {
            learner,
            collector,
            act_rng: stream(STREAM_ACTIONS),
            eval_rng: stream(STREAM_EVAL),
            tracker: Tracker::new(cfg),
            obs_dim,
        })
    }

    /// One iteration: rollout, update, optional evaluation; returns the metrics row.
    fn iteration(
        &mut self,
        cfg: &NpgConfig,
        iter: usize,
        episodes: &mut Metrics,
        start: Instant,
    ) -> Result<Row> {
        let iters = cfg.iterations();
        if let ActorMethod::Optimiser(opt) = &mut self.learner.method {
            opt.set_iteration(iter, iters);
        }
        let dev = self.collector.device;
        let t0 = Instant::now();
        let mut finished = Vec::new();
        let (l, steps) = (&self.learner, self.tracker.env_steps);
        let batch = self.collector.collect(
            &l.actor,
            &l.critic,
            cfg.rollout_len,
            &mut self.act_rng,
            steps,
            &mut finished,
        );
        let rollout_ms = t0.elapsed().as_secs_f64() * 1e3;
        self.tracker.env_steps += cfg.batch_size();
        for (steps, e) in &finished {
            let cells = [
                *steps as f64,
                e.env as f64,
                e.ret,
                e.len as f64,
                e.terminated as u8 as f64,
                e.truncated as u8 as f64,
            ];
            episodes.row(&cells)?;
        }
        let t1 = Instant::now();
        let diagnose = cfg.cos_to_exact_every > 0 && iter.is_multiple_of(cfg.cos_to_exact_every);
        let stats = self
            .learner
            .update(cfg, &batch, self.obs_dim, dev, diagnose)?;
        let update_ms = t1.elapsed().as_secs_f64() * 1e3;
        let wall_s = start.elapsed().as_secs_f64();
        let steps = self.tracker.env_steps as f64;
        let mut row = Row::new();
        row.text("algo", cfg.algo.name())
            .text("env", &cfg.env.id)
            .num("seed", cfg.seed as f64);
        row.num("iter", iter as f64)
            .num("env_steps", steps)
            .num("wall_s", wall_s);
        row.num("sps", steps / wall_s)
            .num("rollout_ms", rollout_ms)
            .num("update_ms", update_ms);
        self.tracker.episodes(&mut row, &finished, update_ms);
        if iter == iters || (cfg.eval.every > 0 && iter.is_multiple_of(cfg.eval.every)) {
            let (m, sd, len) = evaluate(
                cfg,
                &self.learner.actor,
                &self.collector.obs_norm,
                &mut self.eval_rng,
                dev,
            )?;
            self.tracker.eval(m, sd);
            row.num("eval_return_mean", m)
                .num("eval_return_std", sd)
                .num("eval_len_mean", len);
        }
        fill_update(&mut row, &stats, self.learner.method.lr());
        Ok(row)
    }

    pub(crate) fn save(&self, cfg: &NpgConfig, iter: usize) -> Checkpoint {
        let l = &self.learner;
        Checkpoint {
            algo: cfg.algo.name().to_string(),
            env: cfg.env.id.clone(),
            iter,
            actor: l.actor.params.flat(),
            critic: l.critic.params.flat(),
            critic_adam: l.adam.clone(),
            actor_optimiser: match &l.method {
                ActorMethod::Optimiser(o) => Some(o.optimiser.clone()),
                ActorMethod::Minibatch(u) => u.adam.clone().map(Optimiser::Adam),
                ActorMethod::TrustRegion(_) => None,
            },
            obs_norm: self.collector.obs_norm.clone(),
            reward_scale: self.collector.reward_scale.clone(),
            venv: self.collector.venv.save(),
            rngs: [&self.act_rng, &self.eval_rng, &l.shuffle_rng, &l.score_rng].map(RngState::of),
            tracker: self.tracker.clone(),
        }
    }

    pub(crate) fn restore(&mut self, c: &Checkpoint) -> Result<()> {
        let l = &mut self.learner;
        l.actor.params.set_flat(&c.actor)?;
        l.critic.params.set_flat(&c.critic)?;
        l.adam = c.critic_adam.clone();
        match (&mut l.method, &c.actor_optimiser) {
            (ActorMethod::Optimiser(o), Some(saved)) => o.optimiser = saved.clone(),
            (ActorMethod::Minibatch(u), Some(Optimiser::Adam(saved))) => {
                u.adam = Some(saved.clone())
            }
            _ => {}
        }
        self.collector.obs_norm.clone_from(&c.obs_norm);
        self.collector.reward_scale.clone_from(&c.reward_scale);
        self.collector.venv.load(&c.venv)?;
        self.act_rng = c.rngs[0].restore()?;
        self.eval_rng = c.rngs[1].restore()?;
        l.shuffle_rng = c.rngs[2].restore()?;
        l.score_rng = c.rngs[3].restore()?;
        self.tracker = c.tracker.clone();
        Ok(())
    }
}

pub fn train(cfg: &NpgConfig, run: &mut Run, ctx: &mut Ctx) -> Result<()> {
    let mut trainer = Trainer::new(cfg, ctx.device)?;
    let mut metrics = run.csv("metrics.csv", COLUMNS)?;
    let mut episodes = run.csv("episodes.csv", EPISODE_COLUMNS)?;
    let mut first = 1;
    if let Some(dir) = &cfg.resume_from {
        let ckpt = checkpoint::load(dir, cfg)?;
        trainer.restore(&ckpt)?;
        checkpoint::copy_rows(
            dir,
            ckpt.iter,
            ckpt.tracker.env_steps,
            &mut metrics,
            &mut episodes,
        )?;
        first = ckpt.iter + 1;
    }
    let iters = cfg.iterations();
    let mut progress = run.progress(iters as u64, "npg-rank1");
    let start = Instant::now();
    for iter in first..=iters {
        let row = trainer.iteration(cfg, iter, &mut episodes, start)?;
        metrics.cells(row.cells())?;
        if iter == iters || (cfg.checkpoint_every > 0 && iter.is_multiple_of(cfg.checkpoint_every))
        {
            checkpoint::save(&run.path(checkpoint::FILE), &trainer.save(cfg, iter))?;
        }
        progress.set(iter as u64, &trainer.tracker.progress_text());
        run.check_interrupt()?;
    }
    progress.finish(&format!("{iters} iterations"));
    run.write_summary(&trainer.tracker.summary(start.elapsed().as_secs_f64()))
        .map_err(|e| anyhow!("writing summary.json: {e}"))
}
