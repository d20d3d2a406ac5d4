//! K-FAC (optim::kfac) against the math of grng spec §6.6, §6.9 test 21 and §6.11: Kronecker
//! factors vs per-example Fisher/gradients, least squares in one step, the KL-clip identity, a
//! hand-computed 3→2 update, conv-as-unfold scaling, non-finite skips, bitwise resume, on the
//! tiny f64 models of `kfac_fixture`.
use crate::common::zip_eq;
use crate::kfac_fixture::*;
use lab::nn::Tape;
use lab::optim::kfac::{DampingScheme, InverseMethod, Inverses, Kfac, KfacConfig};
use lab::optim::stepper::{mean_ce, sample_labels, Objective, Stepper};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::{Kind, Reduction, Tensor};
#[test]
fn kronecker_block_equals_per_example_fisher() {
    let m = Mlp::new(5, 0, 3, 1);
    let mut b = batch(&m, 1, 1, 5, 3);
    let cfg = KfacConfig {
        stat_decay: 0.0,
        lr: 0.0,
        ..plain(KfacConfig::kfac())
    };
    // The label the stepper will sample, and the per-example gradient of −log p(ŷ).
    let (logits, _) = b.forward(false).unwrap();
    let yhat = sample_labels(&logits, &mut ChaCha8Rng::seed_from_u64(cfg.seed)).unwrap();
    let nll = logits.cross_entropy_loss::<Tensor>(&yhat, None, Reduction::Sum, -100, 0.0);
    let bias = m.l1.bias.as_ref().unwrap();
    let g = Tensor::run_backward(&[&nll], &[&m.l1.weight, bias], false, false);
    let grad = Tensor::cat(&[g[0].shallow_clone(), g[1].view([3, 1])], 1).flatten(0, -1); // vec_r
    let dense = grad.unsqueeze(1).matmul(&grad.unsqueeze(0)); // (18, 18)
    let mut s = Kfac::new(groups(&m, 5, 3, 0.0), cfg).unwrap();
    s.step(&mut b).unwrap();
    let f = s.layer_factors();
    assert_eq!(f.len(), 1);
    let kron = f[0].2.kron(&f[0].1); // G ⊗ A in row-major order
    assert!(
        max_diff(&kron, &dense) < 1e-12,
        "{}",
        max_diff(&kron, &dense)
    );
}

#[test]
fn factors_equal_factors_of_explicit_per_example_gradients() {
    let (d, h, c, n) = (4, 5, 3, 6);
    let m = Mlp::new(d, h, c, 2);
    let mut b = batch(&m, 2, n, d, c);
    let cfg = KfacConfig {
        stat_decay: 0.0,
        lr: 0.0,
        ..plain(KfacConfig::kfac())
    };
    let (logits, _) = b.forward(false).unwrap();
    let yhat = sample_labels(&logits, &mut ChaCha8Rng::seed_from_u64(cfg.seed)).unwrap();
    let (mut a1, mut g1, mut a2, mut g2) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let ones = Tensor::ones([1, 1], F64);
    for j in 0..n {
        let mut tape = Tape::on();
        let xj = b.x.narrow(0, j, 1);
        let lj = m.logits(&xj, &mut tape);
        let nll =
            lj.cross_entropy_loss::<Tensor>(&yhat.narrow(0, j, 1), None, Reduction::Sum, -100, 0.0);
        let biases = [
            m.l1.bias.as_ref().unwrap(),
            m.l2.as_ref().unwrap().bias.as_ref().unwrap(),
        ];
        let e = Tensor::run_backward(&[&nll], &biases, false, false); // ∂ℓ_j/∂b = e_j
        a1.push(Tensor::cat(&[xj.shallow_clone(), ones.shallow_clone()], 1));
        a2.push(Tensor::cat(
            &[tape.items[1].input.detach(), ones.shallow_clone()],
            1,
        ));
        g1.push(e[0].view([1, h]));
        g2.push(e[1].view([1, c]));
    }
    let mean_outer = |rows: &[Tensor]| {
        let r = Tensor::cat(rows, 0);
        r.transpose(0, 1).matmul(&r) / n as f64
    };
    let mut s = Kfac::new(groups(&m, d, c, 0.0), cfg).unwrap();
    s.step(&mut b).unwrap();
    let f = s.layer_factors();
    assert_eq!((f[0].0.as_str(), f[1].0.as_str()), ("l1", "l2"));
    for (got, want) in [
        (&f[0].1, &a1),
        (&f[0].2, &g1),
        (&f[1].1, &a2),
        (&f[1].2, &g2),
    ] {
        assert!(max_diff(got, &mean_outer(want)) < 1e-12);
    }
}

#[test]
fn conv_as_unfold_scaling_and_one_position_equals_linear() {
    let (d, c, n) = (3, 4, 5);
    // L = 1 position written as (N, 1, d): the same update as the linear layer.
    let lin = Mlp::new(d, 0, c, 4);
    let mut conv = lin.twin(d, 0, c);
    conv.positions = 1;
    let cfg = plain(KfacConfig::kfac());
    let mut s_lin = Kfac::new(groups(&lin, d, c, 0.0), cfg.clone()).unwrap();
    s_lin.step(&mut batch(&lin, 3, n, d, c)).unwrap();
    let mut s_conv = Kfac::new(groups(&conv, d, c, 0.0), cfg.clone()).unwrap();
    let mut b = batch(&conv, 3, n, d, c);
    b.x = b.x.unsqueeze(1); // (N, 1, d)
    s_conv.step(&mut b).unwrap();
    assert_eq!(lin.values(), conv.values());
    // L = 3 positions: A = Σ (a/L)(a/L)ᵀ / N, G = (L/N) Σ e eᵀ over all N·L rows.
    let mut m = Mlp::new(d, 0, c, 5);
    m.positions = 3;
    let cfg = KfacConfig {
        stat_decay: 0.0,
        lr: 0.0,
        ..cfg
    };
    let mut b = batch(&m, 4, n, d, c);
    let mut tape = Tape::on();
    let logits = m.logits(&b.x, &mut tape);
    let yhat = sample_labels(&logits, &mut ChaCha8Rng::seed_from_u64(cfg.seed)).unwrap();
    let nll = logits.cross_entropy_loss::<Tensor>(&yhat, None, Reduction::Sum, -100, 0.0);
    let e =
        Tensor::run_backward(&[&nll], &[&tape.items[0].output], false, false)[0].reshape([-1, c]);
    let a = Tensor::cat(&[b.x.reshape([-1, d]), Tensor::ones([n * 3, 1], F64)], 1);
    let want_a = a.transpose(0, 1).matmul(&a) / (n as f64 * 9.0);
    let want_g = e.transpose(0, 1).matmul(&e) * (3.0 / n as f64);
    let mut s = Kfac::new(groups(&m, d, c, 0.0), cfg).unwrap();
    s.step(&mut b).unwrap();
    let f = s.layer_factors();
    assert!(max_diff(&f[0].1, &want_a) < 1e-12);
    assert!(max_diff(&f[0].2, &want_g) < 1e-12);
}

#[test]
fn one_step_with_exact_gaussian_fisher_lands_on_least_squares() {
    // y = W x + b + noise, loss = mean ½‖Wx + b − y‖²: G = I exactly, so U = ∇W·A⁻¹ (§6.6.6).
    let (n, d_in, d_out) = (20, 3, 2);
    let x = Tensor::from_slice(&normals(n * d_in, 1)).view([n as i64, d_in as i64]);
    let y = Tensor::from_slice(&normals(n * d_out, 2)).view([n as i64, d_out as i64]);
    let a = Tensor::cat(&[x, Tensor::ones([n as i64, 1], F64)], 1); // (n, d_in + 1)
    let w0 = Tensor::from_slice(&normals(d_out * 4, 3))
        .view([d_out as i64, 4])
        .set_requires_grad(true);
    let loss = (a.matmul(&w0.transpose(0, 1)) - &y)
        .square()
        .sum(Kind::Double)
        * (0.5 / n as f64);
    let grad = Tensor::run_backward(&[&loss], &[&w0], false, false).remove(0);
    let big_a = a.transpose(0, 1).matmul(&a) / n as f64;
    let inv = Inverses::compute(
        InverseMethod::Eigen,
        &big_a,
        &Tensor::eye(d_out as i64, F64),
    )
    .unwrap();
    // Least squares: W* = Yᵀ A (AᵀA)⁻¹.
    let want = y
        .transpose(0, 1)
        .matmul(&a)
        .matmul(&a.transpose(0, 1).matmul(&a).inverse());
    for scheme in [DampingScheme::Factored, DampingScheme::ExactEigen] {
        let w1 = w0.detach() - inv.precondition(&grad, 0.0, scheme);
        assert!(
            max_diff(&w1, &want) < 1e-8,
            "{scheme:?}: {}",
            max_diff(&w1, &want)
        );
    }
}

#[test]
fn fallback_adamw_moves_other_parameters_by_its_first_step() {
    let (d, h, c) = (4, 5, 3);
    let m = Mlp::new(d, h, c, 9);
    let g_model = m.twin(d, h, c);
    let mut b = batch(&g_model, 1, 8, d, c);
    let (logits, _) = b.forward(false).unwrap();
    mean_ce(&logits, &b.y).backward();
    let g = Vec::<f64>::try_from(g_model.vs.variables()["scale"].grad()).unwrap();
    let cfg = KfacConfig {
        lr: 0.2,
        ..plain(KfacConfig::kfac())
    };
    let before = m.values();
    let mut s = Kfac::new(groups(&m, d, c, 0.0), cfg).unwrap();
    s.step(&mut batch(&m, 1, 8, d, c)).unwrap();
    assert_eq!(s.layer_plans().len(), 2);
    // AdamW's first step: −lr·g/(|g| + ε) with lr = 0.2·0.1.
    for (dv, g) in zip_eq(&delta(&before, &m.values(), "scale"), &g) {
        assert!((dv + 0.02 * g / (g.abs() + 1e-8)).abs() < 1e-9);
    }
}

#[test]
fn nonfinite_batch_skips_the_step_and_raises_damping() {
    let (d, h, c) = (4, 5, 3);
    let m = Mlp::new(d, h, c, 10);
    let mut s = Kfac::new(groups(&m, d, c, 0.0), plain(KfacConfig::kfac())).unwrap();
    s.step(&mut batch(&m, 0, 8, d, c)).unwrap();
    let before = m.values();
    let mut bad = batch(&m, 1, 8, d, c);
    let _ = bad.x.fill_diagonal_(f64::NAN, false);
    let r = s.step(&mut bad).unwrap();
    assert!(r.nonfinite_skipped);
    assert_eq!(m.values(), before);
    let r = s.step(&mut batch(&m, 2, 8, d, c)).unwrap();
    assert!(!r.nonfinite_skipped);
    assert!(
        (r.damping_eff.unwrap() - 1e-2).abs() < 1e-15,
        "{:?}",
        r.damping_eff
    );
}

#[test]
fn kfac_resume_is_bitwise_also_off_refresh_steps() {
    let cfg = KfacConfig {
        t_stat: 3,
        t_inv: 7,
        wd_after_steps: Some(10),
        lr: 0.1,
        ..KfacConfig::kfac()
    };
    assert_resume_bitwise(&cfg, 30, 50); // 30: a statistics step, not an inverse refresh
    assert_resume_bitwise(
        &KfacConfig {
            fallback: lab::optim::kfac::Fallback::SgdMomentum,
            ..cfg.clone()
        },
        31,
        40,
    );
}

#[test]
fn state_of_another_variant_or_model_is_refused() {
    let (d, h, c) = (4, 5, 3);
    let m = Mlp::new(d, h, c, 12);
    let mut s = Kfac::new(groups(&m, d, c, 0.0), plain(KfacConfig::kfac())).unwrap();
    s.step(&mut batch(&m, 0, 8, d, c)).unwrap();
    let state = s.state_dict().unwrap();
    let mut ring = Kfac::new(groups(&m, d, c, 0.0), plain(KfacConfig::ring())).unwrap();
    let err = ring.load_state_dict(&state).unwrap_err().to_string();
    assert!(err.contains("kfac") && err.contains("ring"), "{err}");
    let mut missing = s.state_dict().unwrap();
    missing.tensors.retain(|(k, _)| k != "kfac.a/l2.weight");
    let err = s.load_state_dict(&missing).unwrap_err().to_string();
    assert!(err.contains("kfac.a/l2.weight"), "{err}");
}
