//! The controller's toy (spec §3.5 "toy validation", §6.5 items 16–18): free logits `z` over a
//! categorical `p̂`, trained by plain minibatch SGD on the mean cross-entropy of tokens drawn from
//! `p̂`, with the controller measuring the exact entropy `H(softmax z)` every `every` steps.
//!
//! Step `t`: measure (when `t % every == 0`; active once `t ≥ warmup`), then draw `batch` tokens
//! from `p̂` by inverse CDF with one seeded `ChaCha8Rng` uniform each, and update
//! `z ← z − lr·exp(u)·g` with `g = p − n/batch + c·p_j (ln p_j + H)`, i.e. the gradient of
//! `CE − c·H` (E10), where `c` is the entropy bonus; the clip actuator rescales `g` to norm
//! `c_0·exp(u)` when it is longer. A disabled controller gives the uncontrolled run.
use super::{Controller, ControllerConfig, Measurement};
use crate::entropy::toys::{entropy, softmax};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One toy run's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct CategoricalToy {
    /// The target distribution (non-negative, sums to 1).
    pub p_hat: Vec<f64>,
    /// Base SGD step size.
    pub lr: f64,
    pub batch: usize,
    pub steps: usize,
    pub seed: u64,
    /// Measurements before this step do not run the control law.
    pub warmup: usize,
}

/// What a toy run recorded.
#[derive(Clone, Debug, PartialEq)]
pub struct ToyTrace {
    /// `H(softmax z)` at the start of every step.
    pub entropy: Vec<f64>,
    /// Every measurement, with the step it was taken at.
    pub measurements: Vec<(usize, Measurement)>,
    /// The step size used at every step (`lr · lr_factor`).
    pub lr_eff: Vec<f64>,
}

impl ToyTrace {
    /// Mean and standard deviation (population) of the entropy over the last `n` steps.
    pub fn entropy_tail(&self, n: usize) -> (f64, f64) {
        mean_std(&self.entropy[self.entropy.len().saturating_sub(n)..])
    }

    /// The measurements taken in the last `n` steps.
    pub fn tail(&self, n: usize) -> impl Iterator<Item = &Measurement> {
        let from = self.entropy.len().saturating_sub(n);
        self.measurements
            .iter()
            .filter(move |(t, _)| *t >= from)
            .map(|(_, m)| m)
    }
}

/// Mean and population standard deviation (NaN for an empty slice).
pub fn mean_std(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// Run the toy with a controller built from `cfg` (`enabled = false`: uncontrolled, monitored).
/// `set_target` may change the hold target mid-run: called before every measurement with the
/// step, it returns the `h_ref` to pass (used with target `ref`).
pub fn run_categorical(
    toy: &CategoricalToy,
    cfg: &ControllerConfig,
    enabled: bool,
    mut set_target: impl FnMut(usize) -> Option<f64>,
) -> ToyTrace {
    let v = toy.p_hat.len();
    let cdf: Vec<f64> = toy
        .p_hat
        .iter()
        .scan(0.0, |acc, &p| {
            *acc += p;
            Some(*acc)
        })
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(toy.seed);
    let mut ctrl = Controller::new(cfg, enabled);
    let mut z = vec![0.0; v];
    let mut trace = ToyTrace {
        entropy: Vec::with_capacity(toy.steps),
        measurements: Vec::new(),
        lr_eff: Vec::with_capacity(toy.steps),
    };
    let every = cfg.every.max(1) as usize;
    for t in 0..toy.steps {
        let p = softmax(&z);
        let h = entropy(&p);
        trace.entropy.push(h);
        if t % every == 0 {
            let m = ctrl.measure(h, t >= toy.warmup, set_target(t));
            trace.measurements.push((t, m));
        }
        let mut counts = vec![0usize; v];
        for _ in 0..toy.batch {
            let u: f64 = rng.gen();
            let x = cdf.partition_point(|&c| c <= u).min(v - 1);
            counts[x] += 1;
        }
        let coef = ctrl.entropy_coef();
        let mut g: Vec<f64> = p
            .iter()
            .zip(&counts)
            .map(|(&pj, &n)| {
                let bonus = if pj > 0.0 { pj * (pj.ln() + h) } else { 0.0 };
                pj - n as f64 / toy.batch as f64 + coef * bonus
            })
            .collect();
        if let Some(c) = ctrl.clip_threshold() {
            let norm = g.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm > c {
                g.iter_mut().for_each(|x| *x *= c / norm);
            }
        }
        let lr = toy.lr * ctrl.lr_factor();
        trace.lr_eff.push(lr);
        for (zj, gj) in z.iter_mut().zip(&g) {
            *zj -= lr * gj;
        }
    }
    trace
}
