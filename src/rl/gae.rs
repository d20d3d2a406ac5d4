//! Generalised advantage estimation with correct truncation handling (spec §1.7, §7.2).
//! Arrays are time-major: index `t * num_envs + e`.

/// One rollout's inputs to GAE.
pub struct Rollout<'a> {
    pub num_envs: usize,
    pub rewards: &'a [f64],
    /// `V(s_t)` of the observation each action was taken in.
    pub values: &'a [f64],
    pub terminated: &'a [bool],
    pub truncated: &'a [bool],
    /// `V` of the final observation where the episode was truncated (read only there).
    pub final_values: &'a [f64],
    /// `V` of each env's observation after the last step.
    pub last_values: &'a [f64],
}

/// Advantages and returns `R_t = Â_t + V(s_t)`.
pub struct Targets {
    pub advantages: Vec<f64>,
    pub returns: Vec<f64>,
}

/// `δ_t = r_t + γ(1−term_t)V(s'_t) − V(s_t)`, `Â_t = δ_t + γλ(1−done_t)Â_{t+1}`, where
/// `s'_t` is the final observation when the episode ended at t (truncation bootstraps from
/// it; termination zeroes it) and the next step's observation otherwise.
pub fn gae(r: &Rollout, gamma: f64, lambda: f64) -> Targets {
    let n = r.num_envs;
    let len = r.rewards.len();
    assert!(
        n > 0 && len.is_multiple_of(n),
        "rollout length must be a multiple of num_envs"
    );
    for a in [r.values, r.final_values] {
        assert_eq!(a.len(), len, "value arrays must match the rewards");
    }
    assert_eq!(r.terminated.len(), len);
    assert_eq!(r.truncated.len(), len);
    assert_eq!(r.last_values.len(), n);
    let steps = len / n;
    let mut advantages = vec![0.0; len];
    for e in 0..n {
        let mut next_adv = 0.0;
        for t in (0..steps).rev() {
            let i = t * n + e;
            let done = r.terminated[i] || r.truncated[i];
            let next_value = if r.terminated[i] {
                0.0
            } else if r.truncated[i] {
                r.final_values[i]
            } else if t + 1 == steps {
                r.last_values[e]
            } else {
                r.values[i + n]
            };
            let delta = r.rewards[i] + gamma * next_value - r.values[i];
            let carry = if done || t + 1 == steps {
                0.0
            } else {
                next_adv
            };
            advantages[i] = delta + gamma * lambda * carry;
            next_adv = advantages[i];
        }
    }
    let returns = advantages
        .iter()
        .zip(r.values)
        .map(|(a, v)| a + v)
        .collect();
    Targets {
        advantages,
        returns,
    }
}
