//! The rank-1 damped empirical Fisher `F̂ = λI + uuᵀ` and its Sherman–Morrison inverse
//! applied to the gradient (spec §1.2, §1.4): O(n) time and memory, dot products in f64.

/// `d = F̂⁻¹ g` and the quantities the metrics log (spec §6.4).
#[derive(Clone, Debug, PartialEq)]
pub struct Rank1Direction {
    pub d: Vec<f64>,
    /// `c = uᵀg / (λ + uᵀu)`.
    pub c: f64,
    pub u_dot_g: f64,
    pub u_norm_sq: f64,
    /// `gᵀd = gᵀF̂⁻¹g` (twice the predicted KL of a unit step).
    pub g_dot_d: f64,
}

pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "dot of vectors of different lengths");
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

pub fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// Spec §1.4: `c = (uᵀg)/(λ + uᵀu)`, `d = (g − c·u)/λ`. `damping` (λ) must be positive;
/// configs reject λ ≤ 0 before this is reached.
pub fn sherman_morrison_direction(g: &[f64], u: &[f64], damping: f64) -> Rank1Direction {
    assert!(damping > 0.0, "damping must be positive");
    let u_dot_g = dot(u, g);
    let u_norm_sq = dot(u, u);
    let c = u_dot_g / (damping + u_norm_sq);
    let d: Vec<f64> = g
        .iter()
        .zip(u)
        .map(|(gi, ui)| (gi - c * ui) / damping)
        .collect();
    let g_dot_d = dot(g, &d);
    Rank1Direction {
        d,
        c,
        u_dot_g,
        u_norm_sq,
        g_dot_d,
    }
}

/// `F̂ x = λx + u(uᵀx)`, for residual checks.
pub fn apply_rank1_fisher(u: &[f64], damping: f64, x: &[f64]) -> Vec<f64> {
    let ux = dot(u, x);
    x.iter()
        .zip(u)
        .map(|(xi, ui)| damping * xi + ui * ux)
        .collect()
}
