//! Polyak averaging of weights: an exponential moving average with decay `d` of the parameter
//! trajectory, bias-corrected like Adam's moments (the shadow starts at zero and is divided by
//! `1 − d^t`), so early evaluations are not dragged towards the initial weights.
use anyhow::Result;
use tch::nn::VarStore;
use tch::Tensor;

pub struct Ema {
    decay: f64,
    steps: i32,
    /// Raw (uncorrected) averages, one per variable in name order.
    shadow: Vec<Tensor>,
    /// Holds whichever weights are not in the model after a `swap`.
    parked: Option<Vec<Tensor>>,
}

fn variables(vs: &VarStore) -> Vec<Tensor> {
    let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    vars.into_iter().map(|(_, t)| t).collect()
}

impl Ema {
    pub fn new(vs: &VarStore, decay: f64) -> Ema {
        let shadow = variables(vs).iter().map(Tensor::zeros_like).collect();
        Ema {
            decay,
            steps: 0,
            shadow,
            parked: None,
        }
    }

    /// Fold the current weights in (call after each optimizer step).
    pub fn update(&mut self, vs: &VarStore) {
        self.steps += 1;
        tch::no_grad(|| {
            for (s, p) in self.shadow.iter_mut().zip(variables(vs)) {
                *s = &*s * self.decay + p * (1.0 - self.decay);
            }
        });
    }

    /// The bias-corrected average of variable `i`.
    fn average(&self, i: usize) -> Tensor {
        let correction = 1.0 - self.decay.powi(self.steps.max(1));
        &self.shadow[i] / correction
    }

    /// Put the averaged weights into the model (keeping the live ones), or, when they are in,
    /// put the live weights back.
    pub fn swap(&mut self, vs: &VarStore) -> Result<()> {
        let vars = variables(vs);
        tch::no_grad(|| -> Result<()> {
            match self.parked.take() {
                None if self.steps > 0 => {
                    let live = vars.iter().map(|v| v.detach().copy()).collect();
                    for (i, v) in vars.iter().enumerate() {
                        v.shallow_clone().f_copy_(&self.average(i))?;
                    }
                    self.parked = Some(live);
                }
                None => {} // no step yet: the average is the live weights
                Some(live) => {
                    for (v, l) in vars.iter().zip(&live) {
                        v.shallow_clone().f_copy_(l)?;
                    }
                }
            }
            Ok(())
        })
    }
}
