//! A hand-written f64 tanh MLP on one flat parameter slice (spec §1.12): batched forward pass
//! with a cache, reverse pass (vector–Jacobian product) into a flat gradient, and forward-mode
//! Jacobian–vector product (R-op) for Fisher-vector products. The layout is the tch one
//! (per layer: weight `[out, in]` row-major, then bias), so θ vectors move between backends.
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2, Axis};

/// `tanh` through one `exp` (glibc's `tanh` goes through the slower `expm1` and was a
/// quarter of a PPO run): `sign(x)·(1 − e)/(1 + e)` with `e = exp(−2|x|)`, and the Taylor
/// series below |x| = 0.01, where `1 − e` would cancel. Relative error below 1e-14.
pub fn tanh(x: f64) -> f64 {
    let a = x.abs();
    if a < 0.01 {
        let x2 = x * x;
        return x * (1.0 - x2 * (1.0 / 3.0 - x2 * (2.0 / 15.0 - x2 * (17.0 / 315.0))));
    }
    let e = (-2.0 * a).exp();
    ((1.0 - e) / (1.0 + e)).copysign(x)
}

/// Layer widths `[in, hidden..., out]`; tanh after every layer but the last.
#[derive(Clone, Debug, PartialEq)]
pub struct FlatMlp {
    pub sizes: Vec<usize>,
}

/// Inputs of every layer (`acts[0]` is the batch, `acts[l]` the tanh output of layer l−1)
/// and the linear head's output.
pub struct Cache {
    pub acts: Vec<Array2<f64>>,
    pub out: Array2<f64>,
}

impl FlatMlp {
    pub fn new(input: usize, hidden: &[usize], output: usize) -> Self {
        let mut sizes = vec![input];
        sizes.extend_from_slice(hidden);
        sizes.push(output);
        FlatMlp { sizes }
    }

    fn layers(&self) -> usize {
        self.sizes.len() - 1
    }

    pub fn input_dim(&self) -> usize {
        self.sizes[0]
    }

    pub fn output_dim(&self) -> usize {
        self.sizes[self.layers()]
    }

    /// Number of parameters (weights and biases of every layer).
    pub fn numel(&self) -> usize {
        self.sizes.windows(2).map(|w| (w[0] + 1) * w[1]).sum()
    }

    /// Offset of layer `l`'s weight in the flat vector.
    fn offset(&self, l: usize) -> usize {
        self.sizes[..=l].windows(2).map(|w| (w[0] + 1) * w[1]).sum()
    }

    /// `(W [out, in], b [out])` of layer `l`.
    fn layer<'a>(&self, p: &'a [f64], l: usize) -> (ArrayView2<'a, f64>, ArrayView1<'a, f64>) {
        let (i, o, at) = (self.sizes[l], self.sizes[l + 1], self.offset(l));
        let w = ArrayView2::from_shape((o, i), &p[at..at + o * i]).expect("weight shape");
        (w, ArrayView1::from(&p[at + o * i..at + o * i + o]))
    }

    fn layer_mut<'a>(
        &self,
        p: &'a mut [f64],
        l: usize,
    ) -> (ArrayViewMut2<'a, f64>, ArrayViewMut1<'a, f64>) {
        let (i, o, at) = (self.sizes[l], self.sizes[l + 1], self.offset(l));
        let (w, rest) = p[at..at + o * i + o].split_at_mut(o * i);
        let w = ArrayViewMut2::from_shape((o, i), w).expect("weight shape");
        (w, ArrayViewMut1::from(rest))
    }

    /// `x W_lᵀ + b_l` for layer `l`.
    fn affine(&self, p: &[f64], l: usize, x: &ArrayView2<f64>) -> Array2<f64> {
        let (w, b) = self.layer(p, l);
        let mut z = Array2::from_shape_fn((x.nrows(), w.nrows()), |(_, j)| b[j]);
        general_mat_mul(1.0, x, &w.t(), 1.0, &mut z);
        z
    }

    /// Forward pass of a `[B, in]` batch.
    pub fn forward(&self, p: &[f64], x: ArrayView2<f64>) -> Cache {
        let mut acts = vec![x.to_owned()];
        for l in 0..self.layers() - 1 {
            let z = self.affine(p, l, &acts[l].view());
            acts.push(z.mapv_into(tanh));
        }
        let out = self.affine(p, self.layers() - 1, &acts[self.layers() - 1].view());
        Cache { acts, out }
    }

    /// Output only, for rollouts and evaluation.
    pub fn output(&self, p: &[f64], x: ArrayView2<f64>) -> Array2<f64> {
        self.forward(p, x).out
    }

    /// Reverse pass: `grad += Jᵀ dout` for `dout = ∂L/∂out` (`[B, out]`).
    pub fn backward(&self, p: &[f64], cache: &Cache, dout: Array2<f64>, grad: &mut [f64]) {
        let mut dz = dout;
        for l in (0..self.layers()).rev() {
            let input = &cache.acts[l];
            {
                let (mut gw, mut gb) = self.layer_mut(grad, l);
                general_mat_mul(1.0, &dz.t(), input, 1.0, &mut gw);
                gb += &dz.sum_axis(Axis(0));
            }
            if l == 0 {
                break;
            }
            let (w, _) = self.layer(p, l);
            let mut dh = dz.dot(&w);
            dh.zip_mut_with(input, |d, &a| *d *= 1.0 - a * a);
            dz = dh;
        }
    }

    /// The gradient of a loss at every layer's pre-activation, `[B, out_l]` for layer l, from
    /// `dout = ∂L/∂out` (the errors K-FAC's G factor is built from; ACKTR, spec §3.7).
    pub fn layer_errors(&self, p: &[f64], cache: &Cache, dout: Array2<f64>) -> Vec<Array2<f64>> {
        let mut errors = vec![dout];
        for l in (1..self.layers()).rev() {
            let (w, _) = self.layer(p, l);
            let mut dh = errors[errors.len() - 1].dot(&w);
            dh.zip_mut_with(&cache.acts[l], |d, &a| *d *= 1.0 - a * a);
            errors.push(dh);
        }
        errors.reverse();
        errors
    }

    /// Offset of layer `l`'s weight in the flat vector (then its bias).
    pub fn layer_offset(&self, l: usize) -> usize {
        self.offset(l)
    }

    /// Forward-mode product `J v` (`[B, out]`) for a parameter direction `v`.
    pub fn jvp(&self, p: &[f64], cache: &Cache, v: &[f64]) -> Array2<f64> {
        let mut dh: Option<Array2<f64>> = None;
        for l in 0..self.layers() {
            let input = cache.acts[l].view();
            let (w, _) = self.layer(p, l);
            // dz = x dWᵀ + db (+ dx Wᵀ for layers after the first).
            let mut dz = self.affine(v, l, &input);
            if let Some(dx) = &dh {
                general_mat_mul(1.0, dx, &w.t(), 1.0, &mut dz);
            }
            if l + 1 < self.layers() {
                dz.zip_mut_with(&cache.acts[l + 1], |d, &a| *d *= 1.0 - a * a);
            }
            dh = Some(dz);
        }
        dh.expect("at least one layer")
    }
}
