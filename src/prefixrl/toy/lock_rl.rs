//! T4 (spec §4.2): stochastic REINFORCE with GRPO advantages on the combination lock, standard
//! RL (α = 0) against PrefixRL (α = 0.75, cut uniform in `{1..H−1}`), counting episodes until the
//! exact `J ≥ 0.5`.
//!
//! Each step draws one problem (the lock) — prefixed with probability α at a cut drawn from ρ —
//! samples a group of `n` completions from its start state (H − h draws each), scores them
//! (1 iff the whole sequence is `y*`), forms GRPO advantages `(r − m)/(s + 1e-6)` with the
//! unbiased std (§2.8), and ascends `(1/n)·Σ_i A_i·∇log π(z_i)`. The count is the number of sampled
//! completions (episodes) up to the first step after which `J = Π_t π(y*_t|y*[..t]) ≥ 0.5`.
use super::lock::{softmax, Cuts, Lock};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The T4 hyper-parameters (defaults: the spec's).
#[derive(Clone, Debug)]
pub struct RlSettings {
    pub group: usize,
    pub lr: f64,
    pub budget: u64,
    pub target_j: f64,
}

impl Default for RlSettings {
    fn default() -> Self {
        RlSettings {
            group: 8,
            lr: 0.5,
            budget: 2_000_000,
            target_j: 0.5,
        }
    }
}

/// GRPO advantages (§2.8): `(r_i − mean)/(std_unbiased + ε)`, ε = 1e-6; zero when all equal.
pub fn grpo_advantages(rewards: &[f64]) -> Vec<f64> {
    let n = rewards.len() as f64;
    let mean = rewards.iter().sum::<f64>() / n;
    let var = rewards.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    rewards
        .iter()
        .map(|r| (r - mean) / (var.sqrt() + 1e-6))
        .collect()
}

/// One sampled completion: the (state, action) pairs it took and whether it hit `y*`.
struct Rollout {
    steps: Vec<(usize, usize)>,
    correct: bool,
}

fn sample_completion(lock: &Lock, logits: &[f64], cut: usize, rng: &mut ChaCha8Rng) -> Rollout {
    let mut code = lock.code(&lock.target[..cut]);
    let mut steps = Vec::with_capacity(lock.h - cut);
    let mut correct = true;
    for d in cut..lock.h {
        let state = lock.index(d, code);
        let p = softmax(&logits[state * lock.b..(state + 1) * lock.b]);
        let u: f64 = rng.gen();
        let mut a = 0;
        let mut acc = p[0];
        while u >= acc && a + 1 < lock.b {
            a += 1;
            acc += p[a];
        }
        correct &= a == lock.target[d];
        steps.push((state, a));
        code = code * lock.b + a;
    }
    Rollout { steps, correct }
}

/// Episodes until `J ≥ target_j`, or `None` if the budget ran out. `alpha = 0` is standard RL.
pub fn episodes_to_target(
    lock: &Lock,
    alpha: f64,
    cuts: &Cuts,
    cfg: &RlSettings,
    seed: u64,
) -> Option<u64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut logits = vec![0.0; lock.n_logits()];
    let mut grad = vec![0.0; logits.len()];
    let mut touched: Vec<usize> = Vec::new();
    let mut episodes = 0u64;
    while episodes < cfg.budget {
        let cut = if alpha > 0.0 && rng.gen::<f64>() < alpha {
            draw_cut(cuts, &mut rng)
        } else {
            0
        };
        let group: Vec<Rollout> = (0..cfg.group)
            .map(|_| sample_completion(lock, &logits, cut, &mut rng))
            .collect();
        episodes += cfg.group as u64;
        let rewards: Vec<f64> = group
            .iter()
            .map(|r| f64::from(u8::from(r.correct)))
            .collect();
        let adv = grpo_advantages(&rewards);
        for (rollout, a) in group.iter().zip(&adv) {
            if *a == 0.0 {
                continue;
            }
            let scale = a / cfg.group as f64;
            for &(state, taken) in &rollout.steps {
                let row = state * lock.b..(state + 1) * lock.b;
                let p = softmax(&logits[row.clone()]);
                for (k, pk) in p.iter().enumerate() {
                    let indicator = if k == taken { 1.0 } else { 0.0 };
                    grad[row.start + k] += scale * (indicator - pk);
                }
                touched.push(state);
            }
        }
        for state in touched.drain(..) {
            for k in state * lock.b..(state + 1) * lock.b {
                logits[k] += cfg.lr * grad[k];
                grad[k] = 0.0;
            }
        }
        if lock.j_along_target(&logits) >= cfg.target_j {
            return Some(episodes);
        }
    }
    None
}

fn draw_cut(cuts: &Cuts, rng: &mut ChaCha8Rng) -> usize {
    let u: f64 = rng.gen();
    let mut acc = 0.0;
    for &(h, p) in &cuts.0 {
        acc += p;
        if u < acc {
            return h;
        }
    }
    cuts.0.last().map_or(0, |&(h, _)| h)
}

/// T4's numbers at one horizon: median episodes (budget where a seed ran out) of both methods.
#[derive(Clone, Debug)]
pub struct Separation {
    pub h: usize,
    pub standard: f64,
    pub prefix: f64,
    /// Seeds that exhausted the budget (counted as the budget in the median), per method.
    pub standard_failed: usize,
    pub prefix_failed: usize,
    /// `1/p_0 = b^H`: the expected episodes to discover `y*` by sampling `π_0`.
    pub discovery: f64,
}

impl Separation {
    /// Standard RL episodes over PrefixRL episodes, traces reused for free.
    pub fn ratio(&self) -> f64 {
        self.standard / self.prefix
    }
    /// The same with trace discovery charged as `1/p_0` episodes.
    pub fn ratio_charged(&self) -> f64 {
        self.standard / (self.prefix + self.discovery)
    }
}

/// T4 at horizon `h` with `b` actions over `seeds`: medians of both methods.
pub fn separation(
    b: usize,
    h: usize,
    seeds: &[u64],
    cfg: &RlSettings,
) -> anyhow::Result<Separation> {
    let lock = Lock::new(b, h)?;
    let cuts = Cuts::all(h)?;
    let run = |alpha: f64, tag: u64| {
        let counts: Vec<Option<u64>> = seeds
            .iter()
            .map(|s| episodes_to_target(&lock, alpha, &cuts, cfg, s * 1000 + h as u64 * 10 + tag))
            .collect();
        let failed = counts.iter().filter(|c| c.is_none()).count();
        let mut v: Vec<f64> = counts
            .iter()
            .map(|c| c.unwrap_or(cfg.budget) as f64)
            .collect();
        (median(&mut v), failed)
    };
    let (standard, standard_failed) = run(0.0, 0);
    let (prefix, prefix_failed) = run(0.75, 1);
    Ok(Separation {
        h,
        standard,
        prefix,
        standard_failed,
        prefix_failed,
        discovery: (b as f64).powi(h as i32),
    })
}

/// Median (mean of the middle two for an even count).
pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}
