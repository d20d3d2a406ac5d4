//! A is SPD and its numbers fit double precision (spec §7.4): square, finite, symmetric to a
//! tolerance, Cholesky-factorizable, and with max |A_ij| and λ_min(A) inside the range whose
//! squares (of A's entries and of B ≈ A⁻¹'s) stay representable.
use super::newton::symmetrize;
use crate::error::usage;
use anyhow::Result;
use ndarray::{Array1, Array2};
use ndarray_linalg::{Cholesky, EigValsh, UPLO};

/// Tolerance for |A − Aᵀ| relative to max |A|.
const SYMMETRY_TOL: f64 = 1e-10;

/// The range of max |A_ij| that is accepted. The solvers and certificates square entries of A
/// and of B ≈ A⁻¹ (‖A‖_F², Hessian entries BᵢⱼBₖₗ): at 1e160 or 1e-155 that over- or
/// underflowed (NaN residuals, a line search that never succeeds, a LAPACK error, exit 1),
/// for a problem that scaling makes trivial.
const SCALE_MAX: f64 = 1e100;
const SCALE_MIN: f64 = 1e-100;

/// cond(A) above this draws a warning (spec §7.4).
pub const COND_WARN: f64 = 1e12;

/// Largest n for which cond(A) comes from the eigenvalues; above, from the Cholesky diagonal.
pub const COND_EXACT_MAX_N: usize = 500;

/// An estimate of cond(A) = λ_max/λ_min and how it was obtained.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Conditioning {
    pub estimate: f64,
    pub method: &'static str,
}

impl Conditioning {
    /// The warning of §7.4 when the estimate exceeds [`COND_WARN`].
    pub fn warning(&self) -> Option<String> {
        // Past 1/eps "lose log10(cond) digits" read as "lose 200 of 16 digits" beside a run
        // whose certificates pass (diag(1, 1e-200) is solved exactly): say what decides.
        let lost = match self.estimate * f64::EPSILON < 1.0 {
            true => format!(
                "expect B and C to lose about {:.0} of their 16 digits",
                self.estimate.log10()
            ),
            false => "beyond 1/eps, so B and C may have no correct digit: trust them only where \
                      summary.json says converged (every certificate passed)"
                .to_string(),
        };
        (self.estimate > COND_WARN).then(|| {
            format!(
                "cond(A) ~ {:.3e} > {COND_WARN:.0e} ({}): A is ill-conditioned; {lost}",
                self.estimate, self.method
            )
        })
    }
}

/// Square, finite, symmetric to a tolerance, and Cholesky-factorizable.
pub fn check_spd(a: &Array2<f64>) -> Result<Conditioning> {
    check_spd_with(a, true)
}

/// [`check_spd`]; `rescale` adds the advice to divide A (for an A the user supplied; a
/// generated A's caller names the keys to change instead).
pub fn check_spd_with(a: &Array2<f64>, rescale: bool) -> Result<Conditioning> {
    let (r, c) = a.dim();
    if r != c {
        return Err(usage(format!("A must be square, got {r}x{c}")));
    }
    if r == 0 {
        return Err(usage("A is empty"));
    }
    if let Some(((i, j), v)) = a.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(usage(format!("A[{i},{j}] = {v} is not finite")));
    }
    let scale = a.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if scale == 0.0 {
        return Err(usage(
            "A is the zero matrix, which is not positive definite",
        ));
    }
    check_symmetric(a, scale)?;
    // Factor A scaled by a power of two near 1/max|A_ij| (exact), so that neither the
    // factorization nor the eigenvalues over- or underflow whatever the range of A.
    let unit = 2f64.powi(-(scale.log2().round() as i32));
    let an = a * unit;
    let factor = match an.cholesky(UPLO::Lower) {
        Ok(f) => f,
        Err(e) => return Err(not_pd(&an, e, unit)),
    };
    let (cond, lo) = condition_and_min(&an, &factor.diag().to_owned())?;
    check_range(scale, lo / unit, &cond, rescale)?;
    Ok(cond)
}

fn check_symmetric(a: &Array2<f64>, scale: f64) -> Result<()> {
    let ((i, j), asym) = (a - &a.t())
        .indexed_iter()
        .fold(((0, 0), 0.0f64), |m, (ij, v)| {
            if v.abs() > m.1 {
                (ij, v.abs())
            } else {
                m
            }
        });
    if asym > SYMMETRY_TOL * scale {
        // Where, and what to do: a file holding one triangle is the common cause.
        return Err(usage(format!(
            "A is not symmetric: max |A - A^T| = {asym:.3e} (tolerance {SYMMETRY_TOL:.1e} x \
             max|A|), at A[{i},{j}] = {:e} against A[{j},{i}] = {:e} (0-based); store both \
             triangles of A, or save (A + A^T)/2 if the difference is rounding",
            a[[i, j]],
            a[[j, i]]
        )));
    }
    Ok(())
}

/// max |A_ij| ≤ 1e100 and λ_min(A) ≥ 1e-100 (B = (A − C)⁻¹ reaches n/λ_min(A)), in one
/// message with one piece of advice. Before, only max |A_ij| was checked and the advice put it
/// at 1: diag(1e150, 1e-50) was told to divide by 1e150, which leaves λ_min = 1e-200 and B
/// entries whose squares overflow (diag(1, 0.5, 1e-200)'s pattern run then failed its
/// certificates under a warning to "expect to lose log10(cond) digits"). The advice now
/// centres the range, t = √(max|A_ij|·λ_min), which fits both sides iff cond(A) ≤ 1e200.
fn check_range(scale: f64, lo: f64, cond: &Conditioning, rescale: bool) -> Result<()> {
    let (what, why) = if scale > SCALE_MAX {
        (format!("max |A_ij| = {scale:.3e}"), String::new())
    } else if lo < SCALE_MIN {
        let why =
            format!(" (B = (A - C)^-1 reaches about 1/lambda_min(A); max |A_ij| = {scale:.3e})");
        (format!("lambda_min(A) ~ {lo:.3e}"), why)
    } else {
        return Ok(());
    };
    let fits = cond.estimate <= SCALE_MAX / SCALE_MIN;
    let advice = match (fits, rescale) {
        (true, true) => format!(
            "; the decomposition scales (tA = (B/t)^-1 + tC, spec section 1.4), so divide A by \
             about {:.0e} (that puts max |A_ij| near {:.0e} and lambda_min(A) near {:.0e}) and \
             scale B and C back",
            power_of_ten((scale * lo).sqrt()),
            power_of_ten((scale / lo).sqrt()),
            power_of_ten((lo / scale).sqrt())
        ),
        (true, false) => String::new(),
        (false, _) => format!(
            "; no rescaling fits both, since cond(A) ~ {:.3e} exceeds {:.0e}: A is singular \
             for this computation, so regularize it (add a small multiple of I) or remove its \
             near-null directions",
            cond.estimate,
            SCALE_MAX / SCALE_MIN
        ),
    };
    Err(usage(format!(
        "{what} is outside [{SCALE_MIN:.0e}, {SCALE_MAX:.0e}]{why}: squares of the entries of A \
         and of B (about 1/A) leave double precision there, which failed runs with NaN or LAPACK \
         errors{advice}"
    )))
}

fn power_of_ten(x: f64) -> f64 {
    10f64.powf(x.log10().round())
}

/// cond(A) and λ_min(A): from the eigenvalues for n ≤ [`COND_EXACT_MAX_N`] (O(n³)), else
/// the lower bound (max Lᵢᵢ / min Lᵢᵢ)² on cond(A) and the upper bound min Lᵢᵢ² on λ_min
/// from the Cholesky factor A = LLᵀ (free; Lᵢᵢ² lies in [λ_min, λ_max] since Lᵢᵢ² is a Schur
/// complement of a principal submatrix), so a λ_min below range is never wrongly claimed.
fn condition_and_min(a: &Array2<f64>, chol_diag: &Array1<f64>) -> Result<(Conditioning, f64)> {
    if a.nrows() <= COND_EXACT_MAX_N {
        let e = symmetrize(a).eigvalsh(UPLO::Lower)?;
        let (lo, hi) = e
            .iter()
            .fold((f64::INFINITY, 0.0f64), |(l, h), &v| (l.min(v), h.max(v)));
        let estimate = if lo > 0.0 { hi / lo } else { f64::INFINITY };
        let method = "from the eigenvalues";
        return Ok((Conditioning { estimate, method }, lo));
    }
    let (lo, hi) = chol_diag
        .iter()
        .fold((f64::INFINITY, 0.0f64), |(l, h), &v| (l.min(v), h.max(v)));
    let cond = Conditioning {
        estimate: (hi / lo).powi(2),
        method: "lower bound (max/min Cholesky diagonal)^2",
    };
    Ok((cond, lo * lo))
}

/// cond(A) as [`condition_and_min`] gives it.
pub fn condition(a: &Array2<f64>, chol_diag: &Array1<f64>) -> Result<Conditioning> {
    Ok(condition_and_min(a, chol_diag)?.0)
}

/// The Cholesky failure, with λ_min(A); a λ_min > 0 (A positive definite in exact arithmetic,
/// e.g. random-spd at condition 1e20 gave λ_min = +6.5e3) is put against λ_max, since "not
/// positive definite" beside a positive λ_min read as a contradiction. `a` is A·`unit`.
fn not_pd(a: &Array2<f64>, e: impl std::fmt::Display, unit: f64) -> anyhow::Error {
    let (min_eig, max_eig) = symmetrize(a)
        .eigvalsh(UPLO::Lower)
        .map(|e| {
            e.iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
                    (l.min(v / unit), h.max(v / unit))
                })
        })
        .unwrap_or((f64::NAN, f64::NAN));
    let rounding = if min_eig > 0.0 {
        format!(
            " = {:.1e} x lambda_max: positive, but below what double precision resolves \
             (about n*eps = {:.1e}), so A is singular to working precision",
            min_eig / max_eig,
            a.nrows() as f64 * f64::EPSILON
        )
    } else {
        String::new()
    };
    usage(format!(
        "A is not positive definite: Cholesky failed ({e}; LAPACK's code is the 1-based \
         failing pivot column); lambda_min(A) = {min_eig:.6e}{rounding}"
    ))
}
