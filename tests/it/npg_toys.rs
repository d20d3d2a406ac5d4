//! Spec §2.1–2.2 toy theory checks on a 3-armed softmax bandit, r = (1, 0.8, 0):
//! T-FAST (exact gradients) and T-SAMPLE (sampled gradients, sample complexity).
use crate::common::zip_eq;
use lab::npg::rank1::{dot, sherman_morrison_direction};
use ndarray::{Array1, Array2};
use ndarray_linalg::Solve;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const REWARDS: [f64; 3] = [1.0, 0.8, 0.0];

fn softmax(theta: &[f64]) -> Vec<f64> {
    let m = theta.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = theta.iter().map(|t| (t - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|x| x / s).collect()
}

fn value(pi: &[f64]) -> f64 {
    dot(pi, &REWARDS)
}

/// Exact `∂J/∂θ_j = π_j (r_j − J)`.
fn exact_grad(pi: &[f64]) -> Vec<f64> {
    let j = value(pi);
    zip_eq(pi, REWARDS).map(|(p, r)| p * (r - j)).collect()
}

fn sample_arm(pi: &[f64], rng: &mut ChaCha8Rng) -> usize {
    let x: f64 = rng.gen();
    let mut acc = 0.0;
    for (a, p) in pi.iter().enumerate() {
        acc += p;
        if x < acc {
            return a;
        }
    }
    pi.len() - 1
}

/// Score of arm `a`: `e_a − π`.
fn score(pi: &[f64], a: usize) -> Vec<f64> {
    (0..3).map(|i| (i == a) as u8 as f64 - pi[i]).collect()
}

#[derive(Clone, Copy)]
enum Method {
    Pg,
    Npg,
    Smac(u64),
}

/// Updates until J ≥ 0.95 (checked before each update).
fn t_fast(method: Method, lambda: f64, eta: f64) -> usize {
    let mut theta = vec![0.0; 3];
    let mut rng = ChaCha8Rng::seed_from_u64(match method {
        Method::Smac(seed) => seed,
        _ => 0,
    });
    for k in 0..100_000 {
        let pi = softmax(&theta);
        if value(&pi) >= 0.95 {
            return k;
        }
        let g = exact_grad(&pi);
        let step = match method {
            Method::Pg => g,
            Method::Npg => {
                let f = Array2::from_shape_fn((3, 3), |(i, j)| {
                    (i == j) as u8 as f64 * (pi[i] + lambda) - pi[i] * pi[j]
                });
                f.solve(&Array1::from(g)).expect("solve").to_vec()
            }
            Method::Smac(_) => {
                let u = score(&pi, sample_arm(&pi, &mut rng));
                sherman_morrison_direction(&g, &u, lambda).d
            }
        };
        zip_eq(&mut theta, &step).for_each(|(t, s)| *t += eta * s);
    }
    panic!("no convergence");
}

#[test]
fn t_fast_matches_the_reference_table() {
    // (λ, η, PG, NPG, SMAC mean) from spec §2.1.
    let table = [
        (0.1, 0.1, 224, 87, 57.3),
        (0.1, 0.5, 45, 18, 12.9),
        (0.5, 0.1, 224, 178, 155.5),
        (0.5, 0.5, 45, 36, 31.6),
        (1.0, 0.1, 224, 290, 274.4),
        (1.0, 0.5, 45, 58, 54.9),
    ];
    for (lambda, eta, pg, npg, smac) in table {
        let got_pg = t_fast(Method::Pg, lambda, eta);
        let got_npg = t_fast(Method::Npg, lambda, eta);
        assert!(
            got_pg.abs_diff(pg) <= 1,
            "PG λ={lambda} η={eta}: {got_pg} vs {pg}"
        );
        assert!(
            got_npg.abs_diff(npg) <= 1,
            "NPG λ={lambda} η={eta}: {got_npg} vs {npg}"
        );
        let runs: Vec<usize> = (0..20)
            .map(|s| t_fast(Method::Smac(s), lambda, eta))
            .collect();
        let mean = runs.iter().sum::<usize>() as f64 / 20.0;
        assert!(
            (mean - smac).abs() <= 0.25 * smac,
            "SMAC λ={lambda} η={eta}: {mean} vs {smac}"
        );
        if lambda == 0.1 {
            assert!(mean < pg as f64 / 2.0, "SMAC faster than PG at λ = 0.1");
        }
        if lambda == 1.0 {
            assert!(mean > pg as f64, "SMAC slower than PG at λ = 1");
        }
    }
}

const EPSILONS: [f64; 3] = [1e-2, 1e-3, 1e-4];

/// Samples (8 per iteration) until the exact ‖∇J‖² ≤ ε, for each ε.
fn t_sample(smac: bool, seed: u64) -> [usize; 3] {
    let (n, eta, lambda) = (8, 0.1, 0.1);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut theta = vec![0.0; 3];
    let mut hit = [0usize; 3];
    for iter in 0..1_000_000 {
        let pi = softmax(&theta);
        let gsq = dot(&exact_grad(&pi), &exact_grad(&pi));
        for (k, eps) in EPSILONS.iter().enumerate() {
            if hit[k] == 0 && gsq <= *eps {
                hit[k] = iter * n;
            }
        }
        if hit[2] > 0 {
            return hit;
        }
        let arms: Vec<usize> = (0..n).map(|_| sample_arm(&pi, &mut rng)).collect();
        let baseline = arms.iter().map(|&a| REWARDS[a]).sum::<f64>() / n as f64;
        let mut g = vec![0.0; 3];
        for &a in &arms {
            let s = score(&pi, a);
            zip_eq(&mut g, &s).for_each(|(gi, si)| *gi += (REWARDS[a] - baseline) * si / n as f64);
        }
        let step = if smac {
            let u = score(&pi, arms[rng.gen_range(0..n)]);
            sherman_morrison_direction(&g, &u, lambda).d
        } else {
            g
        };
        zip_eq(&mut theta, &step).for_each(|(t, s)| *t += eta * s);
    }
    panic!("seed {seed} did not reach every ε");
}

fn median(mut xs: Vec<usize>) -> f64 {
    xs.sort();
    (xs[xs.len() / 2 - 1] + xs[xs.len() / 2]) as f64 / 2.0
}

/// Least-squares slope of log(samples) against log(1/ε).
fn slope(medians: &[f64; 3]) -> f64 {
    let xs: Vec<f64> = EPSILONS.iter().map(|e| (1.0 / e).ln()).collect();
    let ys: Vec<f64> = medians.iter().map(|m| m.ln()).collect();
    let (mx, my) = (xs.iter().sum::<f64>() / 3.0, ys.iter().sum::<f64>() / 3.0);
    let cov: f64 = zip_eq(&xs, &ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    cov / xs.iter().map(|x| (x - mx).powi(2)).sum::<f64>()
}

#[test]
fn t_sample_same_order_of_sample_complexity() {
    let collect = |smac| -> [f64; 3] {
        let runs: Vec<[usize; 3]> = (0..20).map(|s| t_sample(smac, s)).collect();
        std::array::from_fn(|k| median(runs.iter().map(|r| r[k]).collect()))
    };
    let (pg, smac) = (collect(false), collect(true));
    eprintln!(
        "median samples PG {pg:?}, SMAC {smac:?} (spec: PG 972/3232/8772, SMAC 144/796/1400)"
    );
    assert!(
        (slope(&pg) - slope(&smac)).abs() <= 0.25,
        "slopes {} vs {}",
        slope(&pg),
        slope(&smac)
    );
    for k in 0..3 {
        let ratio = smac[k] / pg[k];
        assert!(
            (0.05..=2.0).contains(&ratio),
            "ε={}: ratio {ratio}",
            EPSILONS[k]
        );
    }
}
