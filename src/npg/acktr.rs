//! `acktr` (spec §3.7): A2C whose actor step is a K-FAC natural gradient inside a KL trust
//! region, with the values of the reference PyTorch implementation (ikostrikov's
//! pytorch-a2c-ppo-acktr `KFACOptimizer`): lr 0.25, momentum 0.9, factor EMA 0.99, KL clip
//! 0.001, damping 1e-2, eigendecompositions every 10 steps. The critic is the shared one of
//! §3.1 (separate network, Adam), so ACKTR differs from the others only in the actor step.
//!
//! Reading order: [`super::acktr_stats`] (the sampled-Fisher statistics: each layer's inputs
//! and the errors of `Σᵢ −log π(ãᵢ|sᵢ)`, ãᵢ drawn from the current policy), then [`Acktr::step`]:
//! factor EMA ([`Acktr::update_factors`]), inverse refresh ([`Acktr::refresh_inverses`]),
//! `v = (G ⊗ A + λI)⁻¹ ∇L` per layer ([`Acktr::precondition`]), the KL-clip scale
//! `ν = min(1, √(κ / (η² vᵀ∇L)))` and SGD with momentum. The Kronecker algebra is the shared
//! optimizer library's ([`crate::optim::kfac`]); this file maps npg's flat θ onto its layers.
//!
//! Layers: every MLP layer (weight `[out, in]` row-major then bias, as the flat layout, with the
//! bias as A's extra ones column), and for Gaussian policies the log-std as a layer whose input
//! is the constant 1 (the reference's `AddBias`), so every parameter is preconditioned.
use super::backend::Policy;
use super::optim_actor::Objective;
use super::rank1::{dot, norm};
use super::update::ActorStats;
use crate::optim::kfac::factors::{batch_factors, Factors};
use crate::optim::kfac::{kl_clip_scale, DampingScheme, InverseMethod, Inverses, LayerPlan};
use anyhow::{ensure, Context, Result};
use ndarray::Array2;
use rand_chacha::ChaCha8Rng;
use tch::Tensor;

mod state;
pub use state::AcktrState;

/// The `algo:` keys of `kind: acktr` (defaults in configs/npg-rank1/acktr.yaml).
#[derive(Clone, Debug)]
pub struct AcktrSettings {
    /// η: the KL clip's learning rate; SGD runs at η(1 − μ) (the reference's convention).
    pub actor_lr: f64,
    pub momentum: f64,
    /// EMA decay of A and G (the first statistics initialise them).
    pub stat_decay: f64,
    /// κ of the KL clip.
    pub kl_clip: f64,
    /// λ in `(G ⊗ A + λI)⁻¹` (`exact_eigen`) or split over the factors (`factored`).
    pub damping: f64,
    pub damping_scheme: DampingScheme,
    /// Eigendecompositions every this many steps.
    pub inverse_every: usize,
    /// Factor statistics every this many steps.
    pub stats_every: usize,
    pub ent_coef: f64,
}

/// One layer's statistics from a sampled-Fisher backward: inputs `[N, d_in]` (no ones column)
/// and errors `∂(Σᵢ −log π(ãᵢ|sᵢ))/∂zᵢ` `[N, d_out]` at its pre-activation.
#[derive(Clone, Debug)]
pub struct LayerStats {
    pub input: Array2<f64>,
    pub errors: Array2<f64>,
}

/// The sampled actions ãᵢ (stored form) and every layer's statistics, in θ order.
#[derive(Clone, Debug)]
pub struct FisherStats {
    pub actions: Vec<f64>,
    pub layers: Vec<LayerStats>,
}

/// One preconditioned block of θ.
#[derive(Debug)]
struct Layer {
    plan: LayerPlan,
    /// Start of its weight in the flat θ (its bias follows the weight).
    offset: usize,
    factors: Option<Factors>,
    inv: Option<Inverses>,
    /// The factors the inverses were computed from (checkpoints rebuild `inv` from them).
    inv_from: Option<Factors>,
}

/// ACKTR's actor optimiser state.
#[derive(Debug)]
pub struct Acktr {
    pub settings: AcktrSettings,
    layers: Vec<Layer>,
    momentum: Vec<f64>,
    steps: u64,
}

fn tensor(a: &Array2<f64>) -> Tensor {
    let (r, c) = a.dim();
    Tensor::from_slice(a.as_standard_layout().as_slice().expect("contiguous"))
        .view([r as i64, c as i64])
}

fn to_vec(t: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(&t.contiguous().view([-1])).expect("f64 tensor")
}

impl Acktr {
    /// Layers of an MLP with widths `sizes` and `log_std_len` log-std parameters after it.
    pub fn new(settings: AcktrSettings, sizes: &[usize], log_std_len: usize) -> Acktr {
        let mut layers = Vec::new();
        let mut offset = 0;
        for (l, w) in sizes.windows(2).enumerate() {
            let plan = LayerPlan {
                layer: format!("l{l}"),
                weight: format!("l{l}.weight"),
                bias: Some(format!("l{l}.bias")),
                d_in: w[0] as i64,
                d_out: w[1] as i64,
            };
            layers.push(Layer::new(plan, offset));
            offset += (w[0] + 1) * w[1];
        }
        if log_std_len > 0 {
            let plan = LayerPlan {
                layer: "log_std".into(),
                weight: "log_std.weight".into(),
                bias: None,
                d_in: 1,
                d_out: log_std_len as i64,
            };
            layers.push(Layer::new(plan, offset));
            offset += log_std_len;
        }
        Acktr {
            settings,
            layers,
            momentum: vec![0.0; offset],
            steps: 0,
        }
    }

    /// Steps taken.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Each layer's running (A, G), copies; None before the first statistics.
    pub fn layer_factors(&self) -> Vec<Option<(Tensor, Tensor)>> {
        let f = |l: &Layer| l.factors.as_ref().map(|f| (f.a.copy(), f.g.copy()));
        self.layers.iter().map(f).collect()
    }

    /// EMA of each layer's factors with this batch's `A = E[[a;1][a;1]ᵀ]`, `G = E[e eᵀ]` (the
    /// first batch initialises them, as the reference). Returns false, changing nothing, when a
    /// new factor is not finite or has an entry beyond ±[`MAX_FACTOR`].
    pub fn update_factors(&mut self, stats: &FisherStats) -> Result<bool> {
        ensure!(
            stats.layers.len() == self.layers.len(),
            "acktr: statistics of {} layers for {} K-FAC layers",
            stats.layers.len(),
            self.layers.len()
        );
        let beta = self.settings.stat_decay;
        let mut new = Vec::with_capacity(self.layers.len());
        for (l, s) in self.layers.iter().zip(&stats.layers) {
            let n = s.input.nrows() as i64;
            let batch = batch_factors(&l.plan, &tensor(&s.input), &tensor(&s.errors), n)?;
            let f = match &l.factors {
                Some(old) => old.ema(&batch, beta),
                None => batch,
            };
            if !usable(&f) {
                return Ok(false);
            }
            new.push(f);
        }
        for (l, f) in self.layers.iter_mut().zip(new) {
            l.factors = Some(f);
        }
        Ok(true)
    }

    /// Eigendecompositions of every layer's current factors (the library's [`Inverses`]).
    pub fn refresh_inverses(&mut self) -> Result<()> {
        for l in &mut self.layers {
            let f = l
                .factors
                .as_ref()
                .context("acktr: inverses before any statistics")?;
            l.inv = Some(Inverses::compute(InverseMethod::Eigen, &f.a, &f.g)?);
            l.inv_from = Some(Factors {
                a: f.a.copy(),
                g: f.g.copy(),
            });
        }
        Ok(())
    }

    /// The layer's block of a flat vector as `(d_out, cols)`: `[W | b]`.
    fn block(l: &Layer, flat: &[f64]) -> Tensor {
        let (o, i) = (l.plan.d_out, l.plan.d_in);
        let w_end = l.offset + (o * i) as usize;
        let w = Tensor::from_slice(&flat[l.offset..w_end]).view([o, i]);
        match l.plan.bias {
            Some(_) => {
                let b = Tensor::from_slice(&flat[w_end..w_end + o as usize]).view([o, 1]);
                Tensor::cat(&[w, b], 1)
            }
            None => w,
        }
    }

    /// Per layer `(G ⊗ A + λI)⁻¹ vec(∇L)` (or the factored damping) at the last inverses.
    pub fn precondition(&self, loss_grad: &[f64]) -> Result<Vec<f64>> {
        ensure!(
            loss_grad.len() == self.momentum.len(),
            "acktr: {} gradient entries for {} parameters",
            loss_grad.len(),
            self.momentum.len()
        );
        let _guard = tch::no_grad_guard();
        let mut out = vec![0.0; loss_grad.len()];
        for l in &self.layers {
            let inv = l.inv.as_ref().context("acktr: no factor inverses yet")?;
            let v = Self::block(l, loss_grad); // (d_out, cols)
            let u = inv.precondition(&v, self.settings.damping, self.settings.damping_scheme);
            let (o, i) = (l.plan.d_out, l.plan.d_in);
            let w = to_vec(&u.narrow(1, 0, i));
            out[l.offset..l.offset + w.len()].copy_from_slice(&w);
            if l.plan.bias.is_some() {
                let at = l.offset + (o * i) as usize;
                out[at..at + o as usize].copy_from_slice(&to_vec(&u.select(1, i)));
            }
        }
        Ok(out)
    }

    /// One ACKTR actor step on a minibatch; `rng` draws the sampled-Fisher actions.
    pub fn step<P: Policy>(
        &mut self,
        actor: &mut P,
        mb: &P::Batch,
        rng: &mut ChaCha8Rng,
    ) -> Result<ActorStats> {
        let s = self.settings.clone();
        // Ascent direction g = ∇[mean(Â·ρ) + c_H·mean H]; K-FAC works on the loss ∇L = −g.
        let g = actor.objective_grad(mb, Objective::Surrogate, s.ent_coef).0;
        let loss_grad: Vec<f64> = g.iter().map(|x| -x).collect();
        let mut stats = ActorStats {
            g_norm: norm(&g),
            ..ActorStats::default()
        };
        // Skipped (θ, momentum and factors unchanged, the counter advanced, damping kept):
        // non-finite statistics, a non-finite step, or no statistics yet to precondition with.
        let skip = |mut stats: ActorStats| {
            stats.skipped = true;
            Ok(stats)
        };
        let first = self.layers[0].factors.is_none();
        let (stats_due, inverse_due) = (
            self.steps.is_multiple_of(s.stats_every as u64) || first,
            self.steps.is_multiple_of(s.inverse_every as u64),
        );
        if stats_due && !self.update_factors(&actor.fisher_stats(mb, rng)?)? {
            self.steps += 1;
            return skip(stats);
        }
        if inverse_due || self.layers[0].inv.is_none() {
            self.refresh_inverses()?;
        }
        self.steps += 1;
        let v = self.precondition(&loss_grad)?;
        let (vg, v_norm) = (dot(&v, &loss_grad), norm(&v));
        if !(vg.is_finite() && v_norm.is_finite()) {
            return skip(stats);
        }
        // ν = min(1, √(κ / (η² vᵀ∇L))) (§3.7), then b ← μb + νv, θ ← θ − η(1 − μ)b.
        let nu = kl_clip_scale(Some(s.kl_clip), s.actor_lr, vg);
        let lr = s.actor_lr * (1.0 - s.momentum);
        let b: Vec<f64> = (self.momentum.iter().zip(&v))
            .map(|(b, x)| s.momentum * b + nu * x)
            .collect();
        let delta: Vec<f64> = b.iter().map(|b| -lr * b).collect();
        if !norm(&delta).is_finite() {
            return skip(stats);
        }
        self.momentum = b;
        actor.add_flat(&delta)?;
        stats.d_norm = Some(v_norm);
        stats.g_dot_d = Some(vg);
        stats.step_size = nu * s.actor_lr;
        stats.update_norm = norm(&delta);
        stats.clipped = nu < 1.0;
        Ok(stats)
    }
}

/// The largest magnitude a factor entry may have: the eigenvalues of `G ⊗ A` are products of
/// the two factors' (each at most `n·MAX_FACTOR`), which stay finite under it. A run's new
/// factors beyond it are skipped as non-finite ones are; a checkpoint's are refused.
pub const MAX_FACTOR: f64 = 1e100;

/// Whether a factor pair may enter the EMA: finite, every entry within ±[`MAX_FACTOR`].
fn usable(f: &Factors) -> bool {
    let within = |t: &Tensor| t.abs().max().double_value(&[]) <= MAX_FACTOR;
    f.is_finite() && within(&f.a) && within(&f.g)
}

impl Layer {
    fn new(plan: LayerPlan, offset: usize) -> Layer {
        Layer {
            plan,
            offset,
            factors: None,
            inv: None,
            inv_from: None,
        }
    }
}
