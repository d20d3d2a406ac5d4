//! What a forward pass hands a curvature-aware optimizer about one linear map (K-FAC statistics,
//! per-example scores): defined here, below the models, so `optim` never imports `nn`; `nn`'s
//! layers record it on a `Tape` (re-exported as `nn::Captured`).
use tch::Tensor;

/// One linear map's input `a` `(..., d_in)` and pre-activation `s = a Wᵀ + b` `(..., d_out)`,
/// as used in the forward pass (the same graph nodes, so `Tensor::run_backward(&[loss], &[s])`
/// gives ∂loss/∂s). `weight`/`bias` are the parameter names in the model's VarStore; a tied
/// head (`layer` "head") names the token embedding `wte.weight`.
#[derive(Debug)]
pub struct Captured {
    pub layer: String,
    pub weight: String,
    pub bias: Option<String>,
    pub input: Tensor,
    pub output: Tensor,
}
