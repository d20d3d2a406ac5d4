//! Masked cross-entropy: prefixrl §7.10 test 2's aggregation table, exact zero gradients on
//! masked positions, agreement with plain cross-entropy, bits per token.
use lab::nn::loss::{masked_cross_entropy, Aggregation, EvalLoss};
use tch::{Device, Kind, Reduction, Tensor};

/// Logits (2, 3, 4) with per-token losses [[1, 2, 0.7], [3, 0.2, 5]] at the targets and mask
/// [[1, 1, 0], [1, 0, 0]] (the table's [1, 2, —], [3, —, —]): logits = ln p with
/// p(target) = e^{−ℓ} and the rest of the mass spread evenly, so log-softmax returns ln p.
fn table_case(kind: Kind) -> (Tensor, Tensor, Tensor) {
    let losses: [[f64; 3]; 2] = [[1.0, 2.0, 0.7], [3.0, 0.2, 5.0]];
    let targets = [[0i64, 1, 2], [3, 0, 1]];
    let mut logits = Vec::new();
    for b in 0..2 {
        for t in 0..3 {
            let p_t = (-losses[b][t]).exp();
            for v in 0..4i64 {
                let p = if v == targets[b][t] {
                    p_t
                } else {
                    (1.0 - p_t) / 3.0
                };
                logits.push(p.ln());
            }
        }
    }
    let logits = Tensor::from_slice(&logits).view([2, 3, 4]).to_kind(kind);
    let targets = Tensor::from_slice(&targets.concat()).view([2, 3]);
    let mask = Tensor::from_slice(&[true, true, false, true, false, false]).view([2, 3]);
    (logits, targets, mask)
}

#[test]
fn aggregation_modes_reproduce_the_table() {
    for (kind, tol) in [(Kind::Double, 1e-12), (Kind::Float, 1e-5)] {
        let (logits, targets, mask) = table_case(kind);
        let cases = [
            (Aggregation::TokenMean, 2.0),
            (Aggregation::SeqMean, 2.25),
            (Aggregation::ConstTrl { l_max: None }, 1.0),
            (Aggregation::ConstVerl { l_max: None }, 2.0),
            (Aggregation::ConstTrl { l_max: Some(6) }, 0.5),
            (Aggregation::ConstVerl { l_max: Some(3) }, 2.0),
        ];
        for (agg, want) in cases {
            let got = masked_cross_entropy(&logits, &targets, &mask, agg).unwrap();
            assert_eq!(got.kind(), kind);
            let got = got.double_value(&[]);
            assert!(
                (got - want).abs() < tol,
                "{agg:?} in {kind:?}: {got} vs {want}"
            );
        }
    }
}

#[test]
fn masked_positions_get_exactly_zero_gradient_and_targets_there_are_not_read() {
    let (logits, mut targets, mask) = table_case(Kind::Double);
    // Masked targets may be anything (pad, −100): they are never gathered.
    targets = targets.where_self(&mask, &Tensor::full_like(&targets, -100));
    let x = logits.set_requires_grad(true);
    for agg in [
        Aggregation::TokenMean,
        Aggregation::SeqMean,
        Aggregation::ConstTrl { l_max: None },
    ] {
        let loss = masked_cross_entropy(&x, &targets, &mask, agg).unwrap();
        let g = tch::Tensor::run_backward(&[loss], &[&x], false, false)
            .pop()
            .unwrap();
        let per_pos = g.abs().sum_dim_intlist(-1, false, Kind::Double);
        let v = Vec::<f64>::try_from(per_pos.flatten(0, -1)).unwrap();
        let m = [true, true, false, true, false, false];
        assert_eq!(v.len(), m.len());
        for (i, (g, keep)) in v.iter().zip(m).enumerate() {
            if keep {
                assert!(*g > 1e-3, "{agg:?}: kept position {i} has gradient {g}");
            } else {
                assert_eq!(*g, 0.0, "{agg:?}: masked position {i} has gradient {g}");
            }
        }
    }
}

#[test]
fn masks_agree_with_torch_cross_entropy_and_its_ignore_index() {
    tch::manual_seed(3);
    for (kind, tol) in [(Kind::Double, 1e-14), (Kind::Float, 1e-6)] {
        let logits = Tensor::randn([3, 5, 7], (kind, Device::Cpu));
        let targets = Tensor::randint(7, [3, 5], (Kind::Int64, Device::Cpu));
        let torch_ce = |t: &Tensor| {
            let none: Option<Tensor> = None;
            logits
                .view([15, 7])
                .cross_entropy_loss(&t.view([15]), none, Reduction::Mean, -100, 0.0)
        };
        let ones = Tensor::ones([3, 5], (Kind::Bool, Device::Cpu));
        let ours = masked_cross_entropy(&logits, &targets, &ones, Aggregation::TokenMean).unwrap();
        let diff = (&ours - torch_ce(&targets)).abs().double_value(&[]);
        assert!(diff < tol, "{kind:?}: {diff}");
        // Positions torch ignores (−100) are the ones our mask leaves out.
        let drop = Tensor::rand([3, 5], (Kind::Double, Device::Cpu)).lt(0.4);
        let ignored = targets.where_self(&drop.logical_not(), &targets.full_like(-100));
        let keep = drop.logical_not();
        let ours = masked_cross_entropy(&logits, &ignored, &keep, Aggregation::TokenMean).unwrap();
        let diff = (&ours - torch_ce(&ignored)).abs().double_value(&[]);
        assert!(diff < tol, "{kind:?} with ignored positions: {diff}");
        // Float weights of 1.0 are the bool mask.
        let w = keep.to_kind(kind);
        let wl = masked_cross_entropy(&logits, &ignored, &w, Aggregation::TokenMean).unwrap();
        assert_eq!(wl.double_value(&[]), ours.double_value(&[]));
    }
}

#[test]
fn empty_masks_give_zero_not_nan_and_bad_shapes_are_refused() {
    let (logits, targets, mask) = table_case(Kind::Double);
    let none = mask.zeros_like();
    for agg in [Aggregation::TokenMean, Aggregation::SeqMean] {
        let v = masked_cross_entropy(&logits, &targets, &none, agg).unwrap();
        assert_eq!(v.double_value(&[]), 0.0);
    }
    assert!(masked_cross_entropy(
        &logits,
        &targets.view([3, 2]),
        &mask,
        Aggregation::TokenMean
    )
    .is_err());
    let floats = targets.to_kind(Kind::Float);
    assert!(masked_cross_entropy(&logits, &floats, &mask, Aggregation::TokenMean).is_err());
}

#[test]
fn evaluation_loss_in_nats_and_bits_adds_up_over_batches() {
    let (logits, targets, mask) = table_case(Kind::Double);
    let mut e = EvalLoss::of(&logits, &targets, &mask).unwrap();
    assert!((e.nll_sum - 6.0).abs() < 1e-12 && e.tokens == 3.0);
    assert!((e.nats_per_token() - 2.0).abs() < 1e-12);
    assert!((e.bits_per_token() - 2.0 / std::f64::consts::LN_2).abs() < 1e-12);
    e.add(EvalLoss {
        nll_sum: 2.0,
        tokens: 1.0,
    });
    assert!((e.nats_per_token() - 2.0).abs() < 1e-12 && e.tokens == 4.0);
}

#[test]
fn entropy_of_logits_is_stable_and_exact() {
    use lab::nn::loss::entropy_of_logits;
    let v = |x: &[f64]| Tensor::from_slice(x).view([1, -1]);
    let h = |x: &[f64]| entropy_of_logits(&v(x)).double_value(&[0]);
    assert!((h(&[0.0, 0.0, 0.0, 0.0]) - 4f64.ln()).abs() < 1e-15);
    let extreme = h(&[1e4, -1e4, 0.0]);
    assert!(extreme.is_finite() && extreme.abs() < 1e-12, "{extreme}");
    // Against −Σ p ln p in f64 on moderate logits.
    let z = [0.3, -1.7, 2.2, 0.9, -0.4];
    let m = z.iter().cloned().fold(f64::MIN, f64::max);
    let e: Vec<f64> = z.iter().map(|x| (x - m).exp()).collect();
    let s: f64 = e.iter().sum();
    let want: f64 = -e.iter().map(|x| x / s * (x / s).ln()).sum::<f64>();
    assert!((h(&z) - want).abs() < 1e-14);
    // Two rows at once keep their own entropies.
    let both = entropy_of_logits(&Tensor::from_slice(&[0.0, 0.0, 5.0, 5.0]).view([2, 2]));
    assert_eq!(both.size(), vec![2]);
    assert!((both.double_value(&[1]) - 2f64.ln()).abs() < 1e-15);
}
