//! Spec §3.8 diagnostic: the exact Fisher over a batch equals the closed form for a linear
//! softmax policy, `(1/N) Σᵢ (diag(pᵢ) − pᵢpᵢᵀ) ⊗ xᵢxᵢᵀ` with `x = (φ, 1)`, and the exact
//! natural direction solves `(F + λI)x = g`.
use lab::npg::exact::{exact_fisher, ExactNatural, FisherLimit};
use lab::npg::policy::Actor;
use lab::rl::Space;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};

const K: usize = 3;

fn limit(max_params: usize) -> FisherLimit {
    FisherLimit {
        key: "cos_to_exact_max_params",
        max_params,
    }
}
const A: usize = 3;

#[test]
fn exact_fisher_of_a_linear_softmax_policy() {
    let _torch = crate::common::torch_lock();
    tch::manual_seed(0);
    let actor = Actor::new(K, &Space::Discrete(A), &[], Device::Cpu);
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let theta: Vec<f64> = (0..A * K + A).map(|_| rng.gen_range(-1.0..1.0)).collect();
    actor.params.set_flat(&theta).expect("set");
    let rows = 7;
    let obs_v: Vec<f64> = (0..rows * K).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let obs = Tensor::from_slice(&obs_v).view([rows as i64, K as i64]);
    let f = exact_fisher(&actor, &obs).expect("fisher");
    let probs = actor.head(&obs).softmax(-1, Kind::Double);
    let n = A * K + A;
    let index = |a: usize, k: usize| if k < K { a * K + k } else { A * K + a };
    let mut want = vec![vec![0.0; n]; n];
    for i in 0..rows {
        let p: Vec<f64> = (0..A)
            .map(|a| probs.double_value(&[i as i64, a as i64]))
            .collect();
        let x: Vec<f64> = obs_v[i * K..(i + 1) * K]
            .iter()
            .copied()
            .chain([1.0])
            .collect();
        for a in 0..A {
            for b in 0..A {
                let m = if a == b { p[a] } else { 0.0 } - p[a] * p[b];
                for k in 0..=K {
                    for l in 0..=K {
                        want[index(a, k)][index(b, l)] += m * x[k] * x[l] / rows as f64;
                    }
                }
            }
        }
    }
    for r in 0..n {
        for c in 0..n {
            assert!(
                (f[[r, c]] - want[r][c]).abs() < 1e-12,
                "F[{r},{c}] {} vs {}",
                f[[r, c]],
                want[r][c]
            );
        }
    }
    // The exact natural direction solves (F + λI)x = g.
    let lambda = 0.1;
    let ex = ExactNatural::new(&actor, &obs, lambda, limit(100)).expect("exact");
    let g: Vec<f64> = (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let x = ex.direction(&g).expect("solve");
    for r in 0..n {
        let fx: f64 = (0..n).map(|c| f[[r, c]] * x[c]).sum::<f64>() + lambda * x[r];
        assert!((fx - g[r]).abs() < 1e-10);
    }
    assert!((ex.cosine(&g, &x).expect("cos") - 1.0).abs() < 1e-12);
    let err = ExactNatural::new(&actor, &obs, lambda, limit(n - 1))
        .err()
        .expect("size cap");
    assert!(
        format!("{err}").contains(&format!(
            "the actor has {n} parameters, more than cos_to_exact_max_params = {}",
            n - 1
        )),
        "{err}"
    );
}
