//! The training-step contract of curvature-aware optimizers (grng's K-FAC family, Sophia,
//! R-Kalman; npg's ACKTR). Unlike [`Optimizer`], which reads gradients a caller computed, a
//! [`Stepper`] runs the step's forward and backward passes itself, because it may need the
//! layers' inputs and pre-activations (K-FAC), a second backward through the gradient (RENG's
//! double backprop) or a backward of a loss on labels sampled from the model (true Fisher,
//! Sophia's Gauss–Newton–Bartlett estimate).
//!
//! A step sees the batch as a classification problem ([`Objective`]): logits `(N, C)` and
//! labels `(N,)`; a language model flattens `(B, T, V)` to `(B·T, V)`. The loss is
//! [`mean_ce`]. Labels sampled from the model come from the optimizer's own seeded RNG
//! ([`sample_labels`], state in [`RngState`]), so a saved and resumed run draws the same labels.
use super::{Optimizer, StateDict};
use crate::optim::capture::Captured;
use anyhow::{bail, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::time::Instant;
use tch::{Kind, Tensor};

/// One step's mini-batch: a forward pass (callable more than once, same batch) and the labels.
pub trait Objective {
    /// Logits `(N, C)` on the step's batch (graph kept), and with `capture` the model's linear
    /// layers in forward order: each input `(.., d_in)` and pre-activation `(.., d_out)` are the
    /// graph nodes the logits were computed from (flatten leading axes to rows).
    fn forward(&mut self, capture: bool) -> Result<(Tensor, Vec<Captured>)>;
    /// Labels `(N,)` i64.
    fn targets(&self) -> &Tensor;
}

/// Mean cross-entropy of logits `(N, C)` against labels `(N,)`, in the logits' dtype (tch's
/// `cross_entropy_for_logits` computes its log-softmax in f32, which breaks f64 checks).
pub fn mean_ce(logits: &Tensor, targets: &Tensor) -> Tensor {
    logits.cross_entropy_loss::<Tensor>(targets, None, tch::Reduction::Mean, -100, 0.0)
}

/// Labels drawn from `softmax(logits)` row by row (`(N,)` i64, on the logits' device), using
/// `rng` (inverse CDF with one uniform per row), never torch's global generator. No gradient.
pub fn sample_labels(logits: &Tensor, rng: &mut ChaCha8Rng) -> Result<Tensor> {
    let (n, c) = logits.size2()?;
    let _guard = tch::no_grad_guard();
    let cdf = logits
        .detach()
        .to_kind(Kind::Double)
        .softmax(-1, Kind::Double)
        .cumsum(-1, Kind::Double);
    let u: Vec<f64> = (0..n).map(|_| rng.gen::<f64>()).collect();
    let u = Tensor::from_slice(&u)
        .to_device(logits.device())
        .view([n, 1]);
    // The first class whose cumulative mass exceeds u; clamp guards rounding in the last entry.
    let below = cdf.lt_tensor(&u).sum_dim_intlist(1, false, Kind::Int64);
    Ok(below.clamp_max(c - 1))
}

/// A ChaCha8 stream position, for saving an optimizer's label-sampling RNG in its JSON header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RngState {
    pub seed: [u8; 32],
    pub stream: u64,
    /// `get_word_pos` as a decimal string (a u128 does not fit JSON numbers).
    pub word_pos: String,
}

impl RngState {
    pub fn of(rng: &ChaCha8Rng) -> RngState {
        RngState {
            seed: rng.get_seed(),
            stream: rng.get_stream(),
            word_pos: rng.get_word_pos().to_string(),
        }
    }

    pub fn restore(&self) -> Result<ChaCha8Rng> {
        let Ok(pos) = self.word_pos.parse::<u128>() else {
            bail!(
                "optimizer state: RNG word position `{}` is not a number",
                self.word_pos
            );
        };
        let mut rng = ChaCha8Rng::from_seed(self.seed);
        rng.set_stream(self.stream);
        rng.set_word_pos(pos);
        Ok(rng)
    }
}

/// What one [`Stepper::step`] measured (the `steps.csv` diagnostics of grng spec §6.3).
/// `None` = not applicable to this optimizer (an empty CSV cell).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepReport {
    /// Mean cross-entropy on the batch before the update (unregularized).
    pub loss: f64,
    /// ‖∇L‖₂ of the unregularized loss over all trainable parameters.
    pub grad_norm: f64,
    /// ‖∇L_G‖₂ of the gradient-regularized loss (RENG).
    pub grad_norm_reg: Option<f64>,
    /// ρ/2·‖∇L‖² (gradient-regularized optimizers).
    pub gr_penalty: Option<f64>,
    /// Effective damping of this step (δ_k or λ).
    pub damping_eff: Option<f64>,
    /// KL-clip scale ν ∈ (0, 1].
    pub kl_clip_scale: Option<f64>,
    /// Newton–Schulz iterations run this step (all factors together).
    pub newton_iters: Option<u32>,
    /// Largest final Newton residual ‖I − M X‖_F this step.
    pub newton_resid_max: Option<f64>,
    /// Lazy (matrix-differential) updates whose guard failed and fell back to Newton.
    pub lazy_guard_fallbacks: u32,
    /// The step was skipped because a factor or the update was not finite.
    pub nonfinite_skipped: bool,
    pub time_fwd_bwd_ms: f64,
    pub time_curv_ms: f64,
    pub time_precond_ms: f64,
}

/// An optimizer that runs its own training step on an [`Objective`].
pub trait Stepper {
    /// Stable name (`sgd`, `adamw`, `kfac`, `sophia`, `reng`, `ring`, `rkalman`, ...).
    fn name(&self) -> &'static str;
    /// Forward, backward(s) and the parameter update on `obj`'s batch.
    fn step(&mut self, obj: &mut dyn Objective) -> Result<StepReport>;
    /// Completed steps.
    fn steps_done(&self) -> u64;
    /// Set the base learning rate (schedules call this before each step).
    fn set_lr(&mut self, lr: f64);
    /// Snapshot of the whole state (see [`super::state`]): resuming from it continues exactly.
    fn state_dict(&self) -> Result<StateDict>;
    fn load_state_dict(&mut self, state: &StateDict) -> Result<()>;
}

/// Any first-order [`Optimizer`] as a [`Stepper`]: forward, mean cross-entropy, backward, step.
pub struct FirstOrder<O: Optimizer> {
    pub opt: O,
    /// Every trainable parameter (for the gradient norm).
    params: Vec<Tensor>,
}

impl<O: Optimizer> FirstOrder<O> {
    pub fn new(opt: O) -> FirstOrder<O> {
        let params = opt
            .groups()
            .iter()
            .flat_map(|g| g.params.iter().map(|(_, t)| t.shallow_clone()))
            .collect();
        FirstOrder { opt, params }
    }
}

/// Global L2 norm of the parameters' `.grad()` (0 for a parameter without one).
pub fn grad_norm(params: &[Tensor]) -> f64 {
    let _guard = tch::no_grad_guard();
    let sums: Vec<Tensor> = (params.iter().map(Tensor::grad))
        .filter(Tensor::defined)
        .map(|g| g.to_kind(Kind::Double).square().sum(Kind::Double))
        .collect();
    if sums.is_empty() {
        return 0.0;
    }
    // One read-back; the per-parameter sums are added in parameter order, as one at a time.
    let sums = Tensor::stack(&sums, 0).to_device(tch::Device::Cpu);
    let sums = Vec::<f64>::try_from(&sums).unwrap_or_else(|_| vec![f64::NAN]);
    sums.into_iter().sum::<f64>().sqrt()
}

impl<O: Optimizer> Stepper for FirstOrder<O> {
    fn name(&self) -> &'static str {
        self.opt.name()
    }

    fn step(&mut self, obj: &mut dyn Objective) -> Result<StepReport> {
        let t0 = Instant::now();
        self.opt.zero_grad();
        let (logits, _) = obj.forward(false)?;
        let loss = mean_ce(&logits, obj.targets());
        loss.backward();
        let report = StepReport {
            loss: loss.double_value(&[]),
            grad_norm: grad_norm(&self.params),
            time_fwd_bwd_ms: t0.elapsed().as_secs_f64() * 1e3,
            ..StepReport::default()
        };
        self.opt.step()?;
        self.opt.zero_grad();
        Ok(report)
    }

    fn steps_done(&self) -> u64 {
        self.opt.steps_done()
    }

    fn set_lr(&mut self, lr: f64) {
        self.opt.set_lr(lr)
    }

    fn state_dict(&self) -> Result<StateDict> {
        self.opt.state_dict()
    }

    fn load_state_dict(&mut self, state: &StateDict) -> Result<()> {
        self.opt.load_state_dict(state)
    }
}
