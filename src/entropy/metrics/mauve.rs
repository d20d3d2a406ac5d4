//! `mauve_ngram` (§4.5): the published MAUVE procedure with cheap features. **Not comparable to
//! published MAUVE**, which embeds text with GPT-2-large.
//!
//! 1. Each sequence becomes an L2-normalised vector of hashed token 4-gram counts in 1,024
//!    buckets (character 4-grams under the default char tokenizer). A sequence shorter than 4
//!    tokens is the zero vector.
//! 2. k-means with `k = max(2, round(n/10))`, `n` the size of the smaller of the two sets (as
//!    MAUVE's "auto" buckets), on the union of both sets: k-means++ seeding, Lloyd iterations
//!    until no assignment changes (at most 100), 5 restarts from one seeded stream, the lowest
//!    objective kept.
//! 3. p (real) and q (model) are the cluster histograms.
//! 4. For 25 λ evenly spaced in [1e-6, 1 − 1e-6] and `r = λp + (1 − λ)q`, the points
//!    `(exp(−5·KL(q‖r)), exp(−5·KL(p‖r)))`, plus (0, 1) and (1, 0).
//! 5. `(A₁ + A₂)/2` with A₁ the trapezoid integral of y over x (points sorted by x, ties by
//!    descending y, which follows the frontier) and A₂ that of x over y (sorted by y, ties by
//!    descending x).
use crate::entropy::toys::kl;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const BUCKETS: usize = 1024;
const RESTARTS: usize = 5;
const MAX_ITERS: usize = 100;

/// A sparse feature vector: (bucket, value), buckets distinct.
type Sparse = Vec<(usize, f64)>;

fn bucket(g: &[u32]) -> usize {
    let h = g.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &x| {
        (h ^ u64::from(x)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    // Finalise (splitmix64) so that every bit depends on every token, then take the top bits.
    let mut z = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    ((z ^ (z >> 31)) >> 54) as usize
}

/// The L2-normalised hashed 4-gram count vector of a sequence.
pub fn ngram_features(s: &[u32]) -> Vec<(usize, f64)> {
    let mut dense = [0.0f64; BUCKETS];
    for g in s.windows(4) {
        dense[bucket(g)] += 1.0;
    }
    let norm = dense.iter().map(|v| v * v).sum::<f64>().sqrt();
    dense
        .iter()
        .enumerate()
        .filter(|(_, &v)| v > 0.0)
        .map(|(b, &v)| (b, v / norm))
        .collect()
}

/// Centres stored bucket-major (`c[b·k + j]`) so a sparse point's dot products with all centres
/// are a few contiguous axpys.
struct Centres {
    k: usize,
    c: Vec<f64>,
    norm2: Vec<f64>,
}

impl Centres {
    /// Squared distances from `x` (of squared norm `x2`) to every centre.
    fn dist2(&self, x: &Sparse, x2: f64, out: &mut [f64]) {
        out.copy_from_slice(&self.norm2);
        for &(b, v) in x {
            let row = &self.c[b * self.k..(b + 1) * self.k];
            for (o, &c) in out.iter_mut().zip(row) {
                *o -= 2.0 * v * c;
            }
        }
        out.iter_mut().for_each(|o| *o = (*o + x2).max(0.0));
    }

    fn from_points(points: &[Sparse], chosen: &[usize]) -> Centres {
        let k = chosen.len();
        let mut c = vec![0.0; BUCKETS * k];
        for (j, &i) in chosen.iter().enumerate() {
            for &(b, v) in &points[i] {
                c[b * k + j] = v;
            }
        }
        let mut out = Centres {
            k,
            c,
            norm2: vec![0.0; k],
        };
        out.refresh_norms();
        out
    }

    fn refresh_norms(&mut self) {
        self.norm2.iter_mut().for_each(|n| *n = 0.0);
        for row in self.c.chunks(self.k) {
            for (n, &v) in self.norm2.iter_mut().zip(row) {
                *n += v * v;
            }
        }
    }
}

/// k-means++ seeding: the first centre uniform, each next one with probability ∝ D².
fn seed_centres(points: &[Sparse], norms: &[f64], k: usize, rng: &mut ChaCha8Rng) -> Centres {
    let mut chosen = vec![rng.gen_range(0..points.len())];
    let mut d2 = vec![f64::INFINITY; points.len()];
    let mut buf = vec![0.0; 1];
    while chosen.len() < k {
        let last = Centres::from_points(points, &chosen[chosen.len() - 1..]);
        for (i, p) in points.iter().enumerate() {
            last.dist2(p, norms[i], &mut buf);
            d2[i] = d2[i].min(buf[0]);
        }
        let total: f64 = d2.iter().sum();
        let next = if total > 0.0 {
            let mut u = rng.gen::<f64>() * total;
            d2.iter().position(|&d| {
                u -= d;
                u < 0.0
            })
        } else {
            None
        };
        chosen.push(next.unwrap_or_else(|| rng.gen_range(0..points.len())));
    }
    Centres::from_points(points, &chosen)
}

/// Lloyd iterations from seeded centres: (assignment, objective).
fn lloyd(points: &[Sparse], norms: &[f64], mut cen: Centres) -> (Vec<usize>, f64) {
    let k = cen.k;
    let mut assign = vec![usize::MAX; points.len()];
    let mut dist = vec![0.0; k];
    let mut objective = 0.0;
    for _ in 0..MAX_ITERS {
        let mut changed = false;
        objective = 0.0;
        for (i, p) in points.iter().enumerate() {
            cen.dist2(p, norms[i], &mut dist);
            let (j, d) =
                dist.iter().enumerate().fold(
                    (0, f64::INFINITY),
                    |b, (j, &d)| if d < b.1 { (j, d) } else { b },
                );
            changed |= assign[i] != j;
            assign[i] = j;
            objective += d;
        }
        if !changed {
            break;
        }
        let mut sums = vec![0.0; BUCKETS * k];
        let mut sizes = vec![0usize; k];
        for (p, &j) in points.iter().zip(&assign) {
            sizes[j] += 1;
            for &(b, v) in p {
                sums[b * k + j] += v;
            }
        }
        for (b, row) in sums.chunks(k).enumerate() {
            for (j, &s) in row.iter().enumerate() {
                if sizes[j] > 0 {
                    cen.c[b * k + j] = s / sizes[j] as f64;
                }
            }
        }
        cen.refresh_norms();
    }
    (assign, objective)
}

/// Best-of-5 k-means cluster labels of `points`.
fn cluster(points: &[Sparse], k: usize, seed: u64) -> Vec<usize> {
    let norms: Vec<f64> = points
        .iter()
        .map(|p| p.iter().map(|(_, v)| v * v).sum())
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut best: Option<(Vec<usize>, f64)> = None;
    for _ in 0..RESTARTS {
        let run = lloyd(points, &norms, seed_centres(points, &norms, k, &mut rng));
        if best.as_ref().is_none_or(|b| run.1 < b.1) {
            best = Some(run);
        }
    }
    best.map(|b| b.0).unwrap_or_default()
}

/// Trapezoid integral of `b` over `a`, points sorted by `a` ascending then `b` descending.
fn area(mut pts: Vec<(f64, f64)>) -> f64 {
    pts.sort_by(|p, q| p.0.total_cmp(&q.0).then(q.1.total_cmp(&p.1)));
    pts.windows(2)
        .map(|w| (w[1].0 - w[0].0) * 0.5 * (w[0].1 + w[1].1))
        .sum()
}

/// The score from the two cluster histograms (p real, q model).
pub fn mauve_from_histograms(p: &[f64], q: &[f64]) -> f64 {
    let mut pts = vec![(0.0, 1.0), (1.0, 0.0)];
    for i in 0..25 {
        let lam = 1e-6 + (1.0 - 2e-6) * i as f64 / 24.0;
        let r: Vec<f64> = p
            .iter()
            .zip(q)
            .map(|(a, b)| lam * a + (1.0 - lam) * b)
            .collect();
        pts.push(((-5.0 * kl(q, &r)).exp(), (-5.0 * kl(p, &r)).exp()));
    }
    let swapped = pts.iter().map(|&(x, y)| (y, x)).collect();
    0.5 * (area(pts) + area(swapped))
}

/// MAUVE-ngram of `model` samples against `real` continuations (None if either is empty).
pub fn mauve_ngram(model: &[Vec<u32>], real: &[Vec<u32>], seed: u64) -> Option<f64> {
    if model.is_empty() || real.is_empty() {
        return None;
    }
    let points: Vec<Sparse> = real
        .iter()
        .chain(model)
        .map(|s| ngram_features(s))
        .collect();
    let n = model.len().min(real.len());
    let k = ((n as f64 / 10.0).round() as usize)
        .max(2)
        .min(points.len());
    let labels = cluster(&points, k, seed);
    let hist = |range: std::ops::Range<usize>| {
        let mut h = vec![0.0; k];
        let len = range.len() as f64;
        for &j in &labels[range] {
            h[j] += 1.0 / len;
        }
        h
    };
    let p = hist(0..real.len());
    let q = hist(real.len()..points.len());
    Some(mauve_from_histograms(&p, &q))
}
