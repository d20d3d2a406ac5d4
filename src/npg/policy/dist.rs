//! Policy distributions on head outputs, written analytically for the native backend (spec
//! §1.7, §1.12): categorical over logits (log-softmax with max-subtraction) and diagonal
//! Gaussian with a state-independent log-std. Log-probabilities, entropies, the exact
//! `KL(π_old ‖ π)`, their derivatives with respect to the head and the log-std, and the
//! Fisher metric of the head (the Hessian of the mean KL at π = π_old).
use super::actor::DistKind;
use ndarray::{Array2, ArrayView2};
use std::f64::consts::PI;

/// `∂/∂head` (`[B, out]`) and `∂/∂log_std` of a scalar.
pub struct HeadGrad {
    pub head: Array2<f64>,
    pub log_std: Vec<f64>,
}

fn half_log_2pi() -> f64 {
    0.5 * (2.0 * PI).ln()
}

/// Row-wise log-softmax of a `[B, n]` logit batch.
pub fn log_softmax(logits: ArrayView2<f64>) -> Array2<f64> {
    let mut out = logits.to_owned();
    for mut row in out.rows_mut() {
        let max = row.fold(f64::NEG_INFINITY, |m, &x| m.max(x));
        let lse = max + row.iter().map(|x| (x - max).exp()).sum::<f64>().ln();
        row.mapv_inplace(|x| x - lse);
    }
    out
}

/// `log π(a_i|s_i)` per row.
pub fn log_probs(
    dist: &DistKind,
    head: &Array2<f64>,
    log_std: &[f64],
    actions: &[f64],
) -> Vec<f64> {
    match dist {
        DistKind::Categorical { .. } => {
            let logp = log_softmax(head.view());
            actions
                .iter()
                .enumerate()
                .map(|(i, &a)| logp[[i, a as usize]])
                .collect()
        }
        DistKind::Gaussian { .. } => {
            let k = log_std.len();
            head.rows()
                .into_iter()
                .zip(actions.chunks(k))
                .map(|(mu, a)| {
                    (0..k)
                        .map(|j| {
                            let z = (a[j] - mu[j]) / log_std[j].exp();
                            -0.5 * z * z - log_std[j] - half_log_2pi()
                        })
                        .sum()
                })
                .collect()
        }
    }
}

/// Entropy per row.
pub fn entropies(dist: &DistKind, head: &Array2<f64>, log_std: &[f64]) -> Vec<f64> {
    match dist {
        DistKind::Categorical { .. } => log_softmax(head.view())
            .rows()
            .into_iter()
            .map(|lp| -lp.iter().map(|l| l.exp() * l).sum::<f64>())
            .collect(),
        DistKind::Gaussian { .. } => {
            let h: f64 = log_std.iter().map(|ls| ls + 0.5 + half_log_2pi()).sum();
            vec![h; head.nrows()]
        }
    }
}

/// Gradient of `Σ_i coef_i log π(a_i|s_i) + ent_w · mean_i H_i`.
pub fn logp_vjp(
    dist: &DistKind,
    head: &Array2<f64>,
    log_std: &[f64],
    actions: &[f64],
    coef: &[f64],
    ent_w: f64,
) -> HeadGrad {
    let rows = head.nrows() as f64;
    match dist {
        DistKind::Categorical { .. } => {
            let mut g = log_softmax(head.view());
            for ((mut row, &a), &c) in g.rows_mut().into_iter().zip(actions).zip(coef) {
                let h = -row.iter().map(|l| l.exp() * l).sum::<f64>();
                for (k, x) in row.iter_mut().enumerate() {
                    let (lp, p) = (*x, x.exp());
                    let onehot = if k == a as usize { 1.0 } else { 0.0 };
                    *x = c * (onehot - p) - ent_w / rows * p * (lp + h);
                }
            }
            HeadGrad {
                head: g,
                log_std: Vec::new(),
            }
        }
        DistKind::Gaussian { .. } => {
            let k = log_std.len();
            let mut g = Array2::zeros(head.raw_dim());
            let mut gls = vec![ent_w; k];
            for (i, (mu, a)) in head.rows().into_iter().zip(actions.chunks(k)).enumerate() {
                for j in 0..k {
                    let sigma = log_std[j].exp();
                    let z = (a[j] - mu[j]) / sigma;
                    g[[i, j]] = coef[i] * z / sigma;
                    gls[j] += coef[i] * (z * z - 1.0);
                }
            }
            HeadGrad {
                head: g,
                log_std: gls,
            }
        }
    }
}

/// Mean over rows of the exact `KL(π_old ‖ π)`.
pub fn mean_kl(
    dist: &DistKind,
    old: (&Array2<f64>, &[f64]),
    head: &Array2<f64>,
    log_std: &[f64],
) -> f64 {
    let rows = head.nrows() as f64;
    match dist {
        DistKind::Categorical { .. } => {
            let (lo, ln) = (log_softmax(old.0.view()), log_softmax(head.view()));
            let total: f64 = lo
                .iter()
                .zip(ln.iter())
                .map(|(o, n)| o.exp() * (o - n))
                .sum();
            total / rows
        }
        DistKind::Gaussian { .. } => {
            let mut total = 0.0;
            for (mo, mn) in old.0.rows().into_iter().zip(head.rows()) {
                for j in 0..log_std.len() {
                    let var = (2.0 * log_std[j]).exp();
                    let ratio = (2.0 * old.1[j]).exp() / var;
                    let mean_term = (mo[j] - mn[j]).powi(2) / var;
                    total += log_std[j] - old.1[j] + 0.5 * (ratio + mean_term) - 0.5;
                }
            }
            total / rows
        }
    }
}

/// The Fisher metric of the mean KL applied to a head tangent `jv` (and a log-std tangent
/// `v_ls`): categorical `(diag p − ppᵀ) jv / B`, Gaussian `jv / (σ² B)` and `2 v_ls`.
pub fn fisher_head(
    dist: &DistKind,
    head: &Array2<f64>,
    log_std: &[f64],
    jv: Array2<f64>,
    v_ls: &[f64],
) -> HeadGrad {
    let rows = head.nrows() as f64;
    match dist {
        DistKind::Categorical { .. } => {
            let lp = log_softmax(head.view());
            let mut out = jv;
            for (mut row, lrow) in out.rows_mut().into_iter().zip(lp.rows()) {
                let mean: f64 = row.iter().zip(lrow).map(|(x, l)| l.exp() * x).sum();
                for (x, l) in row.iter_mut().zip(lrow) {
                    *x = l.exp() * (*x - mean) / rows;
                }
            }
            HeadGrad {
                head: out,
                log_std: Vec::new(),
            }
        }
        DistKind::Gaussian { .. } => {
            let mut out = jv;
            for mut row in out.rows_mut() {
                for (x, ls) in row.iter_mut().zip(log_std) {
                    *x /= (2.0 * ls).exp() * rows;
                }
            }
            HeadGrad {
                head: out,
                log_std: v_ls.iter().map(|v| 2.0 * v).collect(),
            }
        }
    }
}
