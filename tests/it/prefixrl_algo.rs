//! prefixrl::algo's loss pieces against the spec's numbers (§7.10 items 1, 2, 3, 12), closed
//! forms and autograd: advantages, aggregation, PPO clip, importance weights, LUFFY and KL.
//! pass@k, FLOPs and §5.2 (items 7, 8): `prefixrl_algo_metrics`.
use crate::common::zip_eq;
use lab::prefixrl::algo::*;
use tch::{Kind, Tensor};

pub fn close(got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= tol, "{got:?} vs {want:?}");
    }
}

fn t2(rows: &[&[f64]]) -> Tensor {
    let cols = rows[0].len() as i64;
    Tensor::from_slice(&rows.concat()).view([rows.len() as i64, cols])
}

fn values(t: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(t.to_kind(Kind::Double).flatten(0, -1)).unwrap()
}

fn scalar(t: &Tensor) -> f64 {
    t.double_value(&[])
}

// ---- §7.10 item 1: advantages ----

#[test]
fn advantages_reproduce_the_spec_table() {
    let (s, f) = (2.474867, -0.353552);
    let one_of_eight = [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
    let expand = |a: f64, b: f64| one_of_eight.map(|r| if r == 1.0 { a } else { b }).to_vec();
    let rows: Vec<(Vec<f64>, [Vec<f64>; 3])> = vec![
        (
            vec![1.0, 0.0, 0.0, 1.0],
            [
                vec![0.866024, -0.866024, -0.866024, 0.866024],
                vec![0.5, -0.5, -0.5, 0.5],
                vec![0.666667, -0.666667, -0.666667, 0.666667],
            ],
        ),
        (
            one_of_eight.to_vec(),
            [expand(s, f), expand(0.875, -0.125), expand(1.0, -0.142857)],
        ),
        (
            vec![1.0, 1.0, 0.0],
            [
                vec![0.577349, 0.577349, -1.154699],
                vec![0.333333, 0.333333, -0.666667],
                vec![0.5, 0.5, -1.0],
            ],
        ),
        (vec![0.0; 4], [vec![0.0; 4], vec![0.0; 4], vec![0.0; 4]]),
    ];
    let kinds = [
        AdvantageKind::Grpo,
        AdvantageKind::Mean,
        AdvantageKind::Rloo,
    ];
    for (rewards, wants) in &rows {
        for (kind, want) in kinds.iter().zip(wants) {
            let got = advantages(std::slice::from_ref(rewards), *kind, 1e-6);
            close(&got[0], want, 1e-5);
        }
    }
    // All groups in one call give the same as one at a time (no cross-group leakage).
    let groups: Vec<Vec<f64>> = rows.iter().map(|r| r.0.clone()).collect();
    let all = advantages(&groups, AdvantageKind::Grpo, 1e-6);
    for (a, (_, wants)) in zip_eq(&all, &rows) {
        close(a, &wants[0], 1e-5);
    }
}

#[test]
fn batch_std_uses_the_whole_batch_and_edge_groups_are_finite() {
    let groups = vec![vec![1.0, 0.0, 0.0, 1.0], vec![1.0, 1.0, 0.0]];
    let all: Vec<f64> = groups.concat();
    let m = all.iter().sum::<f64>() / 7.0;
    let s = (all.iter().map(|r| (r - m).powi(2)).sum::<f64>() / 6.0).sqrt();
    let got = advantages(&groups, AdvantageKind::BatchStd, 1e-4);
    close(
        &got[0],
        &[0.5, -0.5, -0.5, 0.5].map(|a| a / (s + 1e-4)),
        1e-12,
    );
    let third = |r: f64| (r - 2.0 / 3.0) / (s + 1e-4);
    close(&got[1], &[third(1.0), third(1.0), third(0.0)], 1e-12);
    // verl's size-1 convention: mean 0, std 1.
    let single = vec![vec![1.0]];
    close(
        &advantages(&single, AdvantageKind::Mean, 1e-6)[0],
        &[1.0],
        0.0,
    );
    close(
        &advantages(&single, AdvantageKind::Rloo, 1e-6)[0],
        &[1.0],
        0.0,
    );
    close(
        &advantages(&single, AdvantageKind::Grpo, 1e-6)[0],
        &[1.0 / (1.0 + 1e-6)],
        1e-15,
    );
    // Zero-std groups give exactly 0 even with ε = 0, in every kind.
    for kind in [
        AdvantageKind::Grpo,
        AdvantageKind::BatchStd,
        AdvantageKind::Rloo,
    ] {
        let a = advantages(&[vec![0.1; 3], vec![1.0; 2]], kind, 0.0);
        assert!(a.concat().iter().all(|&x| x == 0.0), "{kind:?}: {a:?}");
    }
}

#[test]
fn advantage_names_and_group_stats() {
    for (name, kind) in [
        ("grpo", AdvantageKind::Grpo),
        ("mean", AdvantageKind::Mean),
        ("rloo", AdvantageKind::Rloo),
        ("batchstd", AdvantageKind::BatchStd),
    ] {
        let parsed: AdvantageKind = serde_json::from_str(&format!("\"{name}\"")).unwrap();
        assert_eq!(parsed, kind);
        assert_eq!(name.parse::<AdvantageKind>().unwrap(), kind);
    }
    let err = "drgrpo".parse::<AdvantageKind>().unwrap_err().to_string();
    assert!(
        err.contains("`drgrpo`") && err.contains("batchstd"),
        "{err}"
    );
    let groups = vec![
        vec![0.0; 4],
        vec![1.0; 4],
        vec![1.0, 0.0, 0.0, 0.0],
        vec![0.0; 2],
    ];
    let adv = advantages(&groups, AdvantageKind::Grpo, 1e-6);
    let stats = group_stats(&groups, &adv);
    assert_eq!(
        stats,
        GroupStats {
            all_zero: 0.5,
            all_one: 0.25,
            nonzero_adv: 0.25
        }
    );
    assert_eq!(group_stats(&[], &[]), GroupStats::default());
}

// ---- §7.10 item 2: aggregation ----

#[test]
fn aggregation_reproduces_the_table_and_ignores_masked_positions() {
    let nan = f64::NAN; // masked losses may be anything: they never leak
    let losses = t2(&[&[1.0, 2.0, nan], &[3.0, nan, f64::INFINITY]]).set_requires_grad(true);
    let mask = t2(&[&[1.0, 1.0, 0.0], &[1.0, 0.0, 0.0]]);
    let cases = [
        (Agg::Token, 2.0),
        (Agg::Seq, 2.25),
        (Agg::Const, 1.0),
        (Agg::ConstVerl, 2.0),
        (Agg::Global, 0.5),
    ];
    for (agg, want) in cases {
        let got = aggregate(&losses, &mask, agg, 3, Some(12.0)).unwrap();
        assert!((scalar(&got) - want).abs() < 1e-12, "{agg:?}: {got}");
        let grad = Tensor::run_backward(&[got], &[&losses], false, false);
        let g = values(&grad[0]);
        assert!(g.iter().all(|x| x.is_finite()), "{agg:?}: {g:?}");
        assert_eq!([g[2], g[4], g[5]], [0.0; 3], "{agg:?}");
        assert!(g[0] > 0.0 && g[3] > 0.0, "{agg:?}: {g:?}");
    }
    let seq_grad = {
        let got = aggregate(&losses, &mask, Agg::Seq, 3, None).unwrap();
        values(&Tensor::run_backward(&[got], &[&losses], false, false)[0])
    };
    close(&seq_grad, &[0.25, 0.25, 0.0, 0.5, 0.0, 0.0], 1e-12);
    let empty = aggregate(&losses, &mask.zeros_like(), Agg::Token, 3, None).unwrap();
    assert_eq!(scalar(&empty), 0.0);
    assert!(aggregate(&losses, &mask, Agg::Global, 3, None).is_err());
    assert!(aggregate(&losses, &mask, Agg::Const, 0, None).is_err());
    assert!(aggregate(&losses, &mask.view([6]), Agg::Token, 3, None).is_err());
    for (name, agg) in [("token", Agg::Token), ("const-verl", Agg::ConstVerl)] {
        assert_eq!(
            serde_json::from_str::<Agg>(&format!("\"{name}\"")).unwrap(),
            agg
        );
        assert_eq!(name.parse::<Agg>().unwrap(), agg);
    }
    assert!("mean"
        .parse::<Agg>()
        .unwrap_err()
        .to_string()
        .contains("`mean`"));
}

// ---- §7.10 item 3: PPO clip ----

#[test]
fn ppo_clip_reproduces_the_spec_numbers() {
    let loss = |rho: f64, a: f64, dual: Option<f64>| {
        let r = Tensor::from_slice(&[rho]);
        scalar(&ppo_clip(&r, &Tensor::from_slice(&[a]), 0.2, 0.2, dual).squeeze())
    };
    assert!((-loss(1.5, 1.0, None) - 1.2).abs() < 1e-12);
    assert!((-loss(0.5, -1.0, None) - -0.8).abs() < 1e-12);
    assert!((loss(10.0, -1.0, None) - 10.0).abs() < 1e-12);
    assert!((loss(10.0, -1.0, Some(3.0)) - 3.0).abs() < 1e-12);
    // The dual clip leaves positive advantages and small ratios alone.
    assert!((-loss(10.0, 1.0, Some(3.0)) - 1.2).abs() < 1e-12);
    assert!((-loss(0.5, -1.0, Some(3.0)) - -0.8).abs() < 1e-12);
    // Per-sequence advantages (B, 1) broadcast over tokens (B, T); ratio 1 gives −A.
    let ratio = Tensor::ones([2, 3], (Kind::Double, tch::Device::Cpu));
    let adv = t2(&[&[2.0], &[-1.0]]);
    let l = ppo_clip(&ratio, &adv, 0.2, 0.28, Some(3.0));
    close(&values(&l), &[-2.0, -2.0, -2.0, 1.0, 1.0, 1.0], 1e-12);
}

// ---- §7.10 item 12: importance weights and LUFFY ----

#[test]
fn importance_weights_are_one_on_policy_and_follow_the_formula() {
    let logp = t2(&[&[-0.5, -1.5, -2.0], &[-0.1, -3.0, -0.7]]).set_requires_grad(true);
    let mask = t2(&[&[1.0, 1.0, 0.0], &[1.0, 1.0, 1.0]]);
    for level in [IsLevel::Token, IsLevel::Sequence] {
        let w = is_weights(&logp, &logp.detach(), &mask, IsClip::None, level, 0.2).unwrap();
        close(&values(&w), &[1.0, 1.0, 0.0, 1.0, 1.0, 1.0], 1e-6);
    }
    let behaviour = t2(&[&[-0.7, -1.0, f64::NAN], &[-0.1, -2.0, -1.0]]);
    let tok = is_weights(&logp, &behaviour, &mask, IsClip::None, IsLevel::Token, 0.2).unwrap();
    let want_tok = [
        0.2f64.exp(),
        (-0.5f64).exp(),
        0.0,
        1.0,
        (-1.0f64).exp(),
        0.3f64.exp(),
    ];
    close(&values(&tok), &want_tok, 1e-12);
    // d Σw / d logp = w (behaviour log-probs are a stop-gradient).
    let g = Tensor::run_backward(&[tok.sum(Kind::Double)], &[&logp], false, false);
    close(&values(&g[0]), &want_tok, 1e-12);
    let seq = is_weights(
        &logp,
        &behaviour,
        &mask,
        IsClip::None,
        IsLevel::Sequence,
        0.2,
    )
    .unwrap();
    let (s0, s1) = ((-0.3f64).exp(), (-0.7f64).exp());
    close(&values(&seq), &[s0, s0, 0.0, s1, s1, s1], 1e-12);
    let ppo = is_weights(&logp, &behaviour, &mask, IsClip::Ppo, IsLevel::Token, 0.2).unwrap();
    close(&values(&ppo), &[1.2, 0.8, 0.0, 1.0, 0.8, 1.2], 1e-12);
    let max = is_weights(
        &logp,
        &behaviour,
        &mask,
        IsClip::Max(1.1),
        IsLevel::Token,
        0.2,
    );
    let m = [1.1, (-0.5f64).exp(), 0.0, 1.0, (-1.0f64).exp(), 1.1];
    close(&values(&max.unwrap()), &m, 1e-12);
    assert!(is_weights(
        &logp,
        &behaviour.view([6]),
        &mask,
        IsClip::None,
        IsLevel::Token,
        0.2
    )
    .is_err());
}

#[test]
fn is_clip_and_level_parse_from_strings() {
    assert_eq!("none".parse::<IsClip>().unwrap(), IsClip::None);
    assert_eq!("ppo".parse::<IsClip>().unwrap(), IsClip::Ppo);
    assert_eq!("max:2.5".parse::<IsClip>().unwrap(), IsClip::Max(2.5));
    let yaml: IsClip = serde_yaml_ng::from_str("max:3").unwrap();
    assert_eq!(yaml, IsClip::Max(3.0));
    assert_eq!(
        serde_json::to_string(&IsClip::Max(3.0)).unwrap(),
        "\"max:3\""
    );
    for bad in ["max:x", "max:-1", "max:", "clip", "max:inf"] {
        let err = bad.parse::<IsClip>().unwrap_err().to_string();
        assert!(err.contains(&format!("`{bad}`")), "{bad}: {err}");
        let via_serde = serde_json::from_str::<IsClip>(&format!("\"{bad}\""));
        assert!(via_serde.unwrap_err().to_string().contains(bad));
    }
    assert_eq!("sequence".parse::<IsLevel>().unwrap(), IsLevel::Sequence);
    assert_eq!(
        serde_json::from_str::<IsLevel>("\"token\"").unwrap(),
        IsLevel::Token
    );
    assert!("seq"
        .parse::<IsLevel>()
        .unwrap_err()
        .to_string()
        .contains("`seq`"));
}

#[test]
fn luffy_shaping_value_and_autograd_derivative() {
    let gamma = 0.1;
    let ps = [0.01, 0.3, 0.9];
    let logp = Tensor::from_slice(&ps.map(f64::ln)).set_requires_grad(true);
    let f = luffy_shape(&logp, gamma);
    assert!((values(&f)[0] - 0.0909090909).abs() < 1e-9);
    close(&values(&f), &ps.map(|p| p / (p + gamma)), 1e-12);
    let g = Tensor::run_backward(&[f.sum(Kind::Double)], &[&logp], false, false);
    close(
        &values(&g[0]),
        &ps.map(|p| gamma / (p + gamma).powi(2) * p),
        1e-12,
    );
}

// ---- KL ----

#[test]
fn kl_estimators_and_exact_kl() {
    let logp = Tensor::from_slice(&[0.5f64.ln(), 0.0, -1.0]);
    let logp_ref = Tensor::from_slice(&[0.25f64.ln(), 30.0, -1.0]);
    let d = 0.5f64.ln(); // δ = log π_ref − log π_θ of the first entry
    close(&values(&kl_k1(&logp, &logp_ref)), &[-d, -30.0, 0.0], 1e-12);
    close(
        &values(&kl_k2(&logp, &logp_ref)),
        &[d * d / 2.0, 450.0, 0.0],
        1e-12,
    );
    close(
        &values(&kl_k3(&logp, &logp_ref)),
        &[d.exp() - d - 1.0, 10.0, 0.0],
        1e-12,
    );
    // p = (1/4, 3/4) against q = (1/2, 1/2), at the first of two positions.
    let logits = Tensor::from_slice(&[0.0, 3f64.ln(), 1.0, 1.0]).view([1, 2, 2]);
    let refs = Tensor::from_slice(&[5.0, 5.0, 1.0, 1.0]).view([1, 2, 2]);
    let want = 0.25 * 0.5f64.ln() + 0.75 * 1.5f64.ln();
    close(
        &values(&exact_kl(&logits, &refs).unwrap()),
        &[want, 0.0],
        1e-12,
    );
    tch::manual_seed(7);
    let a = Tensor::randn([3, 5, 11], (Kind::Float, tch::Device::Cpu)) * 3.0;
    let b = Tensor::randn([3, 5, 11], (Kind::Float, tch::Device::Cpu)) * 3.0;
    let self_kl = exact_kl(&a, &a).unwrap();
    assert_eq!(self_kl.size(), [3, 5]);
    assert_eq!(self_kl.kind(), Kind::Float);
    assert!(values(&self_kl).iter().all(|&x| x.abs() < 1e-6));
    let kl = values(&exact_kl(&a, &b).unwrap());
    assert!(
        kl.iter().all(|&x| x >= 0.0) && kl.iter().any(|&x| x > 0.1),
        "{kl:?}"
    );
    assert!(exact_kl(&a, &b.narrow(2, 0, 10)).is_err());
}
