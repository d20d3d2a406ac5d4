//! The gradients an R-Kalman step needs: ∇L, and in explicit GR mode ∇L_G = ∇(L + ρ/2‖∇L‖²)
//! by double backpropagation (grng spec §1.6). The forward graph is kept for later backwards.
use anyhow::Result;
use tch::{Kind, Tensor};

/// Per-parameter gradients of one step (undefined = the parameter is not in the graph).
pub struct LossGrads {
    /// ∇L per parameter.
    pub g: Vec<Tensor>,
    /// ∂L/∂x for the `extra` tensors asked for (e.g. captured pre-activations).
    pub extra: Vec<Tensor>,
    /// ∇L_G per parameter (explicit GR only).
    pub g_reg: Option<Vec<Tensor>>,
}

/// Detached gradients, zeros for a parameter outside the graph.
fn defined(grads: Vec<Tensor>, params: &[Tensor]) -> Vec<Tensor> {
    grads
        .iter()
        .zip(params)
        .map(|(g, p)| {
            if g.defined() {
                g.detach()
            } else {
                p.zeros_like()
            }
        })
        .collect()
}

/// ∇L w.r.t. `params` (and `extra`); with `explicit` also ∇L_G with coefficient `rho`.
pub fn loss_gradients(
    loss: &Tensor,
    params: &[Tensor],
    extra: &[&Tensor],
    rho: f64,
    explicit: bool,
) -> Result<LossGrads> {
    let mut wrt: Vec<&Tensor> = params.iter().collect();
    wrt.extend_from_slice(extra);
    let mut g = Tensor::f_run_backward(&[loss], &wrt, true, explicit)?;
    let extra = g.split_off(params.len());
    let g_reg = if explicit {
        let sq: Vec<Tensor> = g
            .iter()
            .filter(|t| t.defined())
            .map(|t| t.square().sum(Kind::Double))
            .collect();
        let penalty = Tensor::stack(&sq, 0).sum(Kind::Double) * (0.5 * rho);
        let total = loss.to_kind(Kind::Double) + penalty;
        Some(defined(
            Tensor::f_run_backward(&[total], params, true, false)?,
            params,
        ))
    } else {
        None
    };
    let g = defined(g, params);
    Ok(LossGrads { g, extra, g_reg })
}
