//! The training loop shared by every algorithm (spec §1.9, §3.1): rollout, the learner's update
//! (`learner.rs`: GAE, minibatch passes), evaluation (§6.3) and one metrics row per iteration (§6.4).
use super::backend::{Backend, Policy, ValueFn};
use super::checkpoint::{self, Checkpoint};
use super::config::NpgConfig;
use super::eval::evaluate;
use super::exact;
use super::iter_stats::fill_update;
use super::learner::Learner;
use super::log::{COLUMNS, EPISODE_COLUMNS};
use super::method::{actor_method, ActorMethod};
use super::optim_actor::Optimiser;
use super::policy::{Actor, Adam, Critic, NativeActor, NativeCritic};
use super::rollout::Collector;
use super::summary::Tracker;
use crate::experiment::Ctx;
use crate::rl::normalize::{ObsNormalizer, RewardScaler};
use crate::rl::seed::derive_seed;
use crate::rl::{RngState, Space, VecEnv};
use crate::run::{Metrics, Row, Run};
use anyhow::{anyhow, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

/// RNG stream ids (spec §7.1): one independent stream per purpose. (Stream 1 seeded the
/// envs before they took the run's seed itself, as Gymnasium's vector envs do.)
const STREAM_ACTIONS: u64 = 2;
const STREAM_SHUFFLE: u64 = 3;
const STREAM_SCORE: u64 = 4;
const STREAM_EVAL: u64 = 5;

/// Everything that evolves during training; checkpoints save and restore exactly this.
pub(crate) struct Trainer<A, C> {
    learner: Learner<A, C>,
    collector: Collector,
    act_rng: ChaCha8Rng,
    eval_rng: ChaCha8Rng,
    tracker: Tracker,
    obs_dim: usize,
}

impl<A: Policy, C: ValueFn<Batch = A::Batch>> Trainer<A, C> {
    /// `nets(obs_dim, action space)` builds the initial actor and critic.
    fn new(cfg: &NpgConfig, nets: impl FnOnce(usize, &Space) -> (A, C)) -> Result<Self> {
        let stream = |s| ChaCha8Rng::seed_from_u64(derive_seed(cfg.seed, s));
        let opts = cfg.env.options();
        let venv = VecEnv::from_id(
            &cfg.env.id,
            &opts,
            cfg.num_envs,
            // `--seed s` is Gymnasium's `make_vec(..).reset(seed=s)`: env i starts from s + i.
            cfg.seed,
        )?;
        let obs_dim = venv.obs_dim();
        let (actor, critic) = nets(obs_dim, venv.action_space());
        exact::preflight(cfg, actor.numel(), venv.action_space())?;
        let learner = Learner {
            method: actor_method(cfg, &actor)?,
            adam: Adam::new(critic.numel(), cfg.critic.lr),
            actor,
            critic,
            shuffle_rng: stream(STREAM_SHUFFLE),
            score_rng: stream(STREAM_SCORE),
        };
        let (on, gamma) = (&cfg.reward_norm, cfg.gamma);
        let collector = Collector {
            obs_norm: cfg
                .obs_norm
                .on_for(&cfg.env.id)
                .then(|| ObsNormalizer::new(obs_dim, cfg.obs_norm.clip)),
            reward_scale: on
                .on_for(&cfg.env.id)
                .then(|| RewardScaler::new(cfg.num_envs, gamma, on.clip)),
            venv,
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

    /// One iteration: rollout, update, optional evaluation; fills the metrics row.
    fn iteration(
        &mut self,
        cfg: &NpgConfig,
        iter: usize,
        row: &mut Row,
        episodes: &mut Metrics,
        start: Instant,
    ) -> Result<()> {
        let iters = cfg.iterations();
        if let ActorMethod::Optimiser(opt) = &mut self.learner.method {
            opt.set_iteration(iter, iters);
        }
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
            let mut row = episodes.new_row();
            row.num("env_steps", *steps as f64)
                .num("env", e.env as f64)
                .num("return", e.ret)
                .num("length", e.len as f64)
                .num("terminated", e.terminated as u8 as f64)
                .num("truncated", e.truncated as u8 as f64);
            episodes.write(&row)?;
        }
        let t1 = Instant::now();
        let diagnose = cfg.cos_to_exact_every > 0 && iter.is_multiple_of(cfg.cos_to_exact_every);
        let stats = self.learner.update(cfg, &batch, self.obs_dim, diagnose)?;
        let update_ms = t1.elapsed().as_secs_f64() * 1e3;
        let wall_s = start.elapsed().as_secs_f64();
        let steps = self.tracker.env_steps as f64;
        row.text("algo", cfg.algo.name())
            .text("env", &cfg.env.id)
            .num("seed", cfg.seed as f64);
        row.num("iter", iter as f64)
            .num("env_steps", steps)
            .num("wall_s", wall_s);
        row.num("steps_per_s", steps / wall_s)
            .num("rollout_ms", rollout_ms)
            .num("update_ms", update_ms);
        self.tracker.episodes(row, &finished, update_ms);
        let scheduled = cfg.eval.every > 0 && iter.is_multiple_of(cfg.eval.every);
        if iter == iters || scheduled {
            // The run's last evaluation off the schedule draws from a copy of the stream, so a
            // run continued past this end evaluates as an uninterrupted one (it drops this one).
            let mut copy;
            let rng = if scheduled {
                &mut self.eval_rng
            } else {
                copy = self.eval_rng.clone();
                &mut copy
            };
            let (m, sd, len) = evaluate(cfg, &self.learner.actor, &self.collector.obs_norm, rng)?;
            self.tracker.eval(m, sd, !scheduled);
            row.num("eval_return_mean", m)
                .num("eval_return_std", sd)
                .num("eval_len_mean", len);
        }
        self.tracker.skipped_updates += stats.skipped.unwrap_or(0);
        fill_update(row, &stats, self.learner.method.lr());
        Ok(())
    }

    pub(crate) fn save(&self, cfg: &NpgConfig, iter: usize) -> Checkpoint {
        let l = &self.learner;
        Checkpoint {
            algo: cfg.algo.name().to_string(),
            env: cfg.env.id.clone(),
            iter,
            actor: l.actor.flat(),
            critic: l.critic.flat(),
            critic_adam: l.adam.clone(),
            actor_optimiser: match &l.method {
                ActorMethod::Optimiser(o) => Some(o.optimiser.clone()),
                ActorMethod::Minibatch(u) => u.adam.clone().map(Optimiser::Adam),
                ActorMethod::TrustRegion(_) | ActorMethod::Acktr(_) => None,
            },
            acktr: match &l.method {
                ActorMethod::Acktr(k) => Some(k.save()),
                _ => None,
            },
            obs_norm: self.collector.obs_norm.clone(),
            reward_scale: self.collector.reward_scale.clone(),
            venv: self.collector.venv.save(),
            rngs: [&self.act_rng, &self.eval_rng, &l.shuffle_rng, &l.score_rng].map(RngState::of),
            tracker: self.tracker.clone(),
        }
    }

    pub(crate) fn restore(&mut self, c: &Checkpoint) -> Result<()> {
        // `steps_to_threshold` so far was counted against the checkpoint's threshold: a
        // changed one would be silently replaced by it (or disagree with it).
        let (saved, asked) = (c.tracker.threshold, self.tracker.threshold);
        if saved != asked {
            return Err(anyhow!(
                "threshold: the checkpoint counted steps_to_threshold against {saved}, this \
                 config asks for {asked}"
            ));
        }
        let l = &mut self.learner;
        l.actor.set_flat(&c.actor)?;
        l.critic.set_flat(&c.critic)?;
        l.adam = c.critic_adam.clone();
        match (&mut l.method, &c.actor_optimiser) {
            (ActorMethod::Optimiser(o), Some(saved)) => o.optimiser = saved.clone(),
            (ActorMethod::Minibatch(u), Some(Optimiser::Adam(saved))) => {
                u.adam = Some(saved.clone())
            }
            _ => {}
        }
        if let (ActorMethod::Acktr(k), Some(saved)) = (&mut l.method, &c.acktr) {
            k.load(saved)?;
        }
        self.collector.obs_norm.clone_from(&c.obs_norm);
        self.collector.reward_scale.clone_from(&c.reward_scale);
        self.collector.venv.load(&c.venv)?;
        self.act_rng = c.rngs[0].restore()?;
        self.eval_rng = c.rngs[1].restore()?;
        l.shuffle_rng = c.rngs[2].restore()?;
        l.score_rng = c.rngs[3].restore()?;
        self.tracker = c.tracker.clone();
        self.tracker.drop_final_only_eval();
        Ok(())
    }
}

/// Train on the configured backend. `native` computes on the CPU whatever `--device` says
/// (tiny f64 networks gain nothing from a GPU); meta.json then records `cpu`.
pub fn train(cfg: &NpgConfig, run: &mut Run, ctx: &mut Ctx) -> Result<()> {
    crate::rl::run_log::log_to(Some(run.path(crate::rl::run_log::FILE)));
    let dev = ctx.device;
    match cfg.backend {
        Backend::Torch => {
            let trainer = Trainer::new(cfg, |obs_dim, space| {
                let actor = Actor::new(obs_dim, space, &cfg.hidden, dev);
                (actor, Critic::new(obs_dim, &cfg.critic.hidden, dev))
            })?;
            run_loop(trainer, cfg, run)
        }
        Backend::Native => {
            if dev != tch::Device::Cpu {
                eprintln!("note: backend native runs on the CPU; use backend: torch for {dev:?}");
                run.set_compute_device("cpu")?;
            }
            let trainer = Trainer::new(cfg, |obs_dim, space| {
                let actor = NativeActor::new(obs_dim, space, &cfg.hidden);
                (actor, NativeCritic::new(obs_dim, &cfg.critic.hidden))
            })?;
            run_loop(trainer, cfg, run)
        }
    }
}

fn run_loop<A, C>(mut trainer: Trainer<A, C>, cfg: &NpgConfig, run: &mut Run) -> Result<()>
where
    A: Policy,
    C: ValueFn<Batch = A::Batch>,
{
    let mut metrics = run.csv("metrics.csv", COLUMNS)?;
    let mut episodes = run.csv("episodes.csv", EPISODE_COLUMNS)?;
    let mut first = 1;
    if let Some(dir) = &cfg.resume_from {
        let ckpt = checkpoint::load(dir, cfg)?;
        // A checkpoint that does not fit (another `hidden`, `num_envs`, normalisation) comes
        // from a run with another config, or was damaged: a usage error, the new folder removed.
        let fresh = trainer.save(cfg, ckpt.iter);
        let fits = super::checkpoint_fit::check(&ckpt, &fresh, cfg.batch_size())
            .and_then(|()| super::checkpoint_state::check(&ckpt, &fresh, cfg));
        fits.and_then(|()| trainer.restore(&ckpt)).map_err(|e| {
            crate::error::usage(format!(
                "resume_from: the checkpoint {} does not fit this config: {e:#}; continue a \
                 run with its own config (`lab npg-rank1 --resume RUN_DIR` reads its \
                 config.yaml; `total_steps` may be raised), or start it again if this \
                 checkpoint.json was damaged",
                dir.join(checkpoint::FILE).display()
            ))
        })?;
        trainer.tracker.skipped_updates =
            checkpoint::copy_rows(dir, &ckpt, cfg, &mut metrics, &mut episodes)?;
        first = ckpt.iter + 1;
    }
    let iters = cfg.iterations();
    let mut progress = run.progress(iters as u64, "npg-rank1");
    let start = Instant::now();
    for iter in first..=iters {
        let mut row = metrics.new_row();
        trainer.iteration(cfg, iter, &mut row, &mut episodes, start)?;
        metrics.write(&row)?;
        // Also on Ctrl-C / SIGTERM: the run stops after this row, and `--resume` continues
        // from it (an interrupt before the first periodic checkpoint left nothing to resume,
        // and a later one had its rows since that checkpoint computed again).
        let periodic = cfg.checkpoint_every > 0 && iter.is_multiple_of(cfg.checkpoint_every);
        if iter == iters || periodic || crate::run::interrupted() {
            checkpoint::save(&run.path(checkpoint::FILE), &trainer.save(cfg, iter))?;
        }
        progress.set(iter as u64, &trainer.tracker.progress_text());
        run.check_interrupt()?;
    }
    progress.finish(&format!("{iters} iterations"));
    let summary = trainer.tracker.summary(start.elapsed().as_secs_f64());
    run.write_summary(&summary)
        .map_err(|e| anyhow!("writing summary.json: {e}"))?;
    if let (ActorMethod::Acktr(k), n @ 1..) = (&trainer.learner.method, summary.skipped_updates) {
        eprintln!(
            "warning: ACKTR skipped {n} of {} actor updates (θ unchanged: the K-FAC statistics \
             or step were not finite; the damping is not raised); metrics.csv \
             `skipped_updates` counts them per iteration, summary.json `skipped_updates` in all",
            k.steps()
        );
    }
    Ok(())
}
