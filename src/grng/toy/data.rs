//! The toy's training set (spec §6.1 "two-layer teacher data"): n Gaussian inputs normalized
//! onto the unit sphere of R^d, and targets that are independent N(0,1) draws (`targets:
//! gaussian`, the default, §6.10) or the outputs of a random teacher network of the same
//! two-layer form (`targets: teacher`, width `teacher_width`).
use super::network::TwoLayer;
use ndarray::{Array1, Array2, Axis};
use rand::Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

/// Where the toy's targets come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Targets {
    /// Independent N(0,1) draws (§6.10).
    #[default]
    Gaussian,
    /// y_i = g(x_i) for a teacher g(x) = M_t^{-1/2} Σ a_r relu(w_r·x) with W ~ N(0, I) and
    /// fair signs, drawn after the inputs ([`TwoLayer::init`]).
    Teacher,
}

/// Inputs `x` (n, d), each row of unit norm, and targets `y` (n).
#[derive(Debug, Clone, PartialEq)]
pub struct ToyData {
    pub x: Array2<f64>,
    pub y: Array1<f64>,
}

impl ToyData {
    /// Draw the inputs first, then the targets, from `rng`.
    pub fn sample(n: usize, d: usize, rng: &mut impl Rng) -> ToyData {
        let x = ToyData::sample_inputs(n, d, rng);
        let y = Array1::from_shape_simple_fn(n, || rng.sample::<f64, _>(StandardNormal));
        ToyData { x, y }
    }

    /// n rows of N(0, I_d) scaled to unit norm.
    fn sample_inputs(n: usize, d: usize, rng: &mut impl Rng) -> Array2<f64> {
        let mut x = Array2::from_shape_simple_fn((n, d), || rng.sample::<f64, _>(StandardNormal));
        for mut row in x.axis_iter_mut(Axis(0)) {
            let norm = row.dot(&row).sqrt();
            // A Gaussian draw of exact zero norm has probability 0; keep the row finite anyway.
            if norm > 0.0 {
                row /= norm;
            }
        }
        x
    }

    /// Draw the inputs, then the targets of kind `targets` (a teacher of width
    /// `teacher_width`, returned beside the data), from `rng`. `Gaussian` draws exactly what
    /// [`ToyData::sample`] draws.
    pub fn sample_with(
        n: usize,
        d: usize,
        targets: Targets,
        teacher_width: usize,
        rng: &mut impl Rng,
    ) -> (ToyData, Option<TwoLayer>) {
        match targets {
            Targets::Gaussian => (ToyData::sample(n, d, rng), None),
            Targets::Teacher => {
                let x = ToyData::sample_inputs(n, d, rng);
                let teacher = TwoLayer::init(teacher_width, d, rng);
                let y = teacher.outputs(&x);
                (ToyData { x, y }, Some(teacher))
            }
        }
    }

    pub fn n(&self) -> usize {
        self.x.nrows()
    }
}
