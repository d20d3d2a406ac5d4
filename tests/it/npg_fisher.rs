//! Spec §2.3: the Gaussian score code path on a linear-Gaussian policy a ∼ N(wᵀφ + b, σ²).
//! The autograd score of the actor (no hidden layers) must equal (a − μ)φ/σ² per sample;
//! then the Monte-Carlo average of uuᵀ over 10⁵ samples matches F = E[φφᵀ]/σ² to 3 %
//! (relative Frobenius) and the mean score is within 3 standard errors of 0.
use lab::npg::policy::Actor;
use lab::rl::Space;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use tch::{Device, Kind, Tensor};

const K: usize = 3;

fn features(rng: &mut ChaCha8Rng) -> [f64; K] {
    [
        rng.gen_range(-1.0..1.0),
        rng.gen_range(0.0..2.0),
        rng.gen_range(-0.5..0.5),
    ]
}

#[test]
fn autograd_score_is_the_linear_gaussian_score() {
    let _torch = crate::common::torch_lock();
    tch::manual_seed(0);
    let space = Space::Box {
        low: vec![-10.0],
        high: vec![10.0],
    };
    let actor = Actor::new(K, &space, &[], Device::Cpu);
    // w = (0.5, -0.3, 0.8), b = 0.1, log σ = −0.4.
    actor
        .params
        .set_flat(&[0.5, -0.3, 0.8, 0.1, -0.4])
        .expect("set");
    let sigma = (-0.4f64).exp();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for _ in 0..50 {
        let phi = features(&mut rng);
        let mean = 0.5 * phi[0] - 0.3 * phi[1] + 0.8 * phi[2] + 0.1;
        let a = mean + sigma * rng.gen_range(-2.0..2.0);
        let obs = Tensor::from_slice(&phi).view([1, K as i64]);
        let act = Tensor::from_slice(&[a]).view([1, 1]);
        let u = actor
            .params
            .grad(&actor.log_prob(&obs, &act).sum(Kind::Double));
        // ∂/∂w_j = (a − μ)φ_j/σ², ∂/∂b = (a − μ)/σ², ∂/∂log σ = (a − μ)²/σ² − 1.
        let z = (a - mean) / sigma;
        let mut want: Vec<f64> = phi.iter().map(|p| z * p / sigma).collect();
        want.extend([z / sigma, z * z - 1.0]);
        assert_eq!(u.len(), want.len(), "parameters: w, b, log σ");
        for (j, name) in ["w0", "w1", "w2", "b", "log σ"].iter().enumerate() {
            assert!(
                (u[j] - want[j]).abs() <= 1e-12 * want[j].abs().max(1.0),
                "{name}: {} vs {}",
                u[j],
                want[j]
            );
        }
    }
}

#[test]
fn monte_carlo_fisher_of_the_score_matches_the_exact_fisher() {
    let sigma = 0.7;
    let w = [0.5, -0.3, 0.8];
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let n = 100_000;
    let (mut emp, mut exact) = ([[0.0; K]; K], [[0.0; K]; K]);
    let mut mean_u = [0.0; K];
    let mut sq_u = [0.0; K];
    for _ in 0..n {
        let phi = features(&mut rng);
        let mu: f64 = w.iter().zip(&phi).map(|(a, b)| a * b).sum();
        let z: f64 = StandardNormal.sample(&mut rng);
        let a = mu + sigma * z;
        let u: Vec<f64> = phi.iter().map(|p| (a - mu) * p / (sigma * sigma)).collect();
        for i in 0..K {
            mean_u[i] += u[i] / n as f64;
            sq_u[i] += u[i] * u[i] / n as f64;
            for j in 0..K {
                emp[i][j] += u[i] * u[j] / n as f64;
                exact[i][j] += phi[i] * phi[j] / (sigma * sigma) / n as f64;
            }
        }
    }
    let fro = |m: &[[f64; K]; K]| m.iter().flatten().map(|x| x * x).sum::<f64>().sqrt();
    let mut diff = [[0.0; K]; K];
    for i in 0..K {
        for j in 0..K {
            diff[i][j] = emp[i][j] - exact[i][j];
        }
    }
    let rel = fro(&diff) / fro(&exact);
    assert!(rel <= 0.03, "relative Frobenius error {rel}");
    for i in 0..K {
        let se = ((sq_u[i] - mean_u[i] * mean_u[i]) / n as f64).sqrt();
        assert!(
            mean_u[i].abs() <= 3.0 * se,
            "mean score {i}: {} (s.e. {se})",
            mean_u[i]
        );
    }
}
