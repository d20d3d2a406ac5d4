//! Synthetic shapes (grng spec §6.1): `side`×`side` grey images of four classes — 0 disc,
//! 1 square, 2 triangle, 3 cross — each at a random position and size, plus Gaussian pixel
//! noise. Deterministic in the seed. Image `i` has class `i mod 4`, so classes are balanced.
//! With `label_noise` p, exactly `round(p·n)` images (chosen at random) get another class's
//! label (uniform over the other three); `clean` keeps the true ones.
use super::digits::Images;
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

pub const CLASSES: usize = 4;

/// What [`generate`] draws.
#[derive(Clone, Debug, PartialEq)]
pub struct ShapesSpec {
    pub n: usize,
    pub side: usize,
    /// Standard deviation of the additive Gaussian pixel noise.
    pub noise: f64,
    /// Fraction of labels replaced by a wrong class.
    pub label_noise: f64,
    pub seed: u64,
}

/// Images (labels possibly noisy) and the true classes.
#[derive(Clone, Debug, PartialEq)]
pub struct Shapes {
    pub images: Images,
    pub clean: Vec<i64>,
}

/// Generate the data set of `spec` (module doc).
pub fn generate(spec: &ShapesSpec) -> Shapes {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let side = spec.side;
    let noise = Normal::new(0.0, spec.noise.max(0.0)).expect("a finite noise level");
    let mut x = Vec::with_capacity(spec.n * side * side);
    let clean: Vec<i64> = (0..spec.n).map(|i| (i % CLASSES) as i64).collect();
    for &class in &clean {
        let s = side as f64;
        let r = rng.gen_range(0.18 * s..0.32 * s); // half-size
        let cx = rng.gen_range(r..s - r);
        let cy = rng.gen_range(r..s - r);
        for row in 0..side {
            for col in 0..side {
                // Pixel centre relative to the shape's centre, in units of r.
                let u = (col as f64 + 0.5 - cx) / r;
                let v = (row as f64 + 0.5 - cy) / r;
                let on = inside(class, u, v);
                let value = if on { 1.0 } else { 0.0 } + noise.sample(&mut rng);
                x.push(value as f32);
            }
        }
    }
    let mut y = clean.clone();
    let flips = (spec.label_noise * spec.n as f64).round() as usize;
    for i in sample(&mut rng, spec.n, flips.min(spec.n)).into_vec() {
        let shift = rng.gen_range(1..CLASSES as i64);
        y[i] = (y[i] + shift) % CLASSES as i64;
    }
    Shapes {
        images: Images {
            x,
            y,
            d: side * side,
            classes: CLASSES,
        },
        clean,
    }
}

/// Whether the point (u, v) (relative to the centre, in half-sizes; v down) is on the shape.
fn inside(class: i64, u: f64, v: f64) -> bool {
    match class {
        0 => u * u + v * v <= 1.0,
        1 => u.abs() <= 0.8 && v.abs() <= 0.8,
        // Apex at the top, base at the bottom: |u| ≤ (v + 1)/2 for v in [−1, 1].
        2 => (-1.0..=1.0).contains(&v) && u.abs() <= (v + 1.0) / 2.0,
        _ => (u.abs() <= 0.3 && v.abs() <= 1.0) || (v.abs() <= 0.3 && u.abs() <= 1.0),
    }
}
