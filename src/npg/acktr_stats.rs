//! ACKTR's factor statistics (spec §3.7): the "sampled Fisher" loss `Σᵢ −log π(ãᵢ|sᵢ)` with
//! ãᵢ drawn from the current policy, its gradient at every layer's pre-activation (the errors
//! of K-FAC's G) and every layer's input (for A), on either backend. The head's errors are
//! written once ([`head_errors`]); the native MLP pulls them back analytically, the tch actor
//! by autograd to its pre-activations.
use super::acktr::{FisherStats, LayerStats};
use super::policy::actor::sample_actions;
use super::policy::dist::logp_vjp;
use super::policy::{Actor, DistKind, NativeActor};
use anyhow::{Context, Result};
use ndarray::{Array2, ArrayView2};
use rand_chacha::ChaCha8Rng;
use tch::{Kind, Tensor};

/// Sampled actions and `∂(Σᵢ −log π(ãᵢ|sᵢ))/∂head` `[N, out]` (categorical `p − onehot(ã)`,
/// Gaussian `−(ã − μ)/σ²`), plus for Gaussians the per-row log-std errors `1 − zᵢ²` `[N, dim]`.
pub fn head_errors(
    dist: &DistKind,
    head: &Array2<f64>,
    log_std: &[f64],
    rng: &mut ChaCha8Rng,
) -> (Vec<f64>, Array2<f64>, Option<Array2<f64>>) {
    let flat = head.as_standard_layout();
    let flat = flat.as_slice().expect("contiguous head");
    let (actions, _) = sample_actions(dist, flat, log_std, rng, false);
    let minus_one = vec![-1.0; head.nrows()];
    let g = logp_vjp(dist, head, log_std, &actions, &minus_one, 0.0).head;
    let log_std_errors = match dist {
        DistKind::Categorical { .. } => None,
        DistKind::Gaussian { .. } => {
            let k = log_std.len();
            Some(Array2::from_shape_fn((head.nrows(), k), |(i, j)| {
                let z = (actions[i * k + j] - head[[i, j]]) / log_std[j].exp();
                1.0 - z * z
            }))
        }
    };
    (actions, g, log_std_errors)
}

/// The log-std "layer": input 1 per row.
fn log_std_layer(errors: Option<Array2<f64>>) -> Option<LayerStats> {
    errors.map(|e| LayerStats {
        input: Array2::ones((e.nrows(), 1)),
        errors: e,
    })
}

/// Native backend: forward with cache, head errors, analytic pull-back per layer.
pub fn native_fisher_stats(
    actor: &NativeActor,
    obs: ArrayView2<f64>,
    rng: &mut ChaCha8Rng,
) -> FisherStats {
    let cache = actor.forward(obs);
    let n = actor.mlp.numel();
    let (w, log_std) = actor.params.split_at(n);
    let (actions, head, ls_err) = head_errors(&actor.dist, &cache.out, log_std, rng);
    let errors = actor.mlp.layer_errors(w, &cache, head);
    let mut layers: Vec<LayerStats> = cache
        .acts
        .into_iter()
        .zip(errors)
        .map(|(input, errors)| LayerStats { input, errors })
        .collect();
    layers.extend(log_std_layer(ls_err));
    FisherStats { actions, layers }
}

fn array(t: &Tensor) -> Result<Array2<f64>> {
    let (r, c) = t.size2()?;
    let v = Vec::<f64>::try_from(&t.detach().to_kind(Kind::Double).contiguous().view([-1]))?;
    Ok(Array2::from_shape_vec((r as usize, c as usize), v)?)
}

/// tch backend: a forward that keeps every layer's input and pre-activation, then one
/// backward of `Σ head ⊙ errors` to the pre-activations.
pub fn torch_fisher_stats(
    actor: &Actor,
    obs: &Tensor,
    rng: &mut ChaCha8Rng,
) -> Result<FisherStats> {
    let nt = actor.mlp.num_tensors();
    let p = &actor.params.tensors;
    let (mut inputs, mut pre) = (Vec::new(), Vec::new());
    let mut h = obs.shallow_clone();
    for l in 0..nt / 2 {
        let z = h.linear(&p[2 * l], Some(&p[2 * l + 1])); // (N, out_l)
        inputs.push(array(&h)?);
        h = if 2 * l + 2 < nt {
            z.tanh()
        } else {
            z.shallow_clone()
        };
        pre.push(z);
    }
    let log_std = match p.get(nt) {
        Some(t) => Vec::<f64>::try_from(&t.detach())?,
        None => Vec::new(),
    };
    let head = pre.last().context("actor without layers")?;
    let (actions, g, ls_err) = head_errors(&actor.dist, &array(head)?, &log_std, rng);
    let seed = (head * Tensor::from_slice(g.as_slice().context("contiguous")?).view_as(head))
        .sum(Kind::Double);
    let refs: Vec<&Tensor> = pre.iter().collect();
    let errors = Tensor::f_run_backward(&[&seed], &refs, false, false)
        .context("acktr: sampled-Fisher backward")?;
    let mut layers = Vec::with_capacity(inputs.len() + 1);
    for (input, e) in inputs.into_iter().zip(&errors) {
        layers.push(LayerStats {
            input,
            errors: array(e)?,
        });
    }
    layers.extend(log_std_layer(ls_err));
    Ok(FisherStats { actions, layers })
}
