//! Power-iteration estimate of the spectral norm of a symmetric matrix (grng spec §1.5: the
//! matrix-differential guard needs ‖X‖₂; a full SVD per step is far too slow).
use tch::{Kind, Tensor};

/// Estimate of `‖X‖₂` for symmetric `x` `(d, d)` by `iters` power iterations (at least 1) from a
/// fixed, deterministic start vector with no zero pattern. The estimate `‖X v‖` (v unit) never
/// exceeds the true norm and converges to it geometrically. Returns 0 for an empty or zero X.
pub fn spectral_norm(x: &Tensor, iters: usize) -> f64 {
    let d = x.size()[0];
    if d == 0 {
        return 0.0;
    }
    let _guard = tch::no_grad_guard();
    let kind = if x.kind() == Kind::Double {
        Kind::Double
    } else {
        Kind::Float
    };
    let x = x.to_kind(kind);
    // A start vector unlikely to be orthogonal to the top eigenvector: 1 + ½ sin(1.7 i).
    let mut v = (Tensor::arange(d, (kind, x.device())) * 1.7).sin() * 0.5 + 1.0; // (d,)
    v = &v / v.norm();
    let mut norm = 0.0;
    for _ in 0..iters.max(1) {
        let w = x.mv(&v); // (d,)
        norm = w.norm().double_value(&[]);
        if norm == 0.0 || !norm.is_finite() {
            return norm;
        }
        v = w / norm;
    }
    norm
}
