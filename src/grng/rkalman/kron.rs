//! The Kronecker form of R-Kalman (grng spec §2.4, `cov = kron`): per linear layer a pair of
//! covariances P_A ≈ A⁻¹ `(d_in+1, d_in+1)` and P_G ≈ G⁻¹ `(d_out, d_out)` (bias folded into A
//! by an appended 1, §1.2) whose inverses track the K-FAC EMA factors exactly, by Woodbury on
//! the batch rows, so that P_G ⊗ P_A ≈ F_ii⁻¹ in row-major order.
use super::config::StatsDtype;
use super::damped::{damp_factor, DampedFactor};
use super::dense::{measurement_update, norm_upper_bound, sym};
use crate::optim::Captured;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::cell::OnceCell;
use std::rc::Rc;
use tch::{Kind, Tensor};

/// `P ← (1/β)[P − P xᵀ(cI_m + x P xᵀ)⁻¹ x P]`, `c = βm/(1−β)`: if `P = A⁻¹` then the result is
/// `(βA + ((1−β)/m) xᵀx)⁻¹` for the rows `x` `(m, k)`. β = 1 leaves P unchanged (A is then
/// the constant prior precision). With more rows than columns (m > k) the same update goes
/// through a k×k system instead ([`track_inverse_direct`]). The system is solved in P's kind;
/// rows of another kind enter as their Gram in their own kind (m > k) or cast (m ≤ k).
/// `Ok(None)` when a system is singular.
pub fn track_inverse(p: &Tensor, x: &Tensor, beta: f64) -> Result<Option<Tensor>> {
    if beta >= 1.0 {
        return Ok(Some(p.shallow_clone()));
    }
    let (m, k) = x.size2()?;
    if takes_gram(m, k) {
        return track_inverse_direct(p, x, beta);
    }
    let c = beta * m as f64 / (1.0 - beta);
    Ok(measurement_update(p, &x.to_kind(p.kind()), None, c)?.map(|q| q / beta))
}

/// Whether [`track_inverse`] updates from the Gram of `m` rows of `k` columns (more rows than
/// columns: the k×k path) rather than from the rows themselves (the m×m Woodbury system).
pub fn takes_gram(m: i64, k: i64) -> bool {
    m > k
}

/// The update of [`track_inverse`] as `(1/β)(I + P xᵀx/c)⁻¹ P` (one k×k LU solve; cheaper
/// than the m×m Woodbury system when m > k). xᵀx is computed in x's kind, then cast to P's.
/// β < 1.
pub fn track_inverse_direct(p: &Tensor, x: &Tensor, beta: f64) -> Result<Option<Tensor>> {
    let (m, k) = x.size2()?;
    let c = beta * m as f64 / (1.0 - beta);
    let eye = Tensor::eye(k, (p.kind(), p.device()));
    let lhs = eye + p.matmul(&gram(x).to_kind(p.kind())) / c; // (k, k)
    let (q, info) = Tensor::f_linalg_solve_ex(&lhs, p, true, false)?;
    if info.int64_value(&[]) != 0 {
        return Ok(None);
    }
    Ok(Some(sym(&q) / beta))
}

/// Column panels of [`gram`] are this wide.
const GRAM_PANEL: i64 = 64;

/// `xᵀx` `(k, k)` of the rows `x` `(m, k)` (exactly symmetric when k > 2·panel), computing
/// only the upper block triangle: panel i is `x[:, i..i+w]ᵀ x[:, i..]`, mirrored below the diagonal. About
/// (k + w)/(2k) of one full product's flops; each entry is the same dot product over the m
/// rows as in `xᵀx`, summed in the BLAS kernel's order for the panel's shape (so it may
/// differ from the full product in the last bits).
pub fn gram(x: &Tensor) -> Tensor {
    let k = x.size()[1];
    if k <= 2 * GRAM_PANEL {
        return x.tr().matmul(x);
    }
    let out = x.new_empty([k, k], (x.kind(), x.device())); // (k, k)
    let mut i = 0;
    while i < k {
        let w = GRAM_PANEL.min(k - i);
        let panel = x.narrow(1, i, w).tr().matmul(&x.narrow(1, i, k - i)); // (w, k − i)
        out.narrow(0, i, w).narrow(1, i, k - i).copy_(&panel);
        let below = k - i - w;
        if below > 0 {
            let mirrored = panel.narrow(1, w, below).tr(); // (below, w)
            out.narrow(0, i + w, below).narrow(1, i, w).copy_(&mirrored);
        }
        i += w;
    }
    // A diagonal block's GEMM need not be symmetric to the last bit: mirror its upper half.
    out.triu(0) + out.triu(1).tr()
}

/// A covariance factor P with what its GR damping reads from it (the bound on ‖P‖₂, the mean
/// eigenvalue of P⁻¹), each computed at most once: with `t_stat` > 1 the factor is unchanged
/// for t_stat − 1 steps and these are reused, not recomputed.
pub struct Factor {
    pub p: Tensor,
    bound: OnceCell<f64>,
    mean_eig: OnceCell<f64>,
}

impl Factor {
    pub fn new(p: Tensor) -> Factor {
        Factor {
            p,
            bound: OnceCell::new(),
            mean_eig: OnceCell::new(),
        }
    }

    /// [`norm_upper_bound`] of P.
    pub fn bound(&self) -> f64 {
        *self.bound.get_or_init(|| norm_upper_bound(&self.p))
    }

    /// dim / tr P, the mean eigenvalue of the factor P approximates the inverse of.
    pub fn mean_eig(&self) -> f64 {
        *self
            .mean_eig
            .get_or_init(|| self.p.size()[0] as f64 / self.p.trace().double_value(&[]))
    }
}

/// Factored split of the GR damping δ (§1.3, §2.3): `(π√δ, √δ/π)` with
/// `π = √((tr A/dim A)/(tr G/dim G))`, where the factors' mean eigenvalues are estimated from
/// the covariances as `dim/tr P` [A: A itself is never formed]. π = 1 if a trace is ~0.
pub fn split_damping(a: &Factor, g: &Factor, delta: f64) -> (f64, f64) {
    let ratio = a.mean_eig() / g.mean_eig();
    let pi = if ratio.is_finite() && ratio > 0.0 {
        ratio.sqrt()
    } else {
        1.0
    };
    let root = delta.sqrt();
    (pi * root, root / pi)
}

/// What a layer's covariance step starts from.
pub enum Stats<'a> {
    /// This batch's input rows `(m, d_in [+1])` and error rows `(m, d_out)`.
    Batch(&'a Tensor, &'a Tensor),
    /// No statistics this step: the layer's current P_A, P_G.
    Current(Rc<Factor>, Rc<Factor>),
}

/// One linear layer's parameters and covariance factors (f64).
#[derive(Debug)]
pub struct KronLayer {
    /// Parameter names, e.g. `l0.weight` / `l0.bias`.
    pub weight: String,
    pub bias: Option<String>,
    pub w: Tensor,
    pub b: Option<Tensor>,
    pub p_a: Tensor,
    pub p_g: Tensor,
}

/// What one layer's covariance step produced.
pub struct LayerStep {
    pub p_a: Rc<Factor>,
    pub p_g: Rc<Factor>,
    /// The damped copies P̃ (their operators precondition the mean step).
    pub gr_a: DampedFactor,
    pub gr_g: DampedFactor,
}

impl KronLayer {
    pub fn names(&self) -> LayerNames {
        LayerNames {
            weight: self.weight.clone(),
            bias: self.bias.clone(),
        }
    }

    /// Inputs `(…, d_in)` → rows `(m, d_in [+1])` of A's observation, with a column of
    /// ones for the bias, written into `buf` (see [`rows_into`]).
    pub fn a_rows(&self, input: &Tensor, buf: &mut Option<Tensor>, stats: StatsDtype) -> Tensor {
        rows_into(buf, input, self.w.size()[1], self.b.is_some(), stats)
    }

    /// New undamped factors from this batch's rows `(a, e)`, or the current ones (a step
    /// between two statistics steps: `stats` is `Current` with this layer's P_A, P_G), and
    /// their GR-damped copies; `None` when a Woodbury system fails.
    pub fn covariance_step(
        &self,
        stats: Stats,
        beta: f64,
        delta: f64,
    ) -> Result<Option<LayerStep>> {
        let (p_a, p_g) = match stats {
            Stats::Batch(a, e) => {
                let (Some(p_a), Some(p_g)) = (
                    track_inverse(&self.p_a, a, beta)?,
                    track_inverse(&self.p_g, e, beta)?,
                ) else {
                    return Ok(None);
                };
                (Rc::new(Factor::new(p_a)), Rc::new(Factor::new(p_g)))
            }
            Stats::Current(p_a, p_g) => (p_a, p_g),
        };
        let (delta_a, delta_g) = split_damping(&p_a, &p_g, delta);
        let (gr_a, gr_g) = (damp_factor(&p_a, delta_a), damp_factor(&p_g, delta_g));
        Ok(Some(LayerStep {
            p_a,
            p_g,
            gr_a,
            gr_g,
        }))
    }

    /// The layer's gradient as one `(d_out, d_in [+1])` f64 matrix `[∇W | ∇b]`.
    pub fn joint_gradient(&self, gw: &Tensor, gb: Option<&Tensor>) -> Tensor {
        let gw = gw.to_kind(Kind::Double);
        match gb {
            Some(gb) => Tensor::cat(&[gw, gb.to_kind(Kind::Double).unsqueeze(1)], 1),
            None => gw,
        }
    }

    /// `W ← W − U[:, :d_in]`, `b ← b − U[:, d_in]` (no grad).
    pub fn subtract(&self, u: &Tensor) {
        let d_in = self.w.size()[1];
        tch::no_grad(|| {
            let uw = u.narrow(1, 0, d_in).to_kind(self.w.kind());
            let _ = self.w.shallow_clone().g_sub_(&uw);
            if let Some(b) = &self.b {
                let _ = b
                    .shallow_clone()
                    .g_sub_(&u.select(1, d_in).to_kind(b.kind()));
            }
        });
    }
}

/// `src` `(…, cols)` as rows `(m, cols)` in `buf`, followed by a column of ones when `ones`:
/// the buffer is reused from step to step (allocated, with its ones column, only when the
/// shape or kind changes), so a large step does not allocate and fault in fresh pages for its
/// rows. The rows are f64, or f32 when `stats` is `Model`, `src` is f32 (or of a half
/// precision) and [`track_inverse`] uses only their Gram ([`takes_gram`]), computed in f32.
/// The returned tensor shares `buf`'s storage: it is valid until the next call on `buf`.
pub fn rows_into(
    buf: &mut Option<Tensor>,
    src: &Tensor,
    cols: i64,
    ones: bool,
    stats: StatsDtype,
) -> Tensor {
    let _guard = tch::no_grad_guard();
    let src = src.detach().reshape([-1, cols]); // (m, cols)
    let m = src.size()[0];
    let width = cols + i64::from(ones);
    // Half precision is no kind for a Gram of thousands of rows (spec §7): f32 at least.
    let kind = match (stats, src.kind()) {
        (StatsDtype::Model, Kind::Float | Kind::Half | Kind::BFloat16) if takes_gram(m, width) => {
            Kind::Float
        }
        _ => Kind::Double,
    };
    let fits = buf
        .as_ref()
        .is_some_and(|b| b.size() == [m, width] && b.kind() == kind);
    if !fits {
        let fresh = Tensor::empty([m, width], (kind, src.device()));
        if ones {
            let _ = fresh.narrow(1, cols, 1).fill_(1.0);
        }
        *buf = Some(fresh);
    }
    let b = buf.as_ref().map(Tensor::shallow_clone).unwrap_or_default();
    b.narrow(1, 0, cols).copy_(&src);
    b
}

/// Names of one preconditioned layer's parameters (saved in the state).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerNames {
    pub weight: String,
    pub bias: Option<String>,
}

/// The preconditioned layers among `captured` (forward order), as K-FAC picks them (§2.6): a
/// captured linear layer that owns its 2-D weight (`<layer>.weight`; not a tied head), captured
/// once, whose bias (if any) is a parameter. Everything else goes to the fallback.
pub fn plan_layers(captured: &[Captured], params: &[(String, Tensor)]) -> Vec<LayerNames> {
    let shape = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.size())
    };
    let uses = |w: &str| captured.iter().filter(|c| c.weight == w).count();
    captured
        .iter()
        .filter(|c| {
            let own = c.weight == format!("{}.weight", c.layer);
            let two_d = shape(&c.weight).is_some_and(|s| s.len() == 2);
            let bias_ok = c.bias.as_deref().is_none_or(|b| shape(b).is_some());
            own && two_d && bias_ok && uses(&c.weight) == 1
        })
        .map(|c| LayerNames {
            weight: c.weight.clone(),
            bias: c.bias.clone(),
        })
        .collect()
}

/// The layer `names` over `params` with priors P_A = P_G = σ0·I (so P_G ⊗ P_A = σ0² I); an
/// error names a parameter that is missing or of the wrong shape.
pub fn layer_of(
    names: &LayerNames,
    params: &[(String, Tensor)],
    sigma0_sq: f64,
) -> Result<KronLayer> {
    let find = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.shallow_clone())
            .with_context(|| format!("rkalman: no trainable parameter `{name}`"))
    };
    let w = find(&names.weight)?;
    let [d_out, d_in] = w.size()[..] else {
        bail!("rkalman: `{}` is not a 2-D weight", names.weight);
    };
    let b = names.bias.as_deref().map(find).transpose()?;
    if let Some(b) = &b {
        if b.size() != [d_out] {
            bail!("rkalman: bias {:?} does not match ({d_out},)", names.bias);
        }
    }
    let eye = |k: i64| Tensor::eye(k, (Kind::Double, w.device())) * sigma0_sq.sqrt();
    Ok(KronLayer {
        weight: names.weight.clone(),
        bias: names.bias.clone(),
        p_a: eye(d_in + i64::from(b.is_some())),
        p_g: eye(d_out),
        w,
        b,
    })
}
