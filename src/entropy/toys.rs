//! The theory's toy checks (spec §2.4, §2.5), exact and pure Rust.
//!
//! - §2.4: full-batch gradient descent on softmax logits from `z = 0`, `z ← z − η (p − p̂)`:
//!   the entropy of `softmax(z)` along the way (small steps fall monotonically to `H(p̂)`).
//! - §2.5: a bimodal target on `{0..99}` fitted by one discretised Gaussian on a grid, by forward
//!   KL `KL(p ‖ q)` (covers both modes, higher entropy) and by reverse KL `KL(q ‖ p)` (picks one).

/// `H(q) = −Σ q ln q` in nats, with `0 ln 0 = 0` (the data layer's, which the Markov source uses).
pub use crate::data::markov::entropy;

/// `KL(p ‖ q)` in nats (E11); infinite when `q` is 0 where `p` is not.
pub fn kl(p: &[f64], q: &[f64]) -> f64 {
    p.iter()
        .zip(q)
        .filter(|(&a, _)| a > 0.0)
        .map(|(&a, &b)| {
            if b > 0.0 {
                a * (a / b).ln()
            } else {
                f64::INFINITY
            }
        })
        .sum()
}

/// `softmax(z)`, computed stably.
pub fn softmax(z: &[f64]) -> Vec<f64> {
    let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = z.iter().map(|&x| (x - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.into_iter().map(|x| x / s).collect()
}

/// E10: `∂H(softmax z)/∂z_j = −p_j (ln p_j + H)`.
pub fn entropy_gradient(z: &[f64]) -> Vec<f64> {
    let p = softmax(z);
    let h = entropy(&p);
    p.iter()
        .map(|&pj| if pj > 0.0 { -pj * (pj.ln() + h) } else { 0.0 })
        .collect()
}

/// Entropies of `softmax(z)` at `z = 0` and after each of `steps` updates `z ← z − η (p − p̂)`.
pub fn gd_entropy_trace(p_hat: &[f64], eta: f64, steps: usize) -> Vec<f64> {
    let mut z = vec![0.0; p_hat.len()];
    let mut out = Vec::with_capacity(steps + 1);
    for _ in 0..=steps {
        let p = softmax(&z);
        out.push(entropy(&p));
        for ((zj, pj), qj) in z.iter_mut().zip(&p).zip(p_hat) {
            *zj -= eta * (pj - qj);
        }
    }
    out
}

/// Whether a trace ever rises by more than `tol` from one step to the next.
pub fn rises(trace: &[f64], tol: f64) -> bool {
    trace.windows(2).any(|w| w[1] > w[0] + tol)
}

/// A Gaussian density at the points `0..n`, normalised to sum to 1 (§2.5's discretisation).
pub fn discrete_gaussian(mu: f64, sigma: f64, n: usize) -> Vec<f64> {
    let w: Vec<f64> = (0..n)
        .map(|i| (-0.5 * ((i as f64 - mu) / sigma).powi(2)).exp() / sigma)
        .collect();
    let s: f64 = w.iter().sum();
    w.into_iter().map(|x| x / s).collect()
}

/// §2.5's target: 0.7·N(25, 4²) + 0.3·N(70, 6²) on `{0..99}` (densities mixed, then normalised).
pub fn bimodal_target() -> Vec<f64> {
    let density = |mu: f64, s: f64, i: usize| (-0.5 * ((i as f64 - mu) / s).powi(2)).exp() / s;
    let w: Vec<f64> = (0..100)
        .map(|i| 0.7 * density(25.0, 4.0, i) + 0.3 * density(70.0, 6.0, i))
        .collect();
    let s: f64 = w.iter().sum();
    w.into_iter().map(|x| x / s).collect()
}

/// Which divergence a fit minimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `KL(p ‖ q)`, what maximum likelihood minimises.
    Forward,
    /// `KL(q ‖ p)`.
    Reverse,
}

/// The best single discretised Gaussian and what it scores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GaussianFit {
    pub mu: f64,
    pub sigma: f64,
    pub entropy: f64,
    pub kl: f64,
}

/// Grid search of §2.5: μ = 0, 0.5, …, n−1 and σ = 1, 1.25, …, 40; the first minimum wins.
pub fn fit_gaussian(p: &[f64], direction: Direction) -> GaussianFit {
    let n = p.len();
    let mut best: Option<GaussianFit> = None;
    for mu_step in 0..=(2 * (n - 1)) {
        for sigma_step in 0..=156 {
            let (mu, sigma) = (mu_step as f64 * 0.5, 1.0 + sigma_step as f64 * 0.25);
            let q = discrete_gaussian(mu, sigma, n);
            let d = match direction {
                Direction::Forward => kl(p, &q),
                Direction::Reverse => kl(&q, p),
            };
            if best.is_none_or(|b| d < b.kl) {
                best = Some(GaussianFit {
                    mu,
                    sigma,
                    entropy: entropy(&q),
                    kl: d,
                });
            }
        }
    }
    best.expect("a non-empty grid")
}

/// §2.4's batch of targets: `count` Dirichlet(1) distributions of sizes 2, 3, …, 49, 2, …
/// (size `2 + i % 48`), drawn in order from one `ChaCha8Rng` seeded with `seed`.
pub fn random_targets(count: usize, seed: u64) -> Vec<Vec<f64>> {
    use rand::SeedableRng;
    use rand_distr::{Dirichlet, Distribution};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..count)
        .map(|i| {
            Dirichlet::new_with_size(1.0, 2 + i % 48)
                .expect("a size of at least 2 and alpha 1")
                .sample(&mut rng)
        })
        .collect()
}

/// How many of `targets` have an entropy trace under step `eta` that rises by more than `tol`
/// somewhere in `steps` steps (§2.4's table).
pub fn rise_count(targets: &[Vec<f64>], eta: f64, steps: usize, tol: f64) -> usize {
    targets
        .iter()
        .filter(|p| rises(&gd_entropy_trace(p, eta, steps), tol))
        .count()
}
