//! Evaluation episodes (spec §6.3).
use super::backend::Policy;
use super::config::{EvalMode, NpgConfig};
use super::rollout::network_input;
use crate::rl::normalize::ObsNormalizer;
use crate::rl::{make, Action, Env, Space};
use anyhow::Result;
use rand_chacha::ChaCha8Rng;

/// Evaluation episodes on fresh envs with seeds `seed + seed_offset + k`, frozen observation
/// statistics and raw rewards (§6.3). Returns (mean, std, mean length).
pub fn evaluate<P: Policy>(
    cfg: &NpgConfig,
    actor: &P,
    norm: &Option<ObsNormalizer>,
    rng: &mut ChaCha8Rng,
) -> Result<(f64, f64, f64)> {
    let mut frozen = norm.clone();
    let deterministic = cfg.eval.mode == EvalMode::Deterministic;
    let (mut returns, mut lengths) = (Vec::new(), Vec::new());
    for k in 0..cfg.eval.episodes as u64 {
        let mut env = make(&cfg.env.id, &cfg.env.options())?;
        let mut obs = vec![0.0f32; env.obs_dim()];
        env.reset(Some(cfg.seed + cfg.eval.seed_offset + k), &mut obs);
        let (mut ret, mut len) = (0.0, 0usize);
        loop {
            let rows = network_input(&obs, &mut frozen, false);
            let (_, sent) = actor.act(&rows, obs.len(), rng, deterministic);
            let t = match env.action_space() {
                Space::Discrete(_) => env.step(Action::Discrete(sent[0] as usize), &mut obs),
                Space::Box { .. } => env.step(Action::Continuous(&sent), &mut obs),
            };
            ret += t.reward;
            len += 1;
            if t.done() {
                break;
            }
        }
        returns.push(ret);
        lengths.push(len as f64);
    }
    let m = returns.iter().sum::<f64>() / returns.len() as f64;
    let sd = (returns.iter().map(|r| (r - m).powi(2)).sum::<f64>() / returns.len() as f64).sqrt();
    Ok((m, sd, lengths.iter().sum::<f64>() / lengths.len() as f64))
}
