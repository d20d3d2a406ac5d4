//! `inverse: newton` — the damped factor inverses of grng spec §2.2 step 3 / §2.3 step 3 by
//! Newton–Schulz iteration ([`crate::optim::curvature::damped_inverse`], §1.4) instead of an
//! eigendecomposition. Unlike eigenpairs, an inverse `X ≈ (M + δI)⁻¹` is tied to one damping δ,
//! so [`NewtonInv`] keeps `(X_A, X_G)` together with the `(δ_A, δ_G)` and the split ratio π they
//! were computed for (factored damping only, §1.3).
//!
//! * Refresh (every `t_inv` steps): `X_A ≈ (A + δ_A I)⁻¹`, `X_G ≈ (G + δ_G I)⁻¹` warm-started
//!   from the stored X after shifting it to the new damping (§1.5), cold (`I / tr M`) the
//!   first time.
//! * Between refreshes with a changed damping (RING every step; any kind after a non-finite
//!   skip raised the damping): the **explicit** matrix-differential update
//!   `X ← X − ΔX² + Δ²X³` of §1.5 (second order, [`LAZY_ORDER`]) with its guard
//!   `|Δ|·‖X‖₂ ≤ ½`. When the guard fails, §1.5 runs Newton iterations on `M + δ'I` from X,
//!   where M is the matrix X inverts (only the damping changed, the lazy Fisher): their limit
//!   `(X⁻¹ + ΔI)⁻¹` is the series summed to all orders, `λ/(1 + Δλ)` in X's eigenbasis, which
//!   is taken directly ([`EigenForm::exactly_shifted`]). The factors' newer statistics enter at
//!   the next refresh, as on every other lazy step. (Newton on the *current* factor instead
//!   cost a 2k³ refine and a k³ eigendecomposition per failed guard; RING's guard fails for
//!   ~1 factor-step in 6 over an mlp-digits run and 1 in 3 late in it, whose mean step was
//!   then 3.3 ms against a median of 1.4.)
//!   Only when the exact shift does not exist (a `1 + Δλ ≤ 0`) is the factor re-inverted
//!   from its current value. Each guard failure counts in `StepReport.lazy_guard_fallbacks`.
//!   With constant damping (K-FAC, RENG) X is reused as is.
//!
//! Each X is kept as its eigendecomposition `Q diag(λ) Qᵀ` ([`EigenForm`], taken once per
//! refresh from the Newton result), so the §1.5 update is the same polynomial applied to the
//! eigenvalues, `λ ← λ − Δλ² + Δ²λ³`, and its guard uses the exact `‖X‖₂ = max λ`: a lazy step
//! forms no product at all (not X², X³, nor X: RING preconditions through the eigenbases,
//! [`NewtonInv::precondition`]) and needs no norm estimate. The state holds Q and λ, so a
//! resumed run continues bit for bit; states of the older dense form (X itself) still load
//! (their X is decomposed once).
//!
//! Why explicit rather than the implicit product of the §2.3 note: the stored X then always is
//! the inverse at the damping stored next to it, so state save/load is just (X, δ) and the next
//! refresh needs no catch-up correction; the guard sees every change (RING's δ_k = λ0 + ρ‖g‖²
//! can move by orders of magnitude in a step, where an unguarded first-order product is not
//! even positive definite); and in the eigenform it costs nothing beyond the elementwise
//! polynomial on λ.
//!
//! Why second order (the spec's optional form) rather than the default first order: the
//! first-order error `+Δ²X³` is positive semidefinite whatever the sign of Δ, so it builds up
//! over the lazy steps; on a small MLP whose RING damping moved ~2× per step, the stored X was
//! 25% off the exact damped inverse after 7 steps. The second-order error `−Δ³X⁴` changes sign
//! with Δ and stayed ≤ 3% over 11 steps (`grng_newton` asserts < 5%), for one more product.
use super::precondition::{memoized, split_ratio, Memo};
use crate::optim::curvature::{damped_inverse, symmetrize, NewtonOptions};
use anyhow::{Context, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tch::{Kind, Tensor};

/// Order of the lazy §1.5 update (see the module doc: the first-order error `+Δ²X³` has one
/// sign and builds up over RING's lazy steps; the second-order one alternates with Δ).
pub const LAZY_ORDER: crate::optim::curvature::ShiftOrder =
    crate::optim::curvature::ShiftOrder::Second;

/// A symmetric positive definite inverse `X = Q diag(λ) Qᵀ`: `q` `(d, d)` f64, `lam` (d) on
/// the host (the §1.5 update and its guard are elementwise).
#[derive(Debug)]
pub struct EigenForm {
    pub q: Tensor,
    pub lam: Vec<f64>,
    /// `q` was found finite (a shift reuses `q`, so its check is not repeated every step).
    q_finite: AtomicBool,
    /// `q` in the gradients' kind, cast once per eigenbasis (shared by its shifts).
    q_cast: Arc<Memo<Kind, 1>>,
}

impl EigenForm {
    /// Eigendecomposition of the symmetrized `x` `(d, d)` (f64).
    pub fn of(x: &Tensor) -> Result<EigenForm> {
        let x = symmetrize(&x.to_kind(Kind::Double));
        let (lam, q) = x
            .f_linalg_eigh("L")
            .context("eigendecomposition of a Newton inverse")?;
        let lam = Vec::<f64>::try_from(&lam.to_device(tch::Device::Cpu))?;
        Ok(EigenForm::new(q, lam))
    }

    /// `Q diag(λ) Qᵀ` from its parts (`q` `(d, d)` f64). Q is kept contiguous (eigh returns it
    /// column-major, a loaded state row-major), so that the products, and their last bits, do
    /// not depend on where Q came from: a resumed run repeats the uninterrupted one.
    pub fn new(q: Tensor, lam: Vec<f64>) -> EigenForm {
        EigenForm {
            q: q.contiguous(),
            lam,
            q_finite: AtomicBool::new(false),
            q_cast: Arc::new(Mutex::new(None)),
        }
    }

    /// Q in `kind` (cast once per eigenbasis).
    pub fn q_in(&self, kind: Kind) -> Tensor {
        if kind == self.q.kind() {
            return self.q.shallow_clone();
        }
        let [q] = memoized(&self.q_cast, kind, || [self.q.to_kind(kind)]);
        q
    }

    /// λ as a `(d)` tensor of `kind` on Q's device.
    pub fn lam_in(&self, kind: Kind) -> Tensor {
        Tensor::from_slice(&self.lam)
            .to_device(self.q.device())
            .to_kind(kind)
    }

    /// `Q diag(λ) Qᵀ` `(d, d)`.
    pub fn dense(&self) -> Tensor {
        let lam = Tensor::from_slice(&self.lam).to_device(self.q.device());
        (&self.q * lam.unsqueeze(0)).matmul(&self.q.transpose(0, 1))
    }

    /// `‖X‖₂` (X is symmetric: the largest |λ|).
    pub fn norm(&self) -> f64 {
        self.lam.iter().fold(0.0, |m, l| m.max(l.abs()))
    }

    /// §1.5: X at damping δ + Δ, `λ − Δλ²` (first order) or `λ − Δλ² + Δ²λ³` (second), in
    /// the same eigenbasis; `None` when the guard `|Δ|·‖X‖₂ ≤ ½` fails (or Δ is not finite).
    pub fn shifted(&self, change: f64, order: crate::optim::curvature::ShiftOrder) -> Option<Self> {
        if !change.is_finite() || change.abs() * self.norm() > 0.5 {
            return None;
        }
        let second = order == crate::optim::curvature::ShiftOrder::Second;
        let lam = (self.lam.iter())
            .map(|&l| {
                let first = l - change * l * l;
                if second {
                    first + change * change * l * l * l
                } else {
                    first
                }
            })
            .collect();
        Some(self.with_eigenvalues(lam))
    }

    /// X at damping δ + Δ summed to all orders, `λ / (1 + Δλ)`: the inverse of the matrix X
    /// inverts, `X⁻¹ − δI`, at the new damping. `None` when a `1 + Δλ` is not positive.
    pub fn exactly_shifted(&self, change: f64) -> Option<Self> {
        let lam: Vec<f64> = (self.lam.iter()).map(|&l| l / (1.0 + change * l)).collect();
        let ok =
            self.lam.iter().all(|&l| 1.0 + change * l > 0.0) && lam.iter().all(|l| l.is_finite());
        ok.then(|| self.with_eigenvalues(lam))
    }

    /// The same eigenbasis (and its finiteness check) with eigenvalues `lam`.
    fn with_eigenvalues(&self, lam: Vec<f64>) -> EigenForm {
        EigenForm {
            q: self.q.shallow_clone(),
            lam,
            q_finite: AtomicBool::new(self.q_finite.load(Ordering::Relaxed)),
            q_cast: Arc::clone(&self.q_cast),
        }
    }

    /// λ and Q all finite (Q is checked once per eigenbasis).
    pub fn is_finite(&self) -> bool {
        if !self.lam.iter().all(|l| l.is_finite()) {
            return false;
        }
        if self.q_finite.load(Ordering::Relaxed) {
            return true;
        }
        let finite = tch::no_grad(|| self.q.isfinite().all().int64_value(&[])) != 0;
        self.q_finite.store(finite, Ordering::Relaxed);
        finite
    }
}

/// A layer's Newton–Schulz inverses and the damping they belong to.
#[derive(Debug)]
pub struct NewtonInv {
    /// `X_A ≈ (A + δ_A I)⁻¹` in its eigenbasis.
    pub a: EigenForm,
    /// `X_G ≈ (G + δ_G I)⁻¹` in its eigenbasis.
    pub g: EigenForm,
    pub delta_a: f64,
    pub delta_g: f64,
    /// π of the refresh (§1.3): `(δ_A, δ_G) = (π√δ, √δ/π)` for every δ until the next refresh.
    pub pi: f64,
    /// kind → `[X_A, X_G]` formed in the gradients' kind on first use (inverses that serve many
    /// steps at one damping).
    dense: Memo<Kind, 2>,
}

/// Newton work of one step, summed over layers.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct NewtonStats {
    /// Iterations of the refreshes (none when no layer was refreshed).
    pub iters: u32,
    /// Largest `‖I − (M + δI)X‖_F` after a refresh.
    pub resid_max: f64,
    pub refreshed: bool,
    /// Lazy updates whose §1.5 guard failed.
    pub guard_fallbacks: u32,
    /// Of those, the ones without an exact shift (a `1 + Δλ ≤ 0`: X was not the inverse of a
    /// positive semidefinite matrix plus the damping), re-inverted from the current factor.
    pub reinversions: u32,
}

impl NewtonInv {
    /// From the two eigenforms, for use at this damping over many steps.
    pub fn new(a: EigenForm, g: EigenForm, delta_a: f64, delta_g: f64, pi: f64) -> NewtonInv {
        NewtonInv {
            a,
            g,
            delta_a,
            delta_g,
            pi,
            dense: Mutex::new(None),
        }
    }

    /// `X_A = Q_A diag(λ_A) Q_Aᵀ` `(cols, cols)` f64.
    pub fn xa(&self) -> Tensor {
        self.a.dense()
    }

    /// `X_G` `(d_out, d_out)` f64.
    pub fn xg(&self) -> Tensor {
        self.g.dense()
    }

    /// Refresh for damping `delta` from factors A `(cols, cols)` and G `(d_out, d_out)`,
    /// warm-started from `prev` (shifted to the new damping) when given.
    pub fn refresh(
        a: &Tensor,
        g: &Tensor,
        delta: f64,
        prev: Option<&NewtonInv>,
        opts: &NewtonOptions,
        stats: &mut NewtonStats,
    ) -> Result<NewtonInv> {
        let (a, g) = (a.to_kind(Kind::Double), g.to_kind(Kind::Double));
        let pi = split_ratio(mean_trace(&a), mean_trace(&g));
        let (delta_a, delta_g) = super::precondition::factored_split(delta, pi);
        let first = crate::optim::curvature::ShiftOrder::First;
        let warm = |e: &EigenForm, old: f64, new: f64| {
            // §2.3 step 3: correct to the new damping first; if the guard fails, X as it is.
            e.shifted(new - old, first)
                .map_or_else(|| e.dense(), |s| s.dense())
        };
        let warm_a = prev.map(|p| warm(&p.a, p.delta_a, delta_a));
        let warm_g = prev.map(|p| warm(&p.g, p.delta_g, delta_g));
        let inv_a = damped_inverse(&a, delta_a, warm_a.as_ref(), opts)?;
        let inv_g = damped_inverse(&g, delta_g, warm_g.as_ref(), opts)?;
        stats.refreshed = true;
        stats.iters += inv_a.iters + inv_g.iters;
        stats.resid_max = stats.resid_max.max(inv_a.resid).max(inv_g.resid);
        let (ea, eg) = (EigenForm::of(&inv_a.x)?, EigenForm::of(&inv_g.x)?);
        Ok(NewtonInv::new(ea, eg, delta_a, delta_g, pi))
    }

    /// The inverses at damping `delta` (split with the stored π): `None` when that is the
    /// stored damping, else the §1.5 lazy update of both factors (see the module doc). `a`, `g`
    /// are the current factors, used only when the guard fails.
    pub fn at_damping(
        &self,
        delta: f64,
        a: &Tensor,
        g: &Tensor,
        opts: &NewtonOptions,
        stats: &mut NewtonStats,
    ) -> Result<Option<NewtonInv>> {
        let (delta_a, delta_g) = super::precondition::factored_split(delta, self.pi);
        if delta_a == self.delta_a && delta_g == self.delta_g {
            return Ok(None);
        }
        let ea = lazy_shift(&self.a, a, self.delta_a, delta_a, opts, stats)?;
        let eg = lazy_shift(&self.g, g, self.delta_g, delta_g, opts, stats)?;
        Ok(Some(NewtonInv::new(ea, eg, delta_a, delta_g, self.pi)))
    }

    /// `U = X_G v X_A` for the layer gradient `v` `(d_out, cols)`, in v's kind.
    /// `through_eigenbases` (a damping that moves every step, RING): `Q_G (λ_Gλ_Aᵀ ⊙ Q_Gᵀ v
    /// Q_A) Q_Aᵀ`, four products of v's size instead of forming X_A and X_G (k³ each), never
    /// more flops; otherwise X is formed once and each step takes two products. The route
    /// depends on the config only, so a resumed run takes the same one.
    pub fn precondition(&self, v: &Tensor, through_eigenbases: bool) -> Tensor {
        let kind = v.kind();
        if through_eigenbases {
            let (qa, qg) = (self.a.q_in(kind), self.g.q_in(kind));
            let scale = self.g.lam_in(kind).unsqueeze(1) * self.a.lam_in(kind).unsqueeze(0);
            let inner = qg.transpose(0, 1).matmul(&v.matmul(&qa)) * scale; // (d_out, cols)
            return qg.matmul(&inner.matmul(&qa.transpose(0, 1)));
        }
        let (xa, xg) = self.dense_in(kind);
        xg.matmul(&v.matmul(&xa)) // (d_out, cols)
    }

    /// X_A and X_G in `kind`, formed (f64, then cast) on first use.
    fn dense_in(&self, kind: Kind) -> (Tensor, Tensor) {
        let [xa, xg] = memoized(&self.dense, kind, || {
            [self.xa().to_kind(kind), self.xg().to_kind(kind)]
        });
        (xa, xg)
    }

    /// `[δ_A, δ_G, π]` as a `(3)` f64 tensor (for the optimizer state).
    pub fn damping_tensor(&self) -> Tensor {
        Tensor::from_slice(&[self.delta_a, self.delta_g, self.pi])
    }

    /// Rebuild from Q_A, λ_A, Q_G, λ_G and [`NewtonInv::damping_tensor`], f64 on `like`'s
    /// device.
    pub fn from_parts(e: [&Tensor; 4], damping: &Tensor, like: &Tensor) -> Result<NewtonInv> {
        let f = |x: &Tensor| x.to_device(like.device()).to_kind(Kind::Double);
        let vals =
            |x: &Tensor| Vec::<f64>::try_from(&x.to_kind(Kind::Double).to_device(tch::Device::Cpu));
        let ea = EigenForm::new(f(e[0]), vals(e[1])?);
        let eg = EigenForm::new(f(e[2]), vals(e[3])?);
        let (da, dg, pi) = damping_parts(damping);
        Ok(NewtonInv::new(ea, eg, da, dg, pi))
    }

    /// Rebuild from a state of the dense form (X_A, X_G and the damping tensor), decomposing
    /// each X once.
    pub fn from_dense(
        xa: &Tensor,
        xg: &Tensor,
        damping: &Tensor,
        like: &Tensor,
    ) -> Result<NewtonInv> {
        let f = |x: &Tensor| x.to_device(like.device()).to_kind(Kind::Double);
        let (ea, eg) = (EigenForm::of(&f(xa))?, EigenForm::of(&f(xg))?);
        let (da, dg, pi) = damping_parts(damping);
        Ok(NewtonInv::new(ea, eg, da, dg, pi))
    }

    /// Eigenforms and damping all finite.
    pub fn is_finite(&self) -> bool {
        [self.delta_a, self.delta_g, self.pi]
            .iter()
            .all(|x| x.is_finite())
            && self.a.is_finite()
            && self.g.is_finite()
    }
}

fn damping_parts(damping: &Tensor) -> (f64, f64, f64) {
    let d = damping.to_kind(Kind::Double);
    (
        d.double_value(&[0]),
        d.double_value(&[1]),
        d.double_value(&[2]),
    )
}

/// X at damping `new` from `e` at `old`: the §1.5 update inside its guard, else X shifted
/// exactly (see the module doc); re-inverted from the current factor `m` only when no exact
/// shift exists.
fn lazy_shift(
    e: &EigenForm,
    m: &Tensor,
    old: f64,
    new: f64,
    opts: &NewtonOptions,
    stats: &mut NewtonStats,
) -> Result<EigenForm> {
    if let Some(shifted) = e.shifted(new - old, LAZY_ORDER) {
        return Ok(shifted);
    }
    stats.guard_fallbacks += 1;
    if let Some(exact) = e.exactly_shifted(new - old) {
        return Ok(exact);
    }
    stats.reinversions += 1;
    let x = e.dense();
    EigenForm::of(&damped_inverse(&m.to_kind(Kind::Double), new, Some(&x), opts)?.x)
}

/// tr(M) / dim M.
fn mean_trace(m: &Tensor) -> f64 {
    m.trace().double_value(&[]) / m.size()[0].max(1) as f64
}
