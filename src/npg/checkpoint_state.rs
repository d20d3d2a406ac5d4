//! The values a checkpoint carries beside its arrays, checked before any is restored (after
//! [`super::checkpoint_fit`] checked the shapes): the critic's and the actor's optimiser
//! settings (learning rate, betas, eps, RMSprop's decay) and the normalisers' (clip, epsilon,
//! γ) must be the config's, since restoring takes them from the file; second moments and
//! variances must be averages of squares (≥ 0); the optimisers' step counters (ACKTR's too)
//! must be those of a run at the checkpoint's iteration. A checkpoint edited or damaged otherwise silently ran
//! with another critic learning rate or beta (exit 0), or ran on into a NaN row from a
//! negative second moment or a step count past 2³¹ (Adam's bias correction, `powi`).
use super::checkpoint::Checkpoint;
use super::config::{Algo, NpgConfig};
use anyhow::{bail, Result};
use serde_json::Value;

/// The parts whose scalars are settings (all but [`COUNTERS`]).
const PARTS: [&str; 4] = ["critic_adam", "actor_optimiser", "obs_norm", "reward_scale"];
/// Scalars that count what a run did: checked against the iteration, not the config.
const COUNTERS: [&str; 2] = ["step", "count"];
/// Arrays that hold averages of squares.
const SQUARES: [&str; 3] = ["v", "sq", "var"];

/// An error naming the first value of `saved` that `fresh` (the checkpoint the trainer built
/// from this config writes, at the same iteration) says no run of this config can hold.
pub fn check(saved: &Checkpoint, fresh: &Checkpoint, cfg: &NpgConfig) -> Result<()> {
    let (s, f) = (serde_json::to_value(saved)?, serde_json::to_value(fresh)?);
    // `a2c` and `ppo` set their learning rate each iteration (`anneal_lr`): not a setting.
    let lr_per_iteration = matches!(cfg.algo, Algo::A2c { .. } | Algo::Ppo { .. });
    for part in PARTS {
        if let Some(why) = walk(&s[part], &f[part], part, lr_per_iteration) {
            bail!(why);
        }
    }
    // One Adam step per minibatch of each pass: the critic's `critic.epochs` passes, the
    // actor's (`ppo`, the `adam` step rule) `epochs`.
    let minibatches = minibatches(cfg);
    let per_iter = |passes: usize| minibatches * passes as u64;
    let iter = saved.iter as u64;
    // ACKTR's counter (one K-FAC step per actor minibatch) picks the steps that refresh its
    // statistics and inverses: an edited one (2⁶⁴ − 1) wrapped and changed that schedule.
    let steps = [
        (
            "critic_adam.step",
            &s["critic_adam"]["step"],
            cfg.critic.epochs,
        ),
        (
            "actor_optimiser.Adam.step",
            &s["actor_optimiser"]["Adam"]["step"],
            cfg.epochs,
        ),
        ("acktr.steps", &s["acktr"]["steps"], cfg.epochs),
    ];
    for (key, step, passes) in steps {
        let Some(step) = step.as_u64() else {
            continue;
        };
        let want = iter.checked_mul(per_iter(passes));
        if want != Some(step) {
            bail!(
                "`{key}` is {step}, but {iter} iterations of {} optimiser steps make {}",
                per_iter(passes),
                want.map_or("more than 64 bits hold".into(), |w| w.to_string())
            );
        }
    }
    Ok(())
}

/// Minibatches per pass over an iteration's batch (as the learner chunks it).
pub fn minibatches(cfg: &NpgConfig) -> u64 {
    let n = cfg.batch_size();
    n.div_ceil(n.div_ceil(cfg.minibatches.max(1)).max(1)) as u64
}

/// The first setting of `saved` other than `fresh`'s or the first negative average of
/// squares, under `at`.
fn walk(saved: &Value, fresh: &Value, at: &str, lr_per_iteration: bool) -> Option<String> {
    let leaf = at.rsplit('.').next().unwrap_or(at);
    match (saved, fresh) {
        (Value::Object(s), Value::Object(f)) => f.iter().find_map(|(k, fv)| {
            let sv = s.get(k).unwrap_or(&Value::Null);
            walk(sv, fv, &format!("{at}.{k}"), lr_per_iteration)
        }),
        (Value::Array(s), _) if SQUARES.contains(&leaf) => {
            let bad = s.iter().position(|x| x.as_f64().is_none_or(|x| x < 0.0))?;
            Some(format!(
                "`{at}[{bad}]` is {}, but it is an average of squares (≥ 0)",
                s[bad]
            ))
        }
        (Value::Number(s), Value::Number(f)) => {
            let lr = leaf == "lr" && at.starts_with("actor_optimiser.");
            if COUNTERS.contains(&leaf) {
                let positive = leaf != "count" || s.as_f64().is_some_and(|c| c > 0.0);
                (!positive).then(|| format!("`{at}` is {s}, but it counts samples (> 0)"))
            } else if s.as_f64() == f.as_f64() || (lr && lr_per_iteration) {
                None
            } else {
                Some(format!("`{at}` is {s} there, this run's config gives {f}"))
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn settings_must_match_and_squares_be_nonnegative() {
        let fresh =
            json!({"lr": 0.001, "step": 0, "v": [0.0, 0.0], "rms": {"var": [1.0], "count": 1e-4}});
        let ok =
            json!({"lr": 0.001, "step": 9, "v": [0.5, 0.0], "rms": {"var": [2.0], "count": 7.0}});
        assert_eq!(walk(&ok, &fresh, "p", false), None);
        let lr =
            json!({"lr": 5.0, "step": 9, "v": [0.5, 0.0], "rms": {"var": [2.0], "count": 7.0}});
        assert_eq!(
            walk(&lr, &fresh, "p", false).unwrap(),
            "`p.lr` is 5.0 there, this run's config gives 0.001"
        );
        let v =
            json!({"lr": 0.001, "step": 9, "v": [0.5, -1.0], "rms": {"var": [2.0], "count": 7.0}});
        assert_eq!(
            walk(&v, &fresh, "p", false).unwrap(),
            "`p.v[1]` is -1.0, but it is an average of squares (≥ 0)"
        );
        let count =
            json!({"lr": 0.001, "step": 9, "v": [0.5, 0.0], "rms": {"var": [2.0], "count": 0.0}});
        assert_eq!(
            walk(&count, &fresh, "p", false).unwrap(),
            "`p.rms.count` is 0.0, but it counts samples (> 0)"
        );
    }
}
