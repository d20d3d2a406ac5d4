//! The mixed fractional Brownian motion market of spec §5.4 that finance mode solves in: the
//! covariance of its increments, and the range of α in which both of its parts survive in
//! double precision (outside it the covariance is numerically singular, checked before a run).
use super::config::FinanceConfig;
use anyhow::Result;
use ndarray::Array2;

/// Cov(Z) for Z = (X₁, Y₁, …, X_N, Y_N) (§5.4), α in the standard parametrization.
pub fn covariance(periods: usize, hurst: f64, alpha_std: f64) -> Array2<f64> {
    let dt = 1.0 / periods as f64;
    let rho = |k: f64| fgn_correlation(k, hurst);
    let frac = alpha_std * alpha_std * dt.powf(2.0 * hurst);
    Array2::from_shape_fn((2 * periods, 2 * periods), |(p, q)| {
        let (l, j) = (p / 2, q / 2);
        let same = if l == j { dt } else { 0.0 };
        match (p % 2, q % 2) {
            (0, 0) => same + frac * rho(l as f64 - j as f64),
            _ => same,
        }
    })
}

/// α_std = α_code·2^{−H} for the reference code's convention (§5.4).
pub fn alpha_std(cfg: &FinanceConfig, hurst: f64) -> f64 {
    match cfg.alpha_convention {
        super::config::AlphaConvention::Code => cfg.alpha * 2f64.powf(-hurst),
        super::config::AlphaConvention::Standard => cfg.alpha,
    }
}

/// Below this ratio of Σ's fractional to its Brownian part (α²Δt^{2H}·λ_min(R) / Δt) the
/// fractional part is lost to double precision next to Δt and Σ is numerically singular:
/// α_code = 1e-5 (ratio ≈ 3e-12 at the spec's N = 125, H = 0.7) solves, 1e-6 (3e-14) does not.
const MIN_FRACTIONAL_RATIO: f64 = 1e-12;

/// Above this ratio the Brownian part is lost next to the fractional one (see [`check_alpha`]):
/// at N = 8, H = 0.7, α = 7e5 (ratio ≈ 5e10) solves and 1e6 (1e11) does not (Newton stalls).
const MAX_FRACTIONAL_RATIO: f64 = 1e10;

/// Refuse (usage error naming `mode.alpha`) an α so small that Σ = Cov(X, Y) of §5.4 is
/// numerically singular at some H of the config, or so large that the Brownian part is lost
/// next to the fractional one: Cov(X, Y) then has condition ≈ the parts' ratio (the market is
/// numerically pure fBM), and from α ≈ 1e100 its squares overflow (NaN mid-run, exit 1).
pub fn check_alpha(cfg: &FinanceConfig) -> Result<()> {
    for &h in &cfg.hurst {
        // α_std = α·2^{-H} (code convention) or α.
        let scale = alpha_std(cfg, h) / cfg.alpha;
        check_fractional_part("mode.alpha", cfg.alpha, scale, cfg.periods, h)?;
        let per_unit_alpha = fractional_per_unit_alpha(scale, cfg.periods, h);
        let ratio = cfg.alpha * cfg.alpha * per_unit_alpha;
        if ratio.is_nan() || ratio > MAX_FRACTIONAL_RATIO {
            let most = (MAX_FRACTIONAL_RATIO / per_unit_alpha).sqrt();
            return Err(crate::error::usage(format!(
                "mode.alpha = {:?}: at hurst {h} the Brownian part of the covariance (spec 5.4) \
                 is {:.1e} of the fractional part, below what the solver resolves \
                 ({:.0e}), so the market is numerically pure fBM and Cov(X, Y) numerically \
                 singular; use |alpha| of at most {most:.1e}",
                cfg.alpha,
                1.0 / ratio,
                1.0 / MAX_FRACTIONAL_RATIO
            )));
        }
    }
    Ok(())
}

/// Σ's fractional part over its Brownian part per unit α²: α_std²Δt^{2H}·λ_min(R) / Δt with
/// α_std = scale·α (see [`check_fractional_part`]).
fn fractional_per_unit_alpha(scale: f64, periods: usize, hurst: f64) -> f64 {
    use ndarray_linalg::{EigValsh, UPLO};
    let dt = 1.0 / periods as f64;
    let lambda_min = fgn_correlation_matrix(periods, hurst)
        .eigvalsh(UPLO::Lower)
        .map_or(0.0, |e| e.iter().copied().fold(f64::INFINITY, f64::min));
    scale * scale * dt.powf(2.0 * hurst) * lambda_min / dt
}

/// Refuse (usage error naming `key`) an α (α_std = scale·α) so small that the §5.4 covariance
/// Σ of `periods` periods at Hurst index `hurst` is numerically singular. X = S + Y with S the
/// fBM increments (covariance α_std²Δt^{2H}·R, R their correlation) and Y the Brownian ones
/// (Δt·I), so Σ's smallest eigenvalue is within a constant of min(Δt, α_std²Δt^{2H}·λ_min(R)).
pub fn check_fractional_part(
    key: &str,
    alpha: f64,
    scale: f64,
    periods: usize,
    hurst: f64,
) -> Result<()> {
    let per_unit_alpha = fractional_per_unit_alpha(scale, periods, hurst);
    let ratio = alpha * alpha * per_unit_alpha;
    if ratio.is_nan() || ratio < MIN_FRACTIONAL_RATIO {
        let need = (MIN_FRACTIONAL_RATIO / per_unit_alpha).sqrt();
        return Err(crate::error::usage(format!(
            "{key} = {alpha:?}: at hurst {hurst} the fractional part of the covariance (spec \
             5.4) is {ratio:.1e} of the Brownian part, below double precision's reach \
             ({MIN_FRACTIONAL_RATIO:.0e}), so the covariance is numerically singular; use \
             |alpha| of at least {need:.1e}"
        )));
    }
    Ok(())
}

/// Correlation of two fractional Gaussian noise increments `k` periods apart.
fn fgn_correlation(k: f64, hurst: f64) -> f64 {
    let h2 = 2.0 * hurst;
    0.5 * ((k + 1.0).abs().powf(h2) + (k - 1.0).abs().powf(h2) - 2.0 * k.abs().powf(h2))
}

/// R: the correlation matrix of `n` consecutive fractional Gaussian noise increments.
fn fgn_correlation_matrix(n: usize, hurst: f64) -> Array2<f64> {
    Array2::from_shape_fn((n, n), |(l, j)| fgn_correlation(l as f64 - j as f64, hurst))
}
