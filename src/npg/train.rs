//! The training loop shared by every algorithm (spec §1.9, §3.1): rollout, GAE, minibatch
//! updates, evaluation (§6.3) and one metrics row per iteration (§6.4).
use super::config::NpgConfig;
use super::eval::evaluate;
use super::log::{CsvLog, Row, COLUMNS, EPISODE_COLUMNS};
use super::method::{actor_method, ActorMethod};
use super::optim_actor::OptimStats;
use super::rollout::{to_tensor, Batch, Collector};
use super::summary::Tracker;
use super::trust_region::{trust_region_step, TrustRegionStats};
use super::update::{actor_step, critic_step, value_loss, ActorStats, Minibatch};
use crate::experiment::Ctx;
use crate::nn::{Actor, Adam, Critic};
use crate::rl::gae::{gae, Rollout};
use crate::rl::normalize::{ObsNormalizer, RewardScaler};
use crate::rl::seed::derive_seed;
use crate::rl::VecEnv;
use crate::run::Run;
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

/// Per-iteration numbers from the update phase.
#[derive(Default)]
struct UpdateStats {
    pg_loss: f64,
    v_loss: f64,
    entropy: f64,
    approx_kl: f64,
    explained_var: f64,
    actor: Vec<ActorStats>,
    optim: Vec<OptimStats>,
    trust: Option<TrustRegionStats>,
}

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
        let obs = to_tensor(&b.obs, obs_dim, dev);
        let actions = self.actor.action_tensor(&b.actions, dev);
        let adv = Tensor::from_slice(&targets.advantages).to_device(dev);
        let returns = Tensor::from_slice(&targets.returns).to_device(dev);
        let old_logp = tch::no_grad(|| self.actor.log_prob(&obs, &actions));
        let snapshot = self.actor.snapshot(&obs);
        let mut stats = UpdateStats {
            pg_loss: -targets.advantages.iter().sum::<f64>() / targets.advantages.len() as f64,
            v_loss: scalar(&tch::no_grad(|| value_loss(&self.critic, &obs, &returns))),
            entropy: scalar(&tch::no_grad(|| {
                self.actor.entropy(&obs).mean(Kind::Double)
            })),
            explained_var: explained_variance(&targets.returns, &b.values),
            ..UpdateStats::default()
        };
        if let ActorMethod::TrustRegion(tr) = &self.method {
            let a = if cfg.norm_adv {
                (&adv - adv.mean(Kind::Double)) / (adv.std(true) + 1e-8)
            } else {
                adv.shallow_clone()
            };
            stats.trust = Some(trust_region_step(
                &self.actor,
                tr,
                &obs,
                &actions,
                &old_logp,
                &a,
            )?);
        }
        let n = targets.advantages.len();
        let mb_size = n.div_ceil(cfg.minibatches);
        let mut order: Vec<i64> = (0..n as i64).collect();
        for pass in 0..cfg.epochs.max(cfg.critic.epochs) {
            order.shuffle(&mut self.shuffle_rng);
            for chunk in order.chunks(mb_size) {
                let idx = Tensor::from_slice(chunk).to_device(dev);
                let mut a = adv.index_select(0, &idx);
                if cfg.norm_adv && chunk.len() > 1 {
                    a = (&a - a.mean(Kind::Double)) / (a.std(true) + 1e-8);
                }
                let mb = Minibatch {
                    obs: obs.index_select(0, &idx),
                    actions: actions.index_select(0, &idx),
                    old_logp: old_logp.index_select(0, &idx),
                    adv: a,
                    returns: returns.index_select(0, &idx),
                    size: chunk.len(),
                };
                match (pass < cfg.epochs, &mut self.method) {
                    (true, ActorMethod::Minibatch(upd)) => {
                        let s = actor_step(&self.actor, &mb, upd, &mut self.score_rng)?;
                        stats.actor.push(s);
                    }
                    (true, ActorMethod::Optimiser(opt)) => {
                        stats.optim.push(opt.step(&self.actor, &mb)?)
                    }
                    _ => {}
                }
                if pass < cfg.critic.epochs {
                    critic_step(&self.critic, &mut self.adam, &mb, cfg.critic.max_grad_norm)?;
                }
            }
        }
        stats.approx_kl = scalar(&tch::no_grad(|| self.actor.mean_kl(&snapshot, &obs)));
        Ok(stats)
    }
}

fn mean_of(stats: &[ActorStats], f: impl Fn(&ActorStats) -> Option<f64>) -> Option<f64> {
    let xs: Vec<f64> = stats.iter().filter_map(f).collect();
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

fn fill_trust(row: &mut Row, t: &TrustRegionStats) {
    row.num("g_norm", t.g_norm)
        .num("g_dot_d", t.g_dot_d)
        .num("d_norm", t.d_norm);
    row.num("step_size", t.step_size)
        .num("update_norm", t.update_norm);
    row.num("cg_iters", t.cg_iters as f64)
        .num("cg_residual", t.cg_residual);
    row.opt("ls_steps", t.ls_steps.map(|x| x as f64));
    row.opt("ls_accepted", t.ls_accepted.map(|x| x as u8 as f64));
}

fn fill_update(row: &mut Row, s: &UpdateStats, lr: Option<f64>) {
    row.num("pg_loss", s.pg_loss)
        .num("v_loss", s.v_loss)
        .num("entropy", s.entropy);
    row.num("approx_kl", s.approx_kl)
        .num("explained_var", s.explained_var);
    let a = &s.actor;
    row.opt("g_norm", mean_of(a, |x| Some(x.g_norm)));
    row.opt("u_norm_sq", mean_of(a, |x| x.u_norm_sq));
    row.opt("u_logstd_sq", mean_of(a, |x| x.u_logstd_sq));
    row.opt("u_dot_g", mean_of(a, |x| x.u_dot_g));
    row.opt("cos_ug", mean_of(a, |x| x.cos_ug));
    row.opt("sm_c", mean_of(a, |x| x.sm_c));
    row.opt("d_norm", mean_of(a, |x| x.d_norm));
    row.opt("g_dot_d", mean_of(a, |x| x.g_dot_d));
    row.opt("step_size", mean_of(a, |x| Some(x.step_size)));
    row.opt("update_norm", mean_of(a, |x| Some(x.update_norm)));
    row.opt(
        "clip_frac_update",
        mean_of(a, |x| Some(x.clipped as u8 as f64)),
    );
    if let Some(t) = &s.trust {
        fill_trust(row, t);
    }
    if !s.optim.is_empty() {
        let o = &s.optim;
        let mean = |f: &dyn Fn(&OptimStats) -> Option<f64>| {
            let xs: Vec<f64> = o.iter().filter_map(f).collect();
            (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
        };
        row.opt("g_norm", mean(&|x| Some(x.g_norm)));
        row.opt("update_norm", mean(&|x| Some(x.update_norm)));
        row.opt("clipfrac", mean(&|x| x.clipfrac));
    }
    row.opt("lr", lr);
}

pub fn train(cfg: &NpgConfig, run: &mut Run, ctx: &mut Ctx) -> Result<()> {
    let dev = ctx.device;
    let stream = |s| ChaCha8Rng::seed_from_u64(derive_seed(cfg.seed, s));
    let venv = VecEnv::from_id(
        &cfg.env.id,
        &cfg.env.options(),
        cfg.num_envs,
        derive_seed(cfg.seed, STREAM_ENVS),
    )?;
    let obs_dim = venv.obs_dim();
    let actor = Actor::new(obs_dim, venv.action_space(), &cfg.hidden, dev);
    let critic = Critic::new(obs_dim, &cfg.critic.hidden, dev);
    let method = actor_method(cfg, actor.params.numel())?;
    let mut learner = Learner {
        adam: Adam::new(critic.params.numel(), cfg.critic.lr),
        actor,
        critic,
        method,
        shuffle_rng: stream(STREAM_SHUFFLE),
        score_rng: stream(STREAM_SCORE),
    };
    let mut collector = Collector {
        obs_norm: cfg
            .obs_norm
            .enabled
            .then(|| ObsNormalizer::new(obs_dim, cfg.obs_norm.clip)),
        reward_scale: cfg
            .reward_norm
            .enabled
            .then(|| RewardScaler::new(cfg.num_envs, cfg.gamma, cfg.reward_norm.clip)),
        venv,
        device: dev,
    };
    let (mut act_rng, mut eval_rng) = (stream(STREAM_ACTIONS), stream(STREAM_EVAL));
    let mut metrics = CsvLog::create(&run.path("metrics.csv"), COLUMNS)?;
    let mut episodes_csv = CsvLog::create(&run.path("episodes.csv"), EPISODE_COLUMNS)?;
    let iters = cfg.iterations();
    let mut tracker = Tracker::new(cfg);
    let mut progress = run.progress(iters as u64, "npg-rank1");
    let start = Instant::now();
    for iter in 1..=iters {
        if let ActorMethod::Optimiser(opt) = &mut learner.method {
            opt.set_iteration(iter, iters);
        }
        let t0 = Instant::now();
        let mut finished = Vec::new();
        let batch = collector.collect(
            &learner.actor,
            &learner.critic,
            cfg.rollout_len,
            &mut act_rng,
            tracker.env_steps,
            &mut finished,
        );
        let rollout_ms = t0.elapsed().as_secs_f64() * 1e3;
        tracker.env_steps += cfg.batch_size();
        for (steps, e) in &finished {
            let cells = [
                *steps as f64,
                e.env as f64,
                e.ret,
                e.len as f64,
                e.terminated as u8 as f64,
                e.truncated as u8 as f64,
            ];
            episodes_csv.write(
                &cells
                    .iter()
                    .map(|v| crate::run::fmt_num(*v))
                    .collect::<Vec<_>>(),
            )?;
        }
        let t1 = Instant::now();
        let stats = learner.update(cfg, &batch, obs_dim, dev)?;
        let update_ms = t1.elapsed().as_secs_f64() * 1e3;
        let wall_s = start.elapsed().as_secs_f64();
        let mut row = Row::new();
        row.text("algo", cfg.algo.name())
            .text("env", &cfg.env.id)
            .num("seed", cfg.seed as f64);
        row.num("iter", iter as f64)
            .num("env_steps", tracker.env_steps as f64)
            .num("wall_s", wall_s);
        row.num("sps", tracker.env_steps as f64 / wall_s)
            .num("rollout_ms", rollout_ms)
            .num("update_ms", update_ms);
        tracker.episodes(&mut row, &finished, update_ms);
        let eval_now = iter == iters || (cfg.eval.every > 0 && iter % cfg.eval.every == 0);
        if eval_now {
            let (m, sd, len) =
                evaluate(cfg, &learner.actor, &collector.obs_norm, &mut eval_rng, dev)?;
            tracker.eval(m, sd);
            row.num("eval_return_mean", m)
                .num("eval_return_std", sd)
                .num("eval_len_mean", len);
        }
        fill_update(&mut row, &stats, learner.method.lr());
        metrics.write_row(&row)?;
        progress.set(iter as u64, &tracker.progress_text());
        run.check_interrupt()?;
    }
    progress.finish(&format!("{iters} iterations"));
    run.write_summary(&tracker.summary(start.elapsed().as_secs_f64()))
        .map_err(|e| anyhow!("writing summary.json: {e}"))
}
