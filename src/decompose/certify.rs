//! The final certificates decide whether a run converged (issue 17): a run whose answer fails
//! one of them is not `converged`, whatever the stopping rule said. Each is scale-free and is
//! compared with τ = max(`BASE`, `COND_SLACK`·n·ε·cond(A)): 1e-8 for well-conditioned A, looser
//! where A (and so B) is so ill-conditioned that forming B⁻¹ alone loses that much
//! (docs/decompose.md, "Certificates").
use super::Summary;

/// The tolerance for a well-conditioned A.
pub const BASE: f64 = 1e-8;
/// Forming B⁻¹ from B loses about n·ε·cond(B) relative; this factor leaves room above that.
pub const COND_SLACK: f64 = 10.0;

/// The tolerance the certificates of `s` are held to (cond(A) from the summary, 1 if unknown).
pub fn tolerance(s: &Summary) -> f64 {
    let cond = s.cond_a.as_ref().map_or(1.0, |c| c.estimate);
    BASE.max(COND_SLACK * s.n as f64 * f64::EPSILON * cond)
}

/// Why the duality gap could not be computed although the answer may be right: the dual point
/// B̃ = B − P_L(B) is B moved by ‖P_L(B)‖, and when that is at least λ_min(B) (an A so
/// ill-conditioned that B's entries dwarf its smallest eigenvalue, e.g. Hilbert 10 at cond
/// 1.6e13), B̃ need not be positive definite in floating point, so log det B̃ does not exist.
/// `None` when the gap was computed, or when B̃ should have been positive definite (a failure).
pub fn gap_unavailable(s: &Summary) -> Option<String> {
    (s.duality_gap.is_none() && s.proj_l_b >= s.min_eig_b && s.min_eig_b > 0.0).then(|| {
        format!(
            "duality gap not computable: B - P_L(B) is not positive definite in floating point \
             (|P_L(B)| = {:.3e} >= lambda_min(B) = {:.3e}); the other certificates decide",
            s.proj_l_b, s.min_eig_b
        )
    })
}

/// Every certificate of `s` above tolerance, one line each (empty when all pass).
pub fn failures(s: &Summary) -> Vec<String> {
    let tol = tolerance(s);
    let n = s.n.max(1) as f64;
    let gap = match s.duality_gap {
        Some(g) => g.abs() / n,
        // Not computable at this conditioning (see `gap_unavailable`): warned, not failed.
        None if gap_unavailable(s).is_some() => 0.0,
        None => f64::NAN,
    };
    let checks = [
        ("reconstruction_error", s.reconstruction_error),
        ("proj_l_b_rel", s.proj_l_b_rel),
        ("trace_ab_error", s.trace_ab_error),
        ("duality_gap/n", gap),
    ];
    // NaN fails too: a certificate that could not be computed certifies nothing (the gap is
    // NaN when B - P_L(B) is not positive definite).
    let mut out: Vec<String> = checks
        .iter()
        .filter(|(_, v)| v.is_nan() || *v > tol)
        .map(|(name, v)| format!("{name} {v:.3e} > {tol:.1e}"))
        .collect();
    if s.min_eig_b.is_nan() || s.min_eig_b <= 0.0 {
        out.push(format!(
            "min_eig_b {:.3e} <= 0: B is not positive definite",
            s.min_eig_b
        ));
    }
    out
}
