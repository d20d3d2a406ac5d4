//! The operational stability measures of spec §2.7 [A1], accumulated over one evaluation window
//! (the steps since the previous evaluation) and written as the §4.6 columns.
//!
//! Standard deviations are population ones (divide by n); a quantity with no samples in the
//! window is an empty cell.

use super::metrics::mean;

/// One training step as the window sees it.
pub struct StepStats {
    pub loss: f64,
    /// Global gradient L2 norm before clipping.
    pub grad_norm: f64,
    pub clipped: bool,
    /// ‖Δθ‖ / ‖θ before the step‖.
    pub update_ratio: f64,
    /// cos(Δθ_t, Δθ_{t−1}); None on the first step.
    pub update_cos: Option<f64>,
}

#[derive(Default)]
pub struct Window {
    losses: Vec<f64>,
    grad_norms: Vec<f64>,
    clipped: usize,
    update_ratios: Vec<f64>,
    update_cos: Vec<f64>,
    stats: Vec<f64>,
}

pub const COLUMNS: [&str; 9] = [
    "loss_jitter",
    "loss_jitter_rel",
    "grad_norm_mean",
    "grad_norm_cv",
    "clip_frac",
    "update_ratio_mean",
    "update_cos_mean",
    "param_norm",
    "gen_stat_std",
];

impl Window {
    pub fn push(&mut self, s: &StepStats) {
        self.losses.push(s.loss);
        self.grad_norms.push(s.grad_norm);
        self.clipped += usize::from(s.clipped);
        self.update_ratios.push(s.update_ratio);
        self.update_cos.extend(s.update_cos);
    }

    /// A controller measurement s_k taken inside the window.
    pub fn push_stat(&mut self, s: f64) {
        self.stats.push(s);
    }

    /// Mean minibatch loss over the window's steps.
    pub fn train_loss(&self) -> Option<f64> {
        mean(&self.losses)
    }

    /// `std_t(L_t − L_{t−1})` over the window's steps.
    pub fn loss_jitter(&self) -> Option<f64> {
        let diffs: Vec<f64> = self.losses.windows(2).map(|w| w[1] - w[0]).collect();
        std(&diffs)
    }

    /// The §4.6 values in [`COLUMNS`] order.
    pub fn values(&self, param_norm: f64) -> [Option<f64>; 9] {
        let jitter = self.loss_jitter();
        let g = mean(&self.grad_norms);
        let steps = self.losses.len();
        [
            jitter,
            jitter
                .zip(self.train_loss())
                .and_then(|(j, l)| (l != 0.0).then(|| j / l)),
            g,
            std(&self.grad_norms)
                .zip(g)
                .and_then(|(s, m)| (m != 0.0).then(|| s / m)),
            (steps > 0).then(|| self.clipped as f64 / steps as f64),
            mean(&self.update_ratios),
            mean(&self.update_cos),
            Some(param_norm),
            std(&self.stats),
        ]
    }
}

/// Population standard deviation; None for an empty slice.
pub fn std(xs: &[f64]) -> Option<f64> {
    let m = mean(xs)?;
    Some((xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / xs.len() as f64).sqrt())
}

/// The late-window mean of §2.7: the mean of the last half (rounded up) of the values.
pub fn late_mean(values: &[f64]) -> Option<f64> {
    let half = values.len().div_ceil(2);
    mean(&values[values.len() - half..])
}
