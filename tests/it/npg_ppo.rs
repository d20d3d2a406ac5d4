//! PPO's clipped surrogate (spec §3.6): the gradient vanishes exactly where the clip is
//! active (ratio beyond 1±ε on the side the advantage favours), and the clip fraction counts
//! |ρ − 1| > ε. Also RMSprop's and Adam's first steps.
use crate::common::zip_eq;
use lab::npg::optim_actor::{objective, Objective};
use lab::npg::policy::{Adam, RmsProp};
use tch::Tensor;

#[test]
fn clipped_objective_values_gradients_and_clipfrac() {
    let ratio = Tensor::from_slice(&[1.5, 0.5, 1.5, 0.5, 1.1]).set_requires_grad(true);
    let adv = Tensor::from_slice(&[1.0, 1.0, -1.0, -1.0, 2.0]);
    let (obj, frac) = objective(Objective::Clipped { clip: 0.2 }, &ratio, &adv);
    // min(ρÂ, clip(ρ)Â): 1.2, 0.5, −1.5, −0.8, 2.2 → mean 1.6/5.
    assert!((obj.double_value(&[]) - 1.6 / 5.0).abs() < 1e-12);
    assert_eq!(frac, Some(0.8));
    let grad = Tensor::run_backward(&[obj], &[&ratio], false, false);
    let g = Vec::<f64>::try_from(&grad[0]).expect("grad");
    let want = [0.0, 0.2, -0.2, 0.0, 0.4];
    for (a, b) in zip_eq(&g, want) {
        assert!((a - b).abs() < 1e-12, "{g:?}");
    }
    let (plain, none) = objective(Objective::Surrogate, &ratio.detach(), &adv);
    assert!((plain.double_value(&[]) - (1.5 + 0.5 - 1.5 - 0.5 + 2.2) / 5.0).abs() < 1e-12);
    assert_eq!(none, None);
}

#[test]
fn first_optimiser_steps_follow_their_formulas() {
    // Adam's bias-corrected first step is −lr·g/(|g| + eps) per coordinate.
    let mut adam = Adam::new(2, 0.1);
    let d = adam.delta(&[2.0, -0.5]);
    assert!((d[0] + 0.1 * 2.0 / (2.0 + 1e-5)).abs() < 1e-12);
    assert!((d[1] - 0.1 * 0.5 / (0.5 + 1e-5)).abs() < 1e-12);
    // RMSprop: v = 0.01·g², step −lr·g/(√v + eps).
    let mut rms = RmsProp::new(1, 7e-4, 0.99, 1e-5);
    let d = rms.delta(&[3.0]);
    let want = -7e-4 * 3.0 / ((0.01f64 * 9.0).sqrt() + 1e-5);
    assert!((d[0] - want).abs() < 1e-15);
}
