//! Factor inverses and the preconditioned direction U = G⁻¹ ∇W A⁻¹ (grng spec §1.2, §1.3).
//!
//! [`Inverses`] is what a refresh every `t_inv` steps produces; its variant is the inverse
//! method. `Eigen` keeps both factors' eigenpairs (f64, eigenvalues < 1e-10 zeroed), so the
//! damped inverse `(M + δI)⁻¹ = Q diag(1/(d + δ)) Qᵀ` is exact for *any* δ: RING's per-step
//! damping needs no re-inversion; [`EigenInv`] also keeps π and, per damping, the factored
//! damped inverses (two products a step) or the exact_eigen denominator (four and a division). `Newton` keeps Newton–Schulz
//! inverses tied to one damping ([`super::newton`]); [`Inverses::refresh`] computes either.
use super::config::{DampingScheme, InverseMethod};
use super::newton::{NewtonInv, NewtonStats};
use crate::optim::curvature::NewtonOptions;
use anyhow::{bail, Context, Result};
use std::sync::Mutex;
use tch::{Kind, Tensor};

/// Eigenvalues below this are set to 0 (alecwangcq/KFAC-Pytorch).
pub const EIG_FLOOR: f64 = 1e-10;

/// The last tensors made, with the key they were made for.
pub(super) type Memo<K, const N: usize> = Mutex<Option<(K, [Tensor; N])>>;

/// The tensors `memo` holds for `key`, else `make()`'s, kept there in place of the old ones.
pub(super) fn memoized<K: PartialEq, const N: usize>(
    memo: &Memo<K, N>,
    key: K,
    make: impl FnOnce() -> [Tensor; N],
) -> [Tensor; N] {
    let mut slot = memo.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((k, t)) = slot.as_ref() {
        if *k == key {
            return t.each_ref().map(Tensor::shallow_clone);
        }
    }
    let t = make();
    *slot = Some((key, t.each_ref().map(Tensor::shallow_clone)));
    t
}

/// A symmetric matrix's eigenpairs: `M = Q diag(d) Qᵀ`, f64.
#[derive(Debug)]
pub struct Eigh {
    pub q: Tensor,
    pub d: Tensor,
}

impl Eigh {
    /// Eigendecomposition of ½(M + Mᵀ) in f64; eigenvalues below [`EIG_FLOOR`] become 0.
    pub fn of(m: &Tensor) -> Result<Eigh> {
        let m = m.to_kind(Kind::Double);
        let sym = (&m + m.transpose(0, 1)) * 0.5;
        let (d, q) = sym
            .f_linalg_eigh("L")
            .context("K-FAC factor eigendecomposition")?;
        let d = &d * d.ge(EIG_FLOOR).to_kind(Kind::Double);
        // eigh returns Q column-major; a loaded Q is row-major, and libtorch's MKL may round a
        // product differently for the two layouts: contiguous keeps a resume bit for bit.
        Ok(Eigh {
            q: q.contiguous(),
            d,
        })
    }

    /// tr(M) / dim, from the (floored) eigenvalues.
    pub fn mean_eigenvalue(&self) -> f64 {
        self.d.mean(Kind::Double).double_value(&[])
    }
}

/// A layer's factor inverses, by method.
#[derive(Debug)]
pub enum Inverses {
    Eigen(EigenInv),
    Newton(NewtonInv),
}

/// Both factors' eigenpairs, with what every step's preconditioning derives from them: π
/// (fixed until the next refresh) and the last damping's damped inverses or denominator (speed
/// only: the damping is constant between refreshes except for RING and non-finite skips).
#[derive(Debug)]
pub struct EigenInv {
    pub a: Eigh,
    pub g: Eigh,
    pi: f64,
    /// δ → the denominator `(d_out, cols)` of the last exact_eigen [`Inverses::precondition`].
    denom: Memo<f64, 1>,
    /// (δ, kind) → `[(G + δ_G I)⁻¹, (A + δ_A I)⁻¹]` of the last factored one: formed in f64,
    /// kept in the kind of the gradients they precondition.
    damped: Memo<(f64, Kind), 2>,
}

impl EigenInv {
    pub fn new(a: Eigh, g: Eigh) -> EigenInv {
        let pi = split_ratio(a.mean_eigenvalue(), g.mean_eigenvalue());
        EigenInv {
            a,
            g,
            pi,
            denom: Mutex::new(None),
            damped: Mutex::new(None),
        }
    }

    /// The exact_eigen divisor `d_G d_Aᵀ + δ` `(d_out, cols)` of `Q_Gᵀ v Q_A` (§1.3),
    /// recomputed only when δ changes.
    fn denominator(&self, delta: f64) -> Tensor {
        let [denom] = memoized(&self.denom, delta, || {
            [self.g.d.unsqueeze(1) * self.a.d.unsqueeze(0) + delta] // (d_out, cols)
        });
        denom
    }

    /// The factored damped inverses `(G + √δ/π I)⁻¹ = Q_G diag(1/(d_G + √δ/π)) Q_Gᵀ` and
    /// `(A + π√δ I)⁻¹` (§1.3), formed once per δ: the factored divisor is an outer product, so
    /// `Q_G((Q_Gᵀ v Q_A) ⊘ D)Q_Aᵀ` equals `(G + δ_G I)⁻¹ v (A + δ_A I)⁻¹`, two products a
    /// step instead of four. Formed in f64, returned in `kind`.
    fn damped_inverses(&self, delta: f64, kind: Kind) -> (Tensor, Tensor) {
        let [g, a] = memoized(&self.damped, (delta, kind), || {
            let (da, dg) = factored_split(delta, self.pi);
            let inverse = |e: &Eigh, shift: f64| {
                (&e.q * (&e.d + shift).reciprocal().unsqueeze(0))
                    .matmul(&e.q.transpose(0, 1))
                    .to_kind(kind)
            };
            [inverse(&self.g, dg), inverse(&self.a, da)]
        });
        (g, a)
    }
}

impl Inverses {
    /// Eigen refresh from the current factors A `(cols, cols)` and G `(d_out, d_out)`
    /// (`newton` needs the damping and a warm start: use [`Inverses::refresh`]).
    pub fn compute(method: InverseMethod, a: &Tensor, g: &Tensor) -> Result<Inverses> {
        match method {
            InverseMethod::Eigen => Ok(Inverses::Eigen(EigenInv::new(Eigh::of(a)?, Eigh::of(g)?))),
            InverseMethod::Newton => {
                bail!("Inverses::compute: `inverse: newton` needs the damping (use refresh)")
            }
        }
    }

    /// Refresh by `method` for this step's damping `delta` (used by `newton` only), warm-started
    /// from `prev` (newton); Newton work is added to `stats`.
    pub fn refresh(
        method: InverseMethod,
        a: &Tensor,
        g: &Tensor,
        delta: f64,
        prev: Option<&Inverses>,
        opts: &NewtonOptions,
        stats: &mut NewtonStats,
    ) -> Result<Inverses> {
        match method {
            InverseMethod::Eigen => Inverses::compute(method, a, g),
            InverseMethod::Newton => {
                let warm = match prev {
                    Some(Inverses::Newton(n)) => Some(n),
                    _ => None,
                };
                let inv = NewtonInv::refresh(a, g, delta, warm, opts, stats)?;
                Ok(Inverses::Newton(inv))
            }
        }
    }

    /// The inverses at damping `delta` when they must change for it (newton between refreshes,
    /// §1.5); `None` when these serve as they are (eigen always). `a`, `g`: current factors.
    pub fn at_damping(
        &self,
        delta: f64,
        a: &Tensor,
        g: &Tensor,
        opts: &NewtonOptions,
        stats: &mut NewtonStats,
    ) -> Result<Option<Inverses>> {
        match self {
            Inverses::Eigen(_) => Ok(None),
            Inverses::Newton(n) => Ok(n
                .at_damping(delta, a, g, opts, stats)?
                .map(Inverses::Newton)),
        }
    }

    /// π = sqrt((tr A / dim A) / (tr G / dim G)), 1 when either trace is ~0 (§1.3).
    pub fn pi(&self) -> f64 {
        match self {
            Inverses::Eigen(e) => e.pi,
            Inverses::Newton(n) => n.pi,
        }
    }

    /// U for the layer gradient `v` `(d_out, cols)` and damping δ, in v's kind (the inverses
    /// are f64 and cast, see `precondition_dtype`):
    /// factored: (G + √δ/π I)⁻¹ v (A + π√δ I)⁻¹; exact_eigen: (G⊗A + δI)⁻¹ vec_r(v), in f64.
    /// Newton inverses are used at the damping they hold (see [`Inverses::at_damping`]).
    pub fn precondition(&self, v: &Tensor, delta: f64, scheme: DampingScheme) -> Tensor {
        self.precondition_with(v, delta, scheme, false)
    }

    /// [`Inverses::precondition`]; `moving_damping` (RING: a new damping every step) applies
    /// Newton inverses through their eigenbases ([`NewtonInv::precondition`]).
    pub fn precondition_with(
        &self,
        v: &Tensor,
        delta: f64,
        scheme: DampingScheme,
        moving_damping: bool,
    ) -> Tensor {
        match self {
            Inverses::Eigen(e) if scheme == DampingScheme::Factored => {
                let (g_inv, a_inv) = e.damped_inverses(delta, v.kind());
                g_inv.matmul(&v.matmul(&a_inv)) // (d_out, cols)
            }
            Inverses::Eigen(e) => {
                let (a, g) = (&e.a, &e.g);
                let v64 = v.to_kind(Kind::Double);
                let inner = g.q.transpose(0, 1).matmul(&v64).matmul(&a.q); // (d_out, cols)
                g.q.matmul(&(inner / e.denominator(delta)))
                    .matmul(&a.q.transpose(0, 1))
                    .to_kind(v.kind())
            }
            Inverses::Newton(n) => n.precondition(v, moving_damping),
        }
    }

    /// True when every entry (and, for newton, the stored damping) is finite; copies nothing.
    pub fn is_finite(&self) -> bool {
        let finite = |t: &Tensor| t.isfinite().all().int64_value(&[]) != 0;
        match self {
            Inverses::Eigen(e) => [&e.a.q, &e.a.d, &e.g.q, &e.g.d].into_iter().all(finite),
            Inverses::Newton(n) => n.is_finite(),
        }
    }

    /// Named tensors for the optimizer state (slot, tensor).
    pub fn tensors(&self) -> Vec<(&'static str, Tensor)> {
        match self {
            Inverses::Eigen(EigenInv { a, g, .. }) => vec![
                ("kfac.a_vecs", a.q.copy()),
                ("kfac.a_vals", a.d.copy()),
                ("kfac.g_vecs", g.q.copy()),
                ("kfac.g_vals", g.d.copy()),
            ],
            Inverses::Newton(n) => vec![
                ("kfac.a_inv_vecs", n.a.q.copy()),
                ("kfac.a_inv_vals", Tensor::from_slice(&n.a.lam)),
                ("kfac.g_inv_vecs", n.g.q.copy()),
                ("kfac.g_inv_vals", Tensor::from_slice(&n.g.lam)),
                ("kfac.inv_damping", n.damping_tensor()),
            ],
        }
    }

    /// The slots [`Inverses::tensors`] writes for `method`.
    pub fn slots(method: InverseMethod) -> &'static [&'static str] {
        match method {
            InverseMethod::Eigen => &["kfac.a_vecs", "kfac.a_vals", "kfac.g_vecs", "kfac.g_vals"],
            InverseMethod::Newton => &[
                "kfac.a_inv_vecs",
                "kfac.a_inv_vals",
                "kfac.g_inv_vecs",
                "kfac.g_inv_vals",
                "kfac.inv_damping",
            ],
        }
    }

    /// The slots of a saved layer: [`Inverses::slots`], or for `newton` the dense X_A, X_G of
    /// states written before the eigenform ([`LEGACY_NEWTON_SLOTS`]) when `saved` has those.
    pub fn saved_slots(
        method: InverseMethod,
        saved: impl Fn(&str) -> bool,
    ) -> &'static [&'static str] {
        if method == InverseMethod::Newton && saved(LEGACY_NEWTON_SLOTS[0]) {
            &LEGACY_NEWTON_SLOTS
        } else {
            Inverses::slots(method)
        }
    }

    /// The shapes of `slots` ([`Inverses::saved_slots`]) for a layer with `cols` columns (A
    /// side) and `d_out` rows (G side): eigen (Q_A, d_A, Q_G, d_G); newton (Q_A, λ_A, Q_G,
    /// λ_G, [δ_A, δ_G, π]), or the legacy (X_A, X_G, [δ_A, δ_G, π]).
    pub fn slot_shapes(slots: &[&str], cols: i64, d_out: i64) -> Vec<Vec<i64>> {
        if slots == LEGACY_NEWTON_SLOTS {
            return vec![vec![cols, cols], vec![d_out, d_out], vec![3]];
        }
        let mut shapes = vec![
            vec![cols, cols],
            vec![cols],
            vec![d_out, d_out],
            vec![d_out],
        ];
        if slots.len() == 5 {
            shapes.push(vec![3]);
        }
        shapes
    }

    /// Rebuild from tensors in the order of `slots` ([`Inverses::saved_slots`]), f64 on
    /// `like`'s device.
    pub fn from_tensors(
        method: InverseMethod,
        slots: &[&str],
        t: &[&Tensor],
        like: &Tensor,
    ) -> Result<Inverses> {
        let f = |x: &Tensor| x.to_device(like.device()).to_kind(Kind::Double);
        Ok(match method {
            InverseMethod::Eigen => Inverses::Eigen(EigenInv::new(
                Eigh {
                    q: f(t[0]),
                    d: f(t[1]),
                },
                Eigh {
                    q: f(t[2]),
                    d: f(t[3]),
                },
            )),
            InverseMethod::Newton if slots == LEGACY_NEWTON_SLOTS => {
                Inverses::Newton(NewtonInv::from_dense(t[0], t[1], t[2], like)?)
            }
            InverseMethod::Newton => {
                Inverses::Newton(NewtonInv::from_parts([t[0], t[1], t[2], t[3]], t[4], like)?)
            }
        })
    }
}

/// The `newton` slots of states written before the eigenform: X_A, X_G, [δ_A, δ_G, π].
pub const LEGACY_NEWTON_SLOTS: [&str; 3] = ["kfac.a_inv", "kfac.g_inv", "kfac.inv_damping"];

/// π from the mean eigenvalues (traces over dims) of A and G; 1 if either is ~0.
pub fn split_ratio(mean_a: f64, mean_g: f64) -> f64 {
    if mean_a <= 1e-30 || mean_g <= 1e-30 {
        1.0
    } else {
        (mean_a / mean_g).sqrt()
    }
}

/// (δ_A, δ_G) = (π√δ, √δ/π) (§1.3 factored).
pub fn factored_split(delta: f64, pi: f64) -> (f64, f64) {
    let s = delta.sqrt();
    (pi * s, s / pi)
}
