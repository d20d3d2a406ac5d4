//! prefixrl::algo's measures against the spec's numbers (§7.10 items 7, 8; §5.2): pass@k by
//! brute-force enumeration, the FLOPs model against an independent loop and nn::flops, and
//! "k× faster" (EMA, FLOPs to target, speedup, final ratio) on hand series. The loss pieces:
//! `prefixrl_algo`.
use super::prefixrl_algo::close;
use lab::nn::{self, ModelConfig, Variant};
use lab::prefixrl::algo::*;
use lab::prefixrl::stages::evaluate_parts::{pass_at, successes};

// ---- §7.10 item 7: pass@k ----

#[test]
fn pass_at_averages_the_unbiased_estimator_over_problems() {
    let v = pass_at(&[0, 2, 8], 8, 1).unwrap().unwrap();
    assert!((v - (0.0 + 0.25 + 1.0) / 3.0).abs() < 1e-12);
    let v = pass_at(&[1, 0], 4, 2).unwrap().unwrap();
    assert!(
        (v - 0.5 * 0.5).abs() < 1e-12,
        "1 − C(3,2)/C(4,2) = 1/2, mean 1/4"
    );
    assert_eq!(pass_at(&[1], 4, 8).unwrap(), None, "k > samples");
    assert_eq!(pass_at(&[], 4, 1).unwrap(), None, "no problems");
    assert_eq!(successes(&[1.0, 0.0, 1.0, 1.0, 0.0, 0.0], 3), vec![2, 1]);
}

#[test]
fn pass_at_k_reproduces_the_spec_and_brute_force() {
    let cases = [
        (10, 3, 1, 0.3),
        (10, 3, 5, 0.916667),
        (4, 1, 2, 0.5),
        (10, 0, 5, 0.0),
    ];
    for (n, c, k, want) in cases {
        assert!(
            (pass_at_k(n, c, k).unwrap() - want).abs() < 1e-6,
            "{n} {c} {k}"
        );
    }
    assert_eq!(pass_at_k(10, 10, 3).unwrap(), 1.0);
    assert!(pass_at_k(4, 1, 5).is_err() && pass_at_k(4, 1, 0).is_err());
    assert!(pass_at_k(4, 5, 2).is_err());
    // Brute force: the share of k-subsets of n samples (the first c correct) holding a correct one.
    for n in 1..=8u64 {
        for c in 0..=n {
            for k in 1..=n {
                let subsets = (0u32..1 << n).filter(|s| s.count_ones() as u64 == k);
                let (hit, total) = subsets.fold((0, 0), |(h, t), s| {
                    (h + u64::from(s & ((1u32 << c) - 1) != 0), t + 1)
                });
                let want = hit as f64 / total as f64;
                let got = pass_at_k(n, c, k).unwrap();
                assert!(
                    (got - want).abs() < 1e-12,
                    "n {n} c {c} k {k}: {got} vs {want}"
                );
            }
        }
    }
}

// ---- §7.10 item 8: FLOPs ----

/// The `smoke` shape: d 32, 1 layer, d_ff 128 (gpt-nano), vocabulary 22.
fn smoke() -> (ModelConfig, FlopsModel) {
    let cfg = ModelConfig::gpt_nano();
    let fm = FlopsModel::new(&cfg, 22).unwrap();
    (cfg, fm)
}

#[test]
fn flops_match_an_independent_loop_and_nn_flops() {
    let (cfg, fm) = smoke();
    assert_eq!((fm.layers, fm.d_model, fm.d_ff, fm.vocab), (1, 32, 128, 22));
    let f_fwd = |t: u64| {
        let (l, d, f, v) = (1.0, 32.0, 128.0, 22.0);
        2.0 * l * (4.0 * d * d + 2.0 * d * f) + 4.0 * l * d * (t as f64 + 1.0) + 2.0 * d * v
    };
    let mut forward_sum = 0.0;
    for t in 0..=(8 + 4 - 2) {
        forward_sum += f_fwd(t);
    }
    assert_eq!(fm.sampling(8, 4), forward_sum);
    assert_eq!(fm.training(12), 3.0 * forward_sum);
    for t in 0..64 {
        assert_eq!(fm.forward_at(t), f_fwd(t));
        assert_eq!(
            fm.forward_at(t),
            nn::flops::decode_step(&cfg, 22, 1, t as i64 + 1)
        );
    }
    for (c, g) in [(0, 0), (1, 0), (0, 1), (1, 1), (5, 9)] {
        let by_loop: f64 = (0..(c + g) as i64 - 1).map(|t| f_fwd(t as u64)).sum();
        assert_eq!(fm.sampling(c, g), by_loop, "c {c} g {g}");
    }
    let mut tiny = ModelConfig::gpt_tiny();
    tiny.d_ff = 100;
    let ft = FlopsModel::new(&tiny, 30).unwrap();
    assert_eq!((ft.layers, ft.d_ff), (2, 100));
    assert_eq!(ft.forward_at(9), nn::flops::decode_step(&tiny, 30, 1, 10));
}

#[test]
fn flops_refuse_other_models() {
    let err = FlopsModel::new(&ModelConfig::gru(), 22)
        .unwrap_err()
        .to_string();
    assert!(err.contains("Gru"), "{err}");
    let mut llama = ModelConfig::gpt_nano();
    llama.variant = Variant::Llama;
    assert!(FlopsModel::new(&llama, 22).is_err());
    let err = FlopsModel::new(&ModelConfig::gpt_nano(), 0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("vocab_size"), "{err}");
}

// ---- §5.2: "k× faster" ----

#[test]
fn ema_speedup_and_final_ratio_on_hand_series() {
    // span 3 → α = 0.5.
    close(
        &ema(&[0.0, 1.0, 1.0, 1.0], 3).unwrap(),
        &[0.0, 0.5, 0.75, 0.875],
        1e-15,
    );
    close(&ema(&[0.2, 0.4], 1).unwrap(), &[0.2, 0.4], 1e-15);
    assert!(ema(&[1.0], 0).is_err());
    let x = [10.0, 20.0, 30.0, 40.0];
    let y = [0.0, 1.0, 1.0, 1.0];
    assert_eq!(flops_to_target(&x, &y, 0.7, 3).unwrap(), Some(30.0));
    assert_eq!(flops_to_target(&x, &y, 0.5, 3).unwrap(), Some(20.0));
    assert_eq!(flops_to_target(&x, &y, 0.9, 3).unwrap(), None);
    assert_eq!(flops_to_target(&x, &y, 0.0, 3).unwrap(), Some(10.0));
    assert!(flops_to_target(&x[..3], &y, 0.5, 3).is_err());
    assert!(flops_to_target(&x, &[0.0, f64::NAN, 1.0, 1.0], 0.5, 3).is_err());
    assert_eq!(
        final_mean(&[0.1, 0.2, 0.4, 0.6], 3),
        Some((0.2 + 0.4 + 0.6) / 3.0)
    );
    assert_eq!(final_mean(&[0.5], 3), Some(0.5));
    assert_eq!(final_mean(&[], 3), None);
    assert_eq!(speedup(Some(120.0), Some(30.0)), Some(4.0));
    assert_eq!(speedup(None, Some(30.0)), None);
    assert_eq!(speedup(Some(120.0), Some(0.0)), None);
    assert_eq!(final_ratio(Some(0.75), Some(0.5)), Some(1.5));
    assert_eq!(final_ratio(Some(0.6), Some(0.0)), None);
}
