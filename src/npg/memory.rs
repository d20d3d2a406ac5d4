//! Memory preflight of a run, before any folder is made: a lower bound on what the networks,
//! the rollout batch and ACKTR's Kronecker factors take, against what this process may still
//! allocate. A `hidden: [100000, 100000]` actor (80 GB of weights) made libtorch's allocator
//! fail inside the orthogonal init, which panicked and left meta.json "running"; a huge
//! `num_envs` built environments until the kernel killed the process.
use super::config::{Algo, NpgConfig};
use crate::error::usage;
use crate::rl::Space;
use anyhow::Result;

/// Parameters of a dense MLP with layer widths `sizes` (weights and biases), in f64 so that
/// absurd widths cannot overflow.
fn mlp_params(sizes: &[f64]) -> f64 {
    sizes.windows(2).map(|w| (w[0] + 1.0) * w[1]).sum()
}

/// One line of the estimate: what it is (naming its keys) and its bytes.
struct Part {
    what: String,
    bytes: f64,
}

/// The parts of a run's memory that grow with its config, each a lower bound in bytes.
fn parts(cfg: &NpgConfig, obs_dim: usize, space: &Space) -> Vec<Part> {
    let obs = obs_dim as f64;
    let (head, act, log_std) = match space {
        Space::Discrete(n) => (*n as f64, 1.0, 0.0),
        Space::Box { low, .. } => (low.len() as f64, low.len() as f64, low.len() as f64),
    };
    let widths = |hidden: &[usize], out: f64| {
        let mut s = vec![obs];
        s.extend(hidden.iter().map(|&h| h as f64));
        s.push(out);
        s
    };
    let actor_sizes = widths(&cfg.hidden, head);
    let critic_sizes = widths(&cfg.critic.hidden, 1.0);
    let n_actor = mlp_params(&actor_sizes) + log_std;
    let n_critic = mlp_params(&critic_sizes);
    let batch = cfg.num_envs as f64 * cfg.rollout_len as f64;
    let hidden_sum = |h: &[usize]| h.iter().map(|&w| w as f64).sum::<f64>();
    let mut parts = vec![
        // Parameters, gradient and two more vectors of each (the update's g, u, d / Adam's
        // moments): at least four copies.
        Part {
            what: format!("actor: {n_actor} parameters (`hidden`)"),
            bytes: 4.0 * 8.0 * n_actor,
        },
        Part {
            what: format!("critic: {n_critic} parameters (`critic.hidden`)"),
            bytes: 4.0 * 8.0 * n_critic,
        },
        // The rollout (observations, actions, values, rewards, flags) and its sample copy
        // (observations, actions, log-probabilities, advantages, returns), plus the
        // activations of the full-batch forward passes (log π_old, values).
        Part {
            what: format!(
                "batch: num_envs × rollout_len = {} × {} transitions",
                cfg.num_envs, cfg.rollout_len
            ),
            bytes: 8.0
                * batch
                * (2.0 * obs
                    + 2.0 * act
                    + 8.0
                    + hidden_sum(&cfg.hidden)
                    + hidden_sum(&cfg.critic.hidden)),
        },
    ];
    if let Algo::Acktr { .. } = cfg.algo {
        // A = E[aaᵀ] ((in+1)²) and G = E[eeᵀ] (out²) per layer, and their eigenvectors.
        let factors: f64 = actor_sizes
            .windows(2)
            .map(|w| (w[0] + 1.0).powi(2) + w[1].powi(2))
            .sum();
        parts.push(Part {
            what: "ACKTR's Kronecker factors of the actor's layers (`hidden`)".into(),
            bytes: 2.0 * 8.0 * factors,
        });
    }
    parts
}

/// Refuse (exit 2) a run whose networks and batch alone exceed the memory this process may
/// still allocate (MemAvailable or a cgroup limit); nothing is checked where that is unknown.
pub fn preflight(cfg: &NpgConfig, obs_dim: usize, space: &Space) -> Result<()> {
    let parts = parts(cfg, obs_dim, space);
    let need: f64 = parts.iter().map(|p| p.bytes).sum();
    let Some(avail) = crate::device::memory::available() else {
        return Ok(());
    };
    if need <= avail {
        return Ok(());
    }
    let show = crate::study::memory::show;
    // The parts that matter (a 4545-parameter critic would read "≥ 0 MB").
    let lines: Vec<String> = parts
        .iter()
        .filter(|p| p.bytes >= 1e6)
        .map(|p| format!("{} ≥ {}", p.what, show(p.bytes)))
        .collect();
    Err(usage(format!(
        "the run needs at least {} of memory but only {} is available: {}; shrink `hidden`, \
         `critic.hidden` or num_envs × rollout_len",
        show(need),
        show(avail),
        lines.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mlp_params_counts_weights_and_biases() {
        assert_eq!(
            mlp_params(&[4.0, 64.0, 64.0, 2.0]),
            5.0 * 64.0 + 65.0 * 64.0 + 65.0 * 2.0
        );
        assert_eq!(mlp_params(&[4.0, 2.0]), 10.0);
    }
}
