//! Finance mode against the reference values of spec §5.4 (N = 125, α_code = 5).
use lab::decompose::config::{DecomposeConfig, InfoStructure};
use lab::decompose::finance::solve;
use lab::decompose::market::covariance;

#[test]
fn mixed_fbm_reproduces_the_reference_table() {
    // (H, CE_sum, CE_Markov, CE_full) from spec §5.4.
    let table = [
        (0.5, 0.0, 0.0, 0.0),
        (0.6, 0.956806, 0.244357, 1.150938),
        (0.7, 2.025900, 0.705533, 3.118120),
        (0.8, 1.645818, 1.010634, 3.699063),
    ];
    let mut opts = DecomposeConfig::embedded_default().solver;
    opts.tol_decrement = 1e-20;
    for (h, sum, markov, full) in table {
        let alpha_std = 5.0 * 2f64.powf(-h);
        let sigma = covariance(125, h, alpha_std);
        let ce = |s| solve(s, &sigma, &opts, None, &mut |_| Ok(())).unwrap().ce;
        let got = [
            ce(InfoStructure::Sum),
            ce(InfoStructure::Markovian),
            ce(InfoStructure::Full),
        ];
        for (g, want) in got.iter().zip([sum, markov, full]) {
            assert!(
                (g - want).abs() <= 1e-6,
                "H = {h}: got {got:?}, want {want}"
            );
        }
        assert!(
            got[2] >= got[0].max(got[1]) - 1e-12,
            "information ordering at H = {h}"
        );
    }
}

/// Strategy read-out: γ_l = a_l S + b_l W ties every past X (and every past Y) to one coefficient.
#[test]
fn markovian_strategy_is_tied() {
    let sigma = covariance(20, 0.7, 5.0 * 2f64.powf(-0.7));
    let mut opts = DecomposeConfig::embedded_default().solver;
    opts.tol_decrement = 1e-20;
    let res = solve(InfoStructure::Markovian, &sigma, &opts, None, &mut |_| {
        Ok(())
    })
    .unwrap();
    let rows = lab::decompose::finance::strategy(&res);
    for l in 2..20 {
        let price: Vec<f64> = rows
            .iter()
            .filter(|r| r.0 == l && r.1 % 2 == 0)
            .map(|r| r.2)
            .collect();
        assert_eq!(price.len(), l);
        assert!(
            price.iter().all(|a| (a - price[0]).abs() < 1e-12),
            "period {l}: {price:?}"
        );
    }
}
