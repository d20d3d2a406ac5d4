//! The Kronecker form (`cov = kron`): §6.8 test 17 (the Woodbury recursion tracks the inverse
//! of the K-FAC EMA factor) and the `RKalmanKron` stepper.
use super::step::{data, step_on, Mlp};
use super::{copy_weights, randn};
use lab::grng::rkalman::kron::{gram, rows_into, track_inverse, track_inverse_direct};
use lab::grng::rkalman::{build, CovForm, RKalmanConfig, RKalmanKron, StatsDtype};
use lab::optim::stepper::Stepper;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};

fn rel_err(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[]) / b.abs().max().double_value(&[])
}

/// §6.8 test 17: over 200 steps P equals (β A + ((1−β)/m) xᵀx)⁻¹ of the directly computed
/// EMA factor: 1e-8 relative in f64, 1e-4 in f32; with m > k rows the k×k path agrees.
#[test]
fn woodbury_recursion_tracks_the_ema_factor_inverse() {
    for (kind, tol) in [(Kind::Double, 1e-8), (Kind::Float, 1e-4)] {
        let mut rng = ChaCha8Rng::seed_from_u64(17);
        let (k, m, beta, sigma) = (6, 4, 0.95, 0.7);
        let eye = Tensor::eye(k, (Kind::Double, Device::Cpu));
        let mut a = &eye / sigma;
        let mut p = (&eye * sigma).to_kind(kind);
        for step in 0..200 {
            let x = randn(&mut rng, &[m, k]) * 1.5 + 0.3;
            a = a * beta + x.tr().matmul(&x) * ((1.0 - beta) / m as f64);
            p = track_inverse(&p, &x.to_kind(kind), beta)
                .unwrap()
                .expect("positive definite");
            let err = rel_err(&p.to_kind(Kind::Double), &Tensor::linalg_inv(&a));
            assert!(err < tol, "{kind:?} step {step}: relative error {err}");
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(170);
    let p = Tensor::eye(3, (Kind::Double, Device::Cpu)) * 0.8;
    let x = randn(&mut rng, &[7, 3]);
    let woodbury = lab::grng::rkalman::dense::measurement_update(&p, &x, None, 0.9 * 7.0 / 0.1)
        .unwrap()
        .unwrap()
        / 0.9;
    let direct = track_inverse_direct(&p, &x, 0.9).unwrap().unwrap();
    assert!(
        rel_err(&direct, &woodbury) < 1e-12,
        "paths differ by {}",
        rel_err(&direct, &woodbury)
    );
    assert!(
        track_inverse(&p, &x, 0.9).unwrap().unwrap().equal(&direct),
        "m > k takes the k×k path"
    );
}

/// The panel Gram equals xᵀx to rounding (and, where it uses panels, is exactly symmetric)
/// below, at and above twice its panel width (a narrow last panel included); rows written into a reused buffer equal the
/// source with the ones column, also after the buffer is reused and when the rows change.
#[test]
fn panel_gram_and_row_buffers_match_the_plain_forms() {
    let mut rng = ChaCha8Rng::seed_from_u64(171);
    for k in [5, 128, 129, 200, 257] {
        let x = randn(&mut rng, &[300, k]);
        let (g, full) = (gram(&x), x.tr().matmul(&x));
        assert!(rel_err(&g, &full) < 1e-13, "k {k}: {}", rel_err(&g, &full));
        assert!(k <= 128 || g.equal(&g.tr()), "k {k}: not symmetric");
    }
    let mut buf = None;
    for (m, seed) in [(6, 1.0), (6, 2.0), (4, 3.0)] {
        let src = (randn(&mut rng, &[m, 2, 3]) * seed).to_kind(Kind::Float);
        let rows = rows_into(&mut buf, &src, 3, true, StatsDtype::F64);
        let ones = Tensor::ones([2 * m, 1], (Kind::Double, Device::Cpu));
        let want = Tensor::cat(&[src.to_kind(Kind::Double).reshape([-1, 3]), ones], 1);
        assert!(rows.equal(&want), "rows {m}");
    }
    let plain = rows_into(
        &mut None,
        &Tensor::ones([2, 2], (Kind::Float, Device::Cpu)),
        2,
        false,
        StatsDtype::F64,
    );
    assert_eq!(plain.size(), [2, 2]);
    // `model`: rows that outnumber their columns keep the source's kind (the buffer follows
    // the kind); the others are f64 for their Woodbury system.
    let mut buf = None;
    for (m, kind) in [(2, Kind::Float), (1, Kind::Double), (2, Kind::Float)] {
        let src = randn(&mut rng, &[m, 3, 3]).to_kind(Kind::Float);
        let rows = rows_into(&mut buf, &src, 3, true, StatsDtype::Model);
        assert_eq!(rows.kind(), kind, "{m} x 3 rows of 4 columns");
        let ones = Tensor::ones([3 * m, 1], (Kind::Float, Device::Cpu));
        let want = Tensor::cat(&[src.reshape([-1, 3]), ones], 1).to_kind(kind);
        assert!(rows.equal(&want), "rows {m}");
    }
    let half = randn(&mut rng, &[4, 3]).to_kind(Kind::BFloat16);
    let rows = rows_into(&mut None, &half, 3, false, StatsDtype::Model);
    assert_eq!(rows.kind(), Kind::Float, "half-precision rows are widened");
    assert!(rows.equal(&half.to_kind(Kind::Float)));
}

fn kron_config(rho: f64) -> RKalmanConfig {
    RKalmanConfig {
        cov: CovForm::Kron,
        rho,
        beta: 0.9,
        lr: 0.5,
        seed: 3,
        ..Default::default()
    }
}

/// Training lowers the loss; the first layer's P_A is the inverse of the EMA of its inputs
/// (with the bias column), exactly.
#[test]
fn kron_stepper_trains_and_tracks_its_input_factor() {
    let (x, y) = data(32, 4, 21);
    let model = Mlp::new(&[4, 6, 3], 22, false, false);
    let cfg = kron_config(0.1);
    let mut opt = RKalmanKron::new(&model.vs, &cfg).unwrap();
    let ones = Tensor::ones([32, 1], (Kind::Double, Device::Cpu));
    let rows = Tensor::cat(&[&x, &ones], 1);
    let mut a = Tensor::eye(5, (Kind::Double, Device::Cpu)); // σ0 = 1
    let mut losses = Vec::new();
    for _ in 0..40 {
        let r = step_on(&mut opt, &model, &x, &y).unwrap();
        assert!(!r.nonfinite_skipped && r.kl_clip_scale.is_some_and(|nu| nu > 0.0 && nu <= 1.0));
        a = a * cfg.beta + rows.tr().matmul(&rows) * ((1.0 - cfg.beta) / 32.0);
        losses.push(r.loss);
    }
    let layer = &opt.layers()[0];
    assert_eq!(layer.weight, "l0.weight");
    let err = rel_err(&layer.p_a, &Tensor::linalg_inv(&a));
    assert!(err < 1e-8, "P_A off by {err} (relative)");
    let last = losses[35..].iter().sum::<f64>() / 5.0;
    assert!(last < 0.6 * losses[0], "loss {} -> {last}", losses[0]);
}

/// Save after 10 steps, resume into a fresh model and optimizer: 10 more steps are bitwise
/// equal to an uninterrupted run, with statistics every step and every third step (saved
/// mid-interval). A parameter outside the linear layers takes the fallback.
#[test]
fn kron_resume_is_bitwise_equal_and_odd_parameters_take_the_fallback() {
    let (x, y) = data(16, 4, 23);
    let run = |model: &Mlp, opt: &mut Box<dyn Stepper>, steps: usize| {
        for _ in 0..steps {
            step_on(&mut **opt, model, &x, &y).unwrap();
        }
    };
    for t_stat in [1, 3] {
        let cfg = RKalmanConfig {
            t_stat,
            ..kron_config(0.05)
        };
        let a = Mlp::new(&[4, 5, 3], 24, false, false);
        let mut opt_a = build(&a.vs, &cfg).unwrap();
        run(&a, &mut opt_a, 10);
        let state = opt_a.state_dict().unwrap();
        let weights = a.weights();
        run(&a, &mut opt_a, 10);
        let b = Mlp::new(&[4, 5, 3], 25, false, false);
        copy_weights(&b.vs, &weights);
        let mut opt_b = build(&b.vs, &cfg).unwrap();
        opt_b.load_state_dict(&state).unwrap();
        run(&b, &mut opt_b, 10);
        assert_eq!(a.weights(), b.weights(), "t_stat {t_stat}");
        assert_eq!(opt_b.steps_done(), 20);
    }

    let cfg = kron_config(0.05);
    let extra = Mlp::new(&[4, 3], 26, true, false);
    let mut opt = RKalmanKron::new(&extra.vs, &cfg).unwrap();
    let scale = extra
        .weights()
        .into_iter()
        .find(|(n, _)| n == "extra.scale")
        .unwrap()
        .1;
    step_on(&mut opt, &extra, &x, &y).unwrap();
    assert_eq!(opt.fallback_params(), ["extra.scale"]);
    let moved = extra
        .weights()
        .into_iter()
        .find(|(n, _)| n == "extra.scale")
        .unwrap()
        .1;
    // `extra.scale` is outside the graph: no gradient, so the fallback leaves it alone.
    assert!(moved.equal(&scale));
}

/// `t_stat: 3` (§2.5): the factors take the batch statistics on steps 0, 3, 6, 9 only (P_A is
/// then the inverse of the EMA over those four batches, exactly) and stay bitwise unchanged in
/// between, while the weights move on every step.
#[test]
fn kron_t_stat_takes_statistics_every_t_stat_steps_and_steps_in_between() {
    let (x, y) = data(32, 4, 27);
    let model = Mlp::new(&[4, 6, 3], 28, false, false);
    let cfg = RKalmanConfig {
        t_stat: 3,
        ..kron_config(0.1)
    };
    let mut opt = RKalmanKron::new(&model.vs, &cfg).unwrap();
    let ones = Tensor::ones([32, 1], (Kind::Double, Device::Cpu));
    let rows = Tensor::cat(&[&x, &ones], 1);
    let mut a = Tensor::eye(5, (Kind::Double, Device::Cpu)); // σ0 = 1
    let mut before: Option<(Tensor, Vec<(String, Tensor)>)> = None;
    for k in 0..11 {
        let r = step_on(&mut opt, &model, &x, &y).unwrap();
        assert!(!r.nonfinite_skipped, "step {k}");
        let p_a = opt.layers()[0].p_a.copy();
        if k % 3 == 0 {
            a = a * cfg.beta + rows.tr().matmul(&rows) * ((1.0 - cfg.beta) / 32.0);
        }
        if let Some((prev_p, prev_w)) = &before {
            assert_eq!(
                p_a.equal(prev_p),
                k % 3 != 0,
                "step {k}: P_A changed iff k % 3 == 0"
            );
            assert_ne!(
                &model.weights(),
                prev_w,
                "step {k}: the weights did not move"
            );
        }
        before = Some((p_a, model.weights()));
    }
    let err = rel_err(&opt.layers()[0].p_a, &Tensor::linalg_inv(&a));
    assert!(err < 1e-8, "P_A off by {err} (relative)");
    assert_eq!(opt.steps_done(), 11);
}

/// `stats_dtype` on an f32 model: with more rows than columns, `model` makes P_A's Gram in f32
/// and `f64` in f64. Both track the f64 inverse of the EMA factor (to f32 rounding, and 1e-8),
/// P_A stays f64, and the two runs differ, so the key is in force. With fewer rows than
/// columns the rows are f64 either way and the runs are bitwise equal.
#[test]
fn kron_stats_dtype_sets_the_kind_of_the_batch_gram() {
    for (n, same) in [(32, false), (3, true)] {
        let (x, y) = data(n, 4, 29);
        let x = x.to_kind(Kind::Float);
        let ones = Tensor::ones([n, 1], (Kind::Double, Device::Cpu));
        let rows = Tensor::cat(&[x.to_kind(Kind::Double), ones], 1);
        let mut p_a = Vec::new();
        for stats in [StatsDtype::Model, StatsDtype::F64] {
            let mut model = Mlp::new(&[4, 6, 3], 30, false, false);
            model.vs.set_kind(Kind::Float);
            let cfg = RKalmanConfig {
                stats_dtype: stats,
                ..kron_config(0.1)
            };
            let mut opt = RKalmanKron::new(&model.vs, &cfg).unwrap();
            let mut a = Tensor::eye(5, (Kind::Double, Device::Cpu)); // σ0 = 1
            for k in 0..20 {
                let r = step_on(&mut opt, &model, &x, &y).unwrap();
                assert!(!r.nonfinite_skipped, "{stats:?} step {k}");
                a = a * cfg.beta + rows.tr().matmul(&rows) * ((1.0 - cfg.beta) / n as f64);
            }
            let p = opt.layers()[0].p_a.copy();
            assert_eq!(p.kind(), Kind::Double);
            let err = rel_err(&p, &Tensor::linalg_inv(&a));
            let tol = if stats == StatsDtype::F64 || same {
                1e-8
            } else {
                1e-5
            };
            assert!(err < tol, "{n} rows, {stats:?}: P_A off by {err}");
            p_a.push(p);
        }
        assert_eq!(p_a[0].equal(&p_a[1]), same, "{n} rows");
    }
    let c: RKalmanConfig = serde_yaml_ng::from_str("stats_dtype: f64\n").unwrap();
    assert_eq!(c.stats_dtype, StatsDtype::F64);
    assert_eq!(RKalmanConfig::default().stats_dtype, StatsDtype::Model);
    let err = serde_yaml_ng::from_str::<RKalmanConfig>("stats_dtype: f16\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("f16") && err.contains("model"), "{err}");
}

/// `t_stat` 0 is refused, and `t_stat` > 1 with the dense filter, each naming the key.
#[test]
fn rkalman_t_stat_is_validated() {
    let zero = RKalmanConfig {
        t_stat: 0,
        ..kron_config(0.1)
    };
    let err = zero.validate().unwrap_err().to_string();
    assert!(err.contains("`t_stat` must be >= 1"), "{err}");
    let dense = RKalmanConfig {
        t_stat: 2,
        cov: CovForm::Dense,
        ..kron_config(0.1)
    };
    let err = dense.validate().unwrap_err().to_string();
    assert!(
        err.contains("`t_stat: 2` exists for `cov: kron` only"),
        "{err}"
    );
}
