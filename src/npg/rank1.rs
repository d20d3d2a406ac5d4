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
    pub d_norm: f64,
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
/// Two passes over memory: this is the hot O(n) part of a SMAC update (spec §1.11).
pub fn sherman_morrison_direction(g: &[f64], u: &[f64], damping: f64) -> Rank1Direction {
    assert!(damping > 0.0, "damping must be positive");
    assert_eq!(g.len(), u.len(), "g and u must have the same length");
    let (mut u_dot_g, mut u_norm_sq) = (0.0, 0.0);
    for (gi, ui) in g.iter().zip(u) {
        u_dot_g += ui * gi;
        u_norm_sq += ui * ui;
    }
    let c = u_dot_g / (damping + u_norm_sq);
    let (mut g_dot_d, mut d_sq) = (0.0, 0.0);
    let d: Vec<f64> = g
        .iter()
        .zip(u)
        .map(|(gi, ui)| {
            let di = (gi - c * ui) / damping;
            g_dot_d += gi * di;
            d_sq += di * di;
            di
        })
        .collect();
    Rank1Direction {
        d,
        c,
        u_dot_g,
        u_norm_sq,
        g_dot_d,
        d_norm: d_sq.sqrt(),
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
