//! The toy's training set (spec §6.1 "two-layer teacher data", N(0,1) targets): n Gaussian
//! inputs normalized onto the unit sphere of R^d and independent standard-normal targets.
use ndarray::{Array1, Array2, Axis};
use rand::Rng;
use rand_distr::StandardNormal;

/// Inputs `x` (n, d), each row of unit norm, and targets `y` (n).
#[derive(Debug, Clone, PartialEq)]
pub struct ToyData {
    pub x: Array2<f64>,
    pub y: Array1<f64>,
}

impl ToyData {
    /// Draw the inputs first, then the targets, from `rng`.
    pub fn sample(n: usize, d: usize, rng: &mut impl Rng) -> ToyData {
        let mut x = Array2::from_shape_simple_fn((n, d), || rng.sample::<f64, _>(StandardNormal));
        for mut row in x.axis_iter_mut(Axis(0)) {
            let norm = row.dot(&row).sqrt();
            // A Gaussian draw of exact zero norm has probability 0; keep the row finite anyway.
            if norm > 0.0 {
                row /= norm;
            }
        }
        let y = Array1::from_shape_simple_fn(n, || rng.sample::<f64, _>(StandardNormal));
        ToyData { x, y }
    }

    pub fn n(&self) -> usize {
        self.x.nrows()
    }
}
