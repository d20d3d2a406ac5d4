//! The exact n-gram model against the spec's reference numbers (§2.6, KJV) and the theory's
//! exact facts (E5, E7) on a Markov source with a known entropy rate.
use crate::data_common::kjv_text;
use lab::data::markov::{MarkovConfig, MarkovSource};
use lab::data::tokenizer::{Tokenizer, TokenizerConfig};
use lab::entropy::ngram::NGram;

/// Spec §2.6, KJV: k, distinct contexts, H_k(train), valCE(add-0.05), unseen fraction.
pub const KJV: [(usize, usize, f64, f64, f64); 6] = [
    (0, 1, 3.0199, 3.0238, 0.0),
    (1, 63, 2.2508, 2.3228, 0.0),
    (2, 1140, 1.7169, 1.8593, 0.0001),
    (4, 41736, 1.0820, 1.3702, 0.0077),
    (8, 727936, 0.6022, 2.1635, 0.2270),
    (12, 1889362, 0.2686, 3.3132, 0.6353),
];

#[test]
fn kjv_reproduces_the_spec_reference_table() {
    let text = kjv_text();
    let cfg: TokenizerConfig = serde_yaml_ng::from_str("kind: char").unwrap();
    let tok = Tokenizer::build(&cfg, &text).unwrap();
    let ids = tok.encode(&text).unwrap();
    assert_eq!((ids.len(), tok.vocab_size()), (4_137_847, 63));
    let split = ids.len() * 9 / 10;
    assert_eq!(split, 3_724_062);
    let (train, val) = ids.split_at(split);
    for (k, contexts, h_train, val_ce, unseen) in KJV {
        let m = NGram::fit(train, k, 63).unwrap();
        let v = m.held_out(val, 0.05).unwrap();
        assert_eq!(m.num_contexts(), contexts, "k = {k}: distinct contexts");
        assert!(
            (m.train_entropy() - h_train).abs() < 1e-4,
            "k = {k}: H_k {}",
            m.train_entropy()
        );
        assert!(
            (v.cross_entropy - val_ce).abs() < 1e-4,
            "k = {k}: valCE {}",
            v.cross_entropy
        );
        assert!(
            (v.unseen_fraction - unseen).abs() < 1e-4,
            "k = {k}: unseen {}",
            v.unseen_fraction
        );
        assert_eq!(v.positions, (val.len() - k) as u64);
    }
}

#[test]
fn markov_plug_in_entropy_falls_below_the_true_rate_and_with_the_order() {
    let cfg = MarkovConfig {
        vocab: 8,
        order: 2,
        alpha: 0.5,
        train_len: 5_000,
        val_len: 5_000,
        seed: 3,
    };
    let source = MarkovSource::new(&cfg).unwrap();
    let h = source.entropy_rate().unwrap();
    let (train_text, val_text) = source.generate(&cfg);
    let to_ids = |s: &str| s.bytes().map(|b| u32::from(b - b'a')).collect::<Vec<u32>>();
    let (train, val) = (to_ids(&train_text), to_ids(&val_text));
    assert!(train.iter().chain(&val).all(|&t| t < 8));
    let mut last = f64::INFINITY;
    for k in 0..=6 {
        let m = NGram::fit(&train, k, 8).unwrap();
        let hk = m.train_entropy();
        // E7: conditioning on more never raises the plug-in entropy... on the same positions;
        // with k more positions dropped the sum can move by at most k·ln V / N.
        assert!(
            hk <= last + 6.0 * 8f64.ln() / train.len() as f64,
            "k = {k}: {hk} > {last}"
        );
        last = hk;
        if k == 2 {
            let ce = m.held_out(&val, 0.05).unwrap().cross_entropy;
            assert!(
                hk < h && h < ce,
                "true order: H_2 {hk} < h {h} < valCE {ce}"
            );
            // Miller–Madow: about 64 contexts × (8 − 1) / (2 · 5000) ≈ 0.045 nats below h.
            assert!((0.015..0.09).contains(&(h - hk)), "plug-in bias {}", h - hk);
        }
    }
    assert!(last < h - 0.3, "k = 6 memorises: H_6 {last} vs h {h}");
}

#[test]
fn bad_inputs_are_refused() {
    assert!(NGram::fit(&[0, 1, 5], 1, 4).is_err());
    assert!(NGram::fit(&[0, 1], 40, 65).is_err());
    let m = NGram::fit(&[0, 1, 0, 1], 1, 2).unwrap();
    assert_eq!(m.train_entropy(), 0.0);
    assert!(m.held_out(&[0, 1], 0.0).is_err());
    assert!(m.held_out(&[0, 2], 0.1).is_err());
    let v = m.held_out(&[0, 1, 1], 1.0).unwrap();
    // contexts 0 → 1 (n(0)=2, n(0,1)=2) and 1 → 1 (n(1)=1, n(1,1)=0): add-1 over V = 2
    let want = -((3.0f64 / 4.0).ln() + (1.0f64 / 3.0).ln()) / 2.0;
    assert!((v.cross_entropy - want).abs() < 1e-15);
    assert_eq!(v.unseen_fraction, 0.0);
}

mod toys {
    use lab::entropy::toys::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Dirichlet, Distribution};

    /// Spec §2.5: H(p) = 3.5377; forward μ 35, σ 25, H 4.4187, KL 0.8813; reverse μ 25, σ 4,
    /// H 2.8052, KL 0.3567.
    #[test]
    fn forward_kl_covers_both_modes_and_reverse_picks_one() {
        let p = bimodal_target();
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!((entropy(&p) - 3.5377).abs() < 5e-5);
        let f = fit_gaussian(&p, Direction::Forward);
        let r = fit_gaussian(&p, Direction::Reverse);
        assert_eq!((f.mu, f.sigma), (35.0, 25.0));
        assert_eq!((r.mu, r.sigma), (25.0, 4.0));
        assert!(
            (f.entropy - 4.4187).abs() < 5e-5 && (f.kl - 0.8813).abs() < 5e-5,
            "{f:?}"
        );
        assert!(
            (r.entropy - 2.8052).abs() < 5e-5 && (r.kl - 0.3567).abs() < 5e-5,
            "{r:?}"
        );
    }

    #[test]
    fn entropy_gradient_matches_finite_differences() {
        let z = [0.3, -1.2, 2.0, 0.0, 0.7];
        let g = entropy_gradient(&z);
        assert_eq!(g.len(), z.len());
        for j in 0..z.len() {
            let (mut a, mut b) = (z, z);
            a[j] += 1e-6;
            b[j] -= 1e-6;
            let fd = (entropy(&softmax(&a)) - entropy(&softmax(&b))) / 2e-6;
            assert!((fd - g[j]).abs() < 1e-8, "z_{j}: {fd} vs {}", g[j]);
        }
    }

    /// Spec §2.4: from z = 0 the entropy falls monotonically to H(p̂) for small steps and rises
    /// somewhere for large ones (300 random p̂ of sizes 2–49, 3000 steps).
    #[test]
    fn small_steps_lower_entropy_monotonically_and_large_ones_do_not() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let targets: Vec<Vec<f64>> = (0..300)
            .map(|i| {
                let size = 2 + i % 48;
                Dirichlet::new_with_size(1.0, size)
                    .unwrap()
                    .sample(&mut rng)
            })
            .collect();
        let count = |eta: f64| {
            targets
                .iter()
                .filter(|p| rises(&gd_entropy_trace(p, eta, 3000), 1e-12))
                .count()
        };
        assert_eq!(count(0.1), 0);
        assert_eq!(count(1.0), 0);
        assert!(count(50.0) >= 250, "eta 50: {} of 300 rise", count(50.0));
        let p = &targets[7];
        let trace = gd_entropy_trace(p, 1.0, 3000);
        assert_eq!(trace.len(), 3001);
        assert!((trace[0] - (p.len() as f64).ln()).abs() < 1e-12);
        let gap = (trace[3000] - entropy(p)).abs();
        assert!(gap < 1e-2, "ends near H(p̂): gap {gap}");
    }
}

#[test]
fn the_interpolated_reference_model_is_a_distribution_and_mixes_seen_orders() {
    use lab::entropy::ngram::Interpolated;
    let train: Vec<u32> = [0, 1, 2, 0, 1, 2, 0, 1, 1, 2, 0, 0].to_vec();
    let m = Interpolated::fit(&train, 5, 4, 0.01).unwrap();
    for history in [
        vec![],
        vec![0],
        vec![0, 1],
        vec![2, 0, 1],
        vec![3, 3],
        vec![1, 2, 0, 1, 2, 0],
    ] {
        let total: f64 = (0..4).map(|x| m.prob(&history, x)).sum();
        assert!((total - 1.0).abs() < 1e-12, "{history:?}: {total}");
    }
    // An unseen order-1 context (3): only order 0 counts.
    let o0 = |x: u32| {
        let n = train.iter().filter(|&&t| t == x).count() as f64;
        (n + 0.01) / (12.0 + 0.04)
    };
    assert!((m.prob(&[3], 1) - o0(1)).abs() < 1e-15);
    // History [2]: order 0 (weight 1) and order 1 (weight 2; n(2) = 3, n(2,0) = 3).
    let o1 = (3.0 + 0.01) / (3.0 + 0.04);
    let want = (o0(0) + 2.0 * o1) / 3.0;
    assert!((m.prob(&[2], 0) - want).abs() < 1e-15);
    assert!(Interpolated::fit(&train, 5, 4, 0.0).is_err());
}

#[test]
fn sampling_the_exact_model_follows_its_counts() {
    use rand::SeedableRng;
    let train: Vec<u32> = [0, 1, 2, 0, 1, 2, 0, 1, 0, 2].to_vec();
    let m = NGram::fit(&train, 1, 3).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    // After 2 the only continuation seen is 0; after 1: 2 twice, 0 once.
    let s = m.sample(&[2], 1, false, &mut rng);
    assert_eq!(s, vec![0]);
    assert_eq!(m.sample(&[1], 3, true, &mut rng), vec![2, 0, 1]);
    let draws: Vec<u32> = (0..30_000)
        .map(|_| m.sample(&[1], 1, false, &mut rng)[0])
        .collect();
    let twos = draws.iter().filter(|&&x| x == 2).count() as f64 / draws.len() as f64;
    assert!((twos - 2.0 / 3.0).abs() < 0.01, "P(2 | 1) = {twos}");
    assert!(draws.iter().all(|&x| x == 0 || x == 2));
    // The context (2, 2) never occurred: the model backs off to the suffix (2), always 0.
    let m2 = NGram::fit(&train, 2, 3).unwrap();
    assert_eq!(m2.sample(&[2, 2], 1, false, &mut rng), vec![0]);
    assert_eq!(m2.sample(&[1, 2], 50, false, &mut rng).len(), 50);
}
