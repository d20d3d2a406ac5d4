//! The two-layer ReLU network of spec §4 (Zhang, Martens & Grosse 2019):
//! f(x) = M^{-1/2} Σ_r a_r relu(w_r·x), output signs a_r ∈ {±1} fixed, only W (M, d) trained.
//!
//! Parameters are flattened row-major: index r·d + k is w_r[k]. The Jacobian of the outputs
//! u_i = f(x_i) is J[i, r·d + k] = M^{-1/2} a_r 1[w_r·x_i > 0] x_i[k] (n, M·d); it is formed
//! exactly every step, and only J Jᵀ (n, n) and Jᵀ v products are taken (never Jᵀ J).
use ndarray::{s, Array1, Array2, ArrayView1, Axis};
use rand::Rng;
use rand_distr::StandardNormal;

#[derive(Debug, Clone, PartialEq)]
pub struct TwoLayer {
    /// Hidden weights (M, d), w_r ~ N(0, I) at initialization.
    pub w: Array2<f64>,
    /// Output signs a_r ∈ {±1} (M), never trained.
    pub a: Array1<f64>,
}

impl TwoLayer {
    /// Draw W ~ N(0, I) first, then fair random signs, from `rng`.
    pub fn init(width: usize, d: usize, rng: &mut impl Rng) -> TwoLayer {
        let w = Array2::from_shape_simple_fn((width, d), || rng.sample::<f64, _>(StandardNormal));
        let a = Array1::from_shape_simple_fn(width, || if rng.gen::<bool>() { 1.0 } else { -1.0 });
        TwoLayer { w, a }
    }

    pub fn width(&self) -> usize {
        self.w.nrows()
    }

    fn scale(&self) -> f64 {
        1.0 / (self.width() as f64).sqrt()
    }

    /// Outputs u_i = f(x_i) for the rows of `x` (n, d) → (n).
    pub fn outputs(&self, x: &Array2<f64>) -> Array1<f64> {
        let pre = x.dot(&self.w.t()); // (n, M)
        pre.mapv(|z| z.max(0.0)).dot(&self.a) * self.scale()
    }

    /// The exact Jacobian ∂u/∂w (n, M·d), parameters flattened row-major (r, k).
    pub fn jacobian(&self, x: &Array2<f64>) -> Array2<f64> {
        let (n, d) = x.dim();
        let m = self.width();
        let pre = x.dot(&self.w.t()); // (n, M)
        let scale = self.scale();
        let mut jac = Array2::zeros((n, m * d));
        for (i, mut row) in jac.axis_iter_mut(Axis(0)).enumerate() {
            let xi = x.row(i);
            for r in 0..m {
                if pre[[i, r]] > 0.0 {
                    let coef = scale * self.a[r];
                    let mut block = row.slice_mut(s![r * d..(r + 1) * d]);
                    for (j, &xk) in block.iter_mut().zip(xi.iter()) {
                        *j = coef * xk;
                    }
                }
            }
        }
        jac
    }

    /// Apply a flat parameter change `dw` (M·d) in place: W ← W + dw.
    pub fn add_flat(&mut self, dw: ArrayView1<f64>) {
        let (m, d) = self.w.dim();
        let dw = dw
            .into_shape_with_order((m, d))
            .expect("dw has M·d entries");
        self.w += &dw;
    }

    /// ‖W‖ (Frobenius norm of the trained weights).
    pub fn weight_norm(&self) -> f64 {
        self.w.iter().map(|v| v * v).sum::<f64>().sqrt()
    }
}
