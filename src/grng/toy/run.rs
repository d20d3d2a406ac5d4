//! The training loop: full-batch steps with the exact Jacobian until the loss reaches
//! `stop_loss`, the run diverges, or `steps` runs out; one [`ToyStep`] row per step.
use super::config::{ToyConfig, ToyMethod};
use super::data::ToyData;
use super::methods::{contraction, damping, filter, step_coefficients, Singular, Spectrum};
use super::network::TwoLayer;
use crate::error::usage;
use anyhow::Result;
use ndarray::{Array1, Array2};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Components below this fraction of ‖r‖ are too small for a meaningful measured ratio: the
/// second-order remainder r_{k+1} − diag(c) r_k of a step measures up to ~2% of ‖r_k‖ on
/// this toy (about 10–20 × ‖Δw‖/‖w‖), so it swamps smaller components' ratios. Used by the
/// CSV's `lin_dev`.
pub const SIGNIFICANT: f64 = 0.05;

/// One update step k, taken at the iterate w_k. Eigen-quantities refer to K_k = J_k J_kᵀ.
#[derive(Debug, Clone, PartialEq)]
pub struct ToyStep {
    /// k, counted from 0.
    pub step: usize,
    /// ½‖r_k‖² before the step.
    pub loss: f64,
    /// ½‖r_{k+1}‖² after it.
    pub loss_next: f64,
    /// The damping λ_k the step used (ring: λ0 + ρ‖∇L‖²; 0 for gd).
    pub lambda: f64,
    /// ‖∇L‖² = ‖Jᵀr‖² = rᵀ K r.
    pub grad_norm_sq: f64,
    /// ‖Δw‖ / ‖w_k‖.
    pub rel_dw: f64,
    /// Eigenvalues σ_i of K_k, ascending.
    pub sigma: Vec<f64>,
    /// r_k in K_k's eigenbasis: Q_kᵀ r_k.
    pub resid: Vec<f64>,
    /// r_{k+1} in the same (step-k) eigenbasis: Q_kᵀ r_{k+1}.
    pub resid_next: Vec<f64>,
    /// The linearized contraction c_i = 1 − η σ_i φ(σ_i) of this step (see `methods`).
    pub predicted: Vec<f64>,
}

impl ToyStep {
    /// The CSV columns of [`ToyStep::values`] (per-component vectors are not in the CSV).
    pub const COLUMNS: &'static [&'static str] = &[
        "step",
        "loss",
        "loss_next",
        "lambda",
        "grad_norm_sq",
        "rel_dw",
        "sigma_min",
        "sigma_max",
        "lin_dev",
        "flips",
    ];

    pub fn values(&self) -> Vec<f64> {
        vec![
            self.step as f64,
            self.loss,
            self.loss_next,
            self.lambda,
            self.grad_norm_sq,
            self.rel_dw,
            self.sigma[0],
            self.sigma[self.sigma.len() - 1],
            self.lin_dev(),
            self.flips() as f64,
        ]
    }

    /// Indices of the components with |r_i| > fraction · ‖r‖.
    pub fn significant(&self, fraction: f64) -> Vec<usize> {
        let norm = self.resid.iter().map(|v| v * v).sum::<f64>().sqrt();
        (0..self.resid.len())
            .filter(|&i| self.resid[i].abs() > fraction * norm)
            .collect()
    }

    /// The measured ratio r_i(k+1) / r_i(k) in the step-k eigenbasis.
    pub fn ratio(&self, i: usize) -> f64 {
        self.resid_next[i] / self.resid[i]
    }

    /// max over the components above [`SIGNIFICANT`] of |measured ratio − c_i| (0 if none).
    pub fn lin_dev(&self) -> f64 {
        let devs = self.significant(SIGNIFICANT).into_iter();
        devs.map(|i| (self.ratio(i) - self.predicted[i]).abs())
            .fold(0.0, f64::max)
    }

    /// How many components changed sign over the step.
    pub fn flips(&self) -> usize {
        let pairs = self.resid.iter().zip(&self.resid_next);
        pairs.filter(|(a, b)| a.signum() != b.signum()).count()
    }
}

/// A finished run.
#[derive(Debug, Clone, PartialEq)]
pub struct ToyRun {
    pub config: ToyConfig,
    /// The step size used (resolved default for `eta: null`).
    pub eta: f64,
    /// Eigenvalues of J Jᵀ at the initial weights, ascending, and κ = σ_max/σ_min.
    pub sigma_init: Vec<f64>,
    pub kappa_init: f64,
    pub initial_loss: f64,
    pub rows: Vec<ToyStep>,
    /// Steps taken until the loss was ≤ stop_loss (Some(0): already at the start); None if
    /// not reached.
    pub steps_to_stop: Option<usize>,
    /// The loss became non-finite or exceeded divergence_factor × the initial loss, or the
    /// method broke down (see `breakdown`).
    pub diverged: bool,
    /// Why a run stopped early other than by its loss: J Jᵀ became singular mid-run (a
    /// preconditioned method cannot step); a singular J Jᵀ at the start is an error instead.
    pub breakdown: Option<String>,
}

impl ToyRun {
    pub fn final_loss(&self) -> f64 {
        self.rows.last().map_or(self.initial_loss, |r| r.loss_next)
    }
}

/// What a step needs at the current weights: the residual r = u − y (n), the exact Jacobian
/// (n, M·d) and the spectrum of K = J Jᵀ (n, n).
struct Iterate {
    r: Array1<f64>,
    jac: Array2<f64>,
    spec: Spectrum,
}

impl Iterate {
    fn at(net: &TwoLayer, data: &ToyData) -> Result<Iterate> {
        let r = net.outputs(&data.x) - &data.y;
        let jac = net.jacobian(&data.x);
        let spec = Spectrum::of(&jac.dot(&jac.t()))?;
        Ok(Iterate { r, jac, spec })
    }
}

fn half_sq(r: &Array1<f64>) -> f64 {
    0.5 * r.dot(r)
}

/// Run the twolayer-toy (spec §6.10) with `cfg`: validate, draw data and weights from
/// ChaCha8(seed), train.
pub fn run_toy(cfg: &ToyConfig) -> Result<ToyRun> {
    cfg.validate()?;
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let (data, _teacher) =
        ToyData::sample_with(cfg.n, cfg.d, cfg.targets, cfg.teacher_width, &mut rng);
    let mut net = TwoLayer::init(cfg.width, cfg.d, &mut rng);
    let mut it = Iterate::at(&net, &data)?;
    let initial_loss = half_sq(&it.r);
    let spec = &it.spec;
    let eta = cfg.eta.unwrap_or(match cfg.method {
        ToyMethod::Gd => 1.0 / spec.max(),
        _ => 1.0,
    });
    let mut run = ToyRun {
        config: cfg.clone(),
        eta,
        sigma_init: spec.sigma.to_vec(),
        kappa_init: spec.max() / spec.min(),
        initial_loss,
        rows: Vec::new(),
        steps_to_stop: (initial_loss <= cfg.stop_loss).then_some(0),
        diverged: false,
        breakdown: None,
    };
    let mut k = 0;
    while run.steps_to_stop.is_none() && k < cfg.steps {
        let row = match step(cfg, eta, &mut net, &data, &it, k) {
            Ok(row) => row,
            Err(e) => match e.downcast_ref::<Singular>() {
                Some(_) if k == 0 => return Err(usage(e.to_string())),
                Some(s) => {
                    run.diverged = true;
                    run.breakdown = Some(format!(
                        "step {k}: J Jᵀ + λI became singular (σ_min = {:.3e}, λ = {:.3e})",
                        s.sigma_min, s.lambda
                    ));
                    break;
                }
                None => return Err(e),
            },
        };
        let loss_next = row.loss_next;
        run.rows.push(row);
        k += 1;
        if !loss_next.is_finite() || loss_next > cfg.divergence_factor * initial_loss {
            run.diverged = true;
            break;
        }
        if loss_next <= cfg.stop_loss {
            run.steps_to_stop = Some(k);
            break;
        }
        it = Iterate::at(&net, &data)?;
    }
    Ok(run)
}

/// Update k at the iterate `it` (the state of `net`); moves `net` and returns the row.
fn step(
    cfg: &ToyConfig,
    eta: f64,
    net: &mut TwoLayer,
    data: &ToyData,
    it: &Iterate,
    k: usize,
) -> Result<ToyStep> {
    let (r, spec) = (&it.r, &it.spec);
    let resid = spec.project(r);
    let grad_norm_sq = (&resid * &resid * &spec.sigma).sum(); // rᵀ K r
    let lambda = damping(cfg.method, cfg.lambda0, cfg.rho, grad_norm_sq);
    let filt = filter(cfg.method, spec, lambda, cfg.rho).map_err(anyhow::Error::new)?;
    let v = step_coefficients(spec, &filt, eta, r); // (n)
    let dw = -it.jac.t().dot(&v); // (M·d)
    let rel_dw = dw.dot(&dw).sqrt() / net.weight_norm();
    net.add_flat(dw.view());
    let r_next = net.outputs(&data.x) - &data.y;
    Ok(ToyStep {
        step: k,
        loss: half_sq(r),
        loss_next: half_sq(&r_next),
        lambda,
        grad_norm_sq,
        rel_dw,
        sigma: spec.sigma.to_vec(),
        resid: resid.to_vec(),
        resid_next: spec.project(&r_next).to_vec(),
        predicted: contraction(spec, &filt, eta).to_vec(),
    })
}
