//! A fixed, ordered list of f64 leaf tensors viewed as one flat parameter vector.
use anyhow::{ensure, Result};
use tch::{Kind, Tensor};

pub struct Params {
    pub tensors: Vec<Tensor>,
}

impl Params {
    /// Take ownership of initialised tensors and make them trainable leaves.
    pub fn new(tensors: Vec<Tensor>) -> Self {
        let tensors = tensors
            .into_iter()
            .map(|t| t.to_kind(Kind::Double).detach().set_requires_grad(true))
            .collect();
        Params { tensors }
    }

    pub fn numel(&self) -> usize {
        self.tensors.iter().map(|t| t.numel()).sum()
    }

    /// θ as one vector, in order.
    pub fn flat(&self) -> Vec<f64> {
        let parts: Vec<Tensor> = self
            .tensors
            .iter()
            .map(|t| t.detach().flatten(0, -1))
            .collect();
        Vec::<f64>::try_from(&Tensor::cat(&parts, 0)).expect("f64 parameters")
    }

    /// `∂loss/∂θ` flattened in parameter order (zeros for unused parameters).
    pub fn grad(&self, loss: &Tensor) -> Vec<f64> {
        self.flatten(&Tensor::run_backward(&[loss], &self.tensors, false, false))
    }

    /// Copy per-parameter tensors straight into one vector (no intermediate `cat`).
    fn flatten(&self, grads: &[Tensor]) -> Vec<f64> {
        let mut out = vec![0.0; self.numel()];
        let mut offset = 0;
        for (g, t) in grads.iter().zip(&self.tensors) {
            let n = t.numel();
            if g.defined() {
                g.contiguous().copy_data(&mut out[offset..offset + n], n);
            }
            offset += n;
        }
        out
    }

    /// `∂loss/∂θ` as one flat tensor that keeps its graph (for Hessian-vector products).
    pub fn grad_with_graph(&self, loss: &Tensor) -> Tensor {
        let grads = Tensor::run_backward(&[loss], &self.tensors, true, true);
        let parts: Vec<Tensor> = grads.iter().map(|g| g.flatten(0, -1)).collect();
        Tensor::cat(&parts, 0)
    }

    /// `∂loss/∂θ` flattened, keeping the graph of `loss` for further backward passes.
    pub fn grad_keep(&self, loss: &Tensor) -> Vec<f64> {
        self.flatten(&Tensor::run_backward(&[loss], &self.tensors, true, false))
    }

    fn for_each_slice(&self, values: &[f64], mut f: impl FnMut(&Tensor, Tensor)) -> Result<()> {
        ensure!(
            values.len() == self.numel(),
            "{} values for {} parameters",
            values.len(),
            self.numel()
        );
        let mut offset = 0;
        for t in &self.tensors {
            let n = t.numel();
            let chunk = Tensor::from_slice(&values[offset..offset + n]).view(t.size().as_slice());
            f(t, chunk);
            offset += n;
        }
        Ok(())
    }

    /// θ ← θ + delta.
    pub fn add_flat(&self, delta: &[f64]) -> Result<()> {
        tch::no_grad(|| {
            self.for_each_slice(delta, |t, chunk| {
                let mut view = t.shallow_clone();
                view += chunk;
            })
        })
    }

    /// θ ← values.
    pub fn set_flat(&self, values: &[f64]) -> Result<()> {
        tch::no_grad(|| {
            self.for_each_slice(values, |t, chunk| {
                t.shallow_clone().copy_(&chunk);
            })
        })
    }
}
