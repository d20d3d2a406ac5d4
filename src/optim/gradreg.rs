//! Gradient of the gradient-regularized loss by double backpropagation (grng spec §1.6, §2.1):
//! `∇[L + (ρ/2)‖∇L‖²] = ∇L + ρ H ∇L`. The first backward keeps and differentiates its own graph
//! (`create_graph`), so every op of the model and loss needs a double-backward formula; fused
//! attention kernels do not have one (§7), hence the start-up [`probe_double_backward`].
use anyhow::{anyhow, ensure, Result};
use tch::{Kind, Tensor};

/// What RENG needs from one double-backward pass.
#[derive(Debug)]
pub struct GrGradient {
    /// `∇L_G = g + ρ H g`, one per parameter (detached, same shapes).
    pub grads: Vec<Tensor>,
    /// `‖g‖`, the plain gradient's norm over all parameters.
    pub grad_norm: f64,
    /// `‖∇L_G‖`.
    pub grad_norm_reg: f64,
    /// `(ρ/2)‖g‖²`, the regularization term added to the loss.
    pub penalty: f64,
}

/// `∇L_G` of `loss` (a scalar with its graph) w.r.t. `params`, by backward with
/// `keep_graph + create_graph`, then a second backward of `L + (ρ/2)‖g‖²`. With `ρ = 0` one plain
/// backward. Errors name the pass that failed and quote libtorch (which names the op).
/// The last backward frees the graph: run any other backward through the same forward (e.g.
/// K-FAC's sampled-label errors) before this call, with `keep_graph`.
pub fn gr_gradient(loss: &Tensor, params: &[Tensor], rho: f64) -> Result<GrGradient> {
    check_inputs(loss, params, "gr_gradient")?;
    ensure!(
        rho.is_finite() && rho >= 0.0,
        "gr_gradient: ρ = {rho} must be a finite number ≥ 0"
    );
    if rho == 0.0 {
        let grads = Tensor::f_run_backward(&[loss], params, false, false)
            .map_err(|e| anyhow!("gr_gradient: backward failed: {}", torch_message(&e)))?;
        let norm = global_norm(&grads);
        return Ok(GrGradient {
            grads,
            grad_norm: norm,
            grad_norm_reg: norm,
            penalty: 0.0,
        });
    }
    let g = first_backward(loss, params, "gr_gradient")?;
    let sq = squared_norm(&g); // scalar, differentiable through g
    let total = loss + &sq * (0.5 * rho);
    let grads = Tensor::f_run_backward(&[&total], params, false, false).map_err(|e| {
        anyhow!(
            "gr_gradient: backward through the gradient (double backprop) failed: {}",
            torch_message(&e)
        )
    })?;
    let sq = sq.double_value(&[]);
    Ok(GrGradient {
        grad_norm: sq.sqrt(),
        grad_norm_reg: global_norm(&grads),
        penalty: 0.5 * rho * sq,
        grads,
    })
}

/// Start-up probe: one double backward through `loss` (a tiny forward of the real model). On
/// failure the error quotes libtorch's message (naming the op, e.g. a fused attention kernel)
/// and says how to avoid it.
pub fn probe_double_backward(loss: &Tensor, params: &[Tensor]) -> Result<()> {
    check_inputs(loss, params, "double-backward probe")?;
    let result = Tensor::f_run_backward(&[loss], params, true, true).and_then(|g| {
        let sq = squared_norm(&g);
        if !sq.requires_grad() {
            return Ok(()); // the loss is linear in every parameter: nothing to differentiate
        }
        Tensor::f_run_backward(&[&sq], params, false, false).map(|_| ())
    });
    result.map_err(|e| {
        anyhow!(
            "double-backward probe failed: libtorch says \"{}\". RENG differentiates through the \
             gradient, so every op of the model and the loss needs a double-backward formula; \
             fused kernels such as scaled_dot_product_attention do not have one. Use \
             `attention: explicit` in the model config and cross-entropy from logits, or choose \
             an optimizer without double backprop (e.g. ring)",
            torch_message(&e)
        )
    })
}

/// `g = ∇loss` with the graph kept and differentiable.
fn first_backward(loss: &Tensor, params: &[Tensor], who: &str) -> Result<Vec<Tensor>> {
    Tensor::f_run_backward(&[loss], params, true, true).map_err(|e| {
        anyhow!(
            "{who}: first backward (create_graph) failed: {}",
            torch_message(&e)
        )
    })
}

fn check_inputs(loss: &Tensor, params: &[Tensor], who: &str) -> Result<()> {
    ensure!(
        loss.numel() == 1,
        "{who}: the loss must be a scalar, got shape {:?}",
        loss.size()
    );
    ensure!(!params.is_empty(), "{who}: no parameters");
    ensure!(
        loss.requires_grad(),
        "{who}: the loss does not require grad (computed under no_grad?)"
    );
    Ok(())
}

/// `Σ_p ‖g_p‖²` as a scalar tensor (keeps the graph of `g`).
fn squared_norm(g: &[Tensor]) -> Tensor {
    let parts: Vec<Tensor> = g.iter().map(|t| t.square().sum(Kind::Double)).collect();
    Tensor::stack(&parts, 0).sum(Kind::Double)
}

fn global_norm(g: &[Tensor]) -> f64 {
    tch::no_grad(|| squared_norm(g).double_value(&[]).sqrt())
}

/// libtorch's message without the C++ backtrace that follows it.
fn torch_message(e: &tch::TchError) -> String {
    let text = e.to_string();
    let cut = text.find("\nException raised from").unwrap_or(text.len());
    text[..cut].trim().to_string()
}
