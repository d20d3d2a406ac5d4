//! Measurements around the optimizer: the flat parameter vector (for Δθ), the §5.3 Pearson
//! correlations, the probe-set gradient, evaluation of loss and accuracy, peak memory.
use super::models::Classifier;
use crate::nn::Tape;
use crate::optim::stepper::mean_ce;
use anyhow::Result;
use tch::{Kind, Tensor};

/// Every trainable variable of `model`, sorted by name (a fixed order for flat vectors).
pub fn params(model: &dyn Classifier) -> Vec<Tensor> {
    let mut vars: Vec<(String, Tensor)> = model.var_store().variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    vars.into_iter().map(|(_, t)| t).collect()
}

/// The parameters flattened and concatenated, f64, detached.
pub fn flat(params: &[Tensor]) -> Tensor {
    let parts: Vec<Tensor> = params
        .iter()
        .map(|p| p.detach().flatten(0, -1).to_kind(Kind::Double))
        .collect();
    Tensor::cat(&parts, 0)
}

/// Pearson correlation Σ(u−ū)(v−v̄)/(‖u−ū‖‖v−v̄‖) of two flat vectors (§5.3); None when
/// either is constant or the value is not finite.
pub fn pearson(u: &Tensor, v: &Tensor) -> Option<f64> {
    let u = u - u.mean(Kind::Double);
    let v = v - v.mean(Kind::Double);
    let den = u.norm().double_value(&[]) * v.norm().double_value(&[]);
    let r = (&u * &v).sum(Kind::Double).double_value(&[]) / den;
    (den > 0.0 && r.is_finite()).then_some(r)
}

/// ∇θ of the mean cross-entropy on the probe set, flat f64 (leaves `.grad()` untouched).
pub fn probe_gradient(
    model: &dyn Classifier,
    params: &[Tensor],
    x: &Tensor,
    y: &Tensor,
) -> Result<Tensor> {
    let logits = model.forward(x, &mut Tape::off())?;
    let loss = mean_ce(&logits, y);
    let grads = Tensor::run_backward(&[loss], params, false, false);
    Ok(flat(&grads))
}

/// Mean cross-entropy and accuracy of `model` on `(x, y)` in chunks of `chunk` rows of `x`
/// (no graph). For an LM, `x` is `(B, T)` windows and `y` their `(B·T,)` targets.
pub fn evaluate(model: &dyn Classifier, x: &Tensor, y: &Tensor, chunk: i64) -> Result<(f64, f64)> {
    let _guard = tch::no_grad_guard();
    let n = x.size()[0];
    let per_row = y.size()[0] / n.max(1);
    let (mut loss_sum, mut correct) = (0.0, 0.0);
    let mut start = 0;
    while start < n {
        let len = chunk.min(n - start);
        let logits = model.forward(&x.narrow(0, start, len), &mut Tape::off())?;
        let yy = y.narrow(0, start * per_row, len * per_row);
        let loss = logits.cross_entropy_loss::<Tensor>(&yy, None, tch::Reduction::Sum, -100, 0.0);
        loss_sum += loss.double_value(&[]);
        let hits = logits.argmax(-1, false).eq_tensor(&yy).sum(Kind::Double);
        correct += hits.double_value(&[]);
        start += len;
    }
    let total = y.size()[0] as f64;
    Ok((loss_sum / total, correct / total))
}

/// Peak resident set size of this process in MB (`VmHWM` of /proc/self/status); None where
/// that file does not exist.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
