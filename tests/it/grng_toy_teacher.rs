//! `toy.targets` of the two-layer toy (spec §6.1 "two-layer teacher data", §6.10): `gaussian`
//! (the default, N(0,1) targets, unchanged) or `teacher` (a random two-layer teacher's outputs).
use crate::common::*;
use lab::grng::toy::data::{Targets, ToyData};
use lab::grng::toy::{run_toy, ToyConfig, ToyMethod};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

#[test]
fn teacher_targets_are_what_the_teacher_computes() {
    let (n, d, width) = (16, 8, 32);
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let (data, teacher) = ToyData::sample_with(n, d, Targets::Teacher, width, &mut rng);
    let t = teacher.expect("a teacher comes with teacher targets");
    assert_eq!(t.w.dim(), (width, d));
    // y_i = M_t^{-1/2} Σ_r a_r relu(w_r·x_i), written out.
    for i in 0..n {
        let mut want = 0.0;
        for r in 0..width {
            let z: f64 = (0..d).map(|k| t.w[[r, k]] * data.x[[i, k]]).sum();
            want += t.a[r] * z.max(0.0);
        }
        want /= (width as f64).sqrt();
        assert!(
            (data.y[i] - want).abs() < 1e-12,
            "y[{i}] = {} vs {want}",
            data.y[i]
        );
    }
    assert!(t.a.iter().all(|a| a.abs() == 1.0), "output signs ±1");
    // The inputs are drawn first, as for Gaussian targets; the targets differ.
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let (gauss, none) = ToyData::sample_with(n, d, Targets::Gaussian, width, &mut rng);
    assert!(none.is_none());
    assert_eq!(gauss.x, data.x);
    assert_ne!(gauss.y, data.y);
}

#[test]
fn gaussian_stays_the_default_and_draws_what_it_drew_before() {
    assert_eq!(ToyConfig::default().targets, Targets::Gaussian);
    let mut a = ChaCha8Rng::seed_from_u64(9);
    let mut b = ChaCha8Rng::seed_from_u64(9);
    let (with, _) = ToyData::sample_with(6, 4, Targets::Gaussian, 10, &mut a);
    assert_eq!(with, ToyData::sample(6, 4, &mut b));
}

#[test]
fn ngd_fits_teacher_targets_and_the_cli_takes_the_key() {
    let cfg = ToyConfig {
        targets: Targets::Teacher,
        teacher_width: 64,
        width: 512,
        method: ToyMethod::Ngd,
        ..ToyConfig::default()
    };
    let run = run_toy(&cfg).unwrap();
    assert!(
        run.steps_to_stop.is_some(),
        "NGD reaches 1e-8 on teacher targets"
    );
    let gauss = run_toy(&ToyConfig {
        targets: Targets::Gaussian,
        ..cfg.clone()
    })
    .unwrap();
    assert_ne!(run.initial_loss, gauss.initial_loss);

    let dir = tempfile::tempdir().unwrap();
    let base = [
        "grng",
        "--quiet",
        "--set",
        "task=twolayer-toy",
        "--set",
        "toy.width=256",
    ];
    let o = lab(
        dir.path(),
        &[&base[..], &["--set", "toy.targets=teacher", "--out", "t"]].concat(),
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(read(&dir.path().join("t/config.yaml")).contains("targets: teacher"));
    let o = lab(
        dir.path(),
        &[&base[..], &["--set", "toy.targets=teachr", "--out", "u"]].concat(),
    );
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(stderr(&o).contains("teachr"), "{}", stderr(&o));
}

/// The toy keeps no checkpoints and writes no steps.csv: `assert`, `train.stop_after` and
/// `resume_from` have nothing to act on and are refused naming the key (they were ignored).
#[test]
fn keys_the_toy_cannot_honour_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (i, set) in [
        "assert={finite: true}",
        "train.stop_after=3",
        "resume_from=somewhere",
    ]
    .into_iter()
    .enumerate()
    {
        let out = format!("r{i}");
        let o = grng(dir.path(), &out, &["task=twolayer-toy", set]);
        assert_eq!(code(&o), 2, "{set}: {}", text(&o));
        let key = set.split('=').next().unwrap();
        let want = format!("`{key}`");
        assert!(stderr(&o).contains(&want), "{set}: {}", stderr(&o));
        assert!(stderr(&o).contains("does not apply to task twolayer-toy"));
        assert!(!dir.path().join(&out).exists());
    }
    let o = grng(dir.path(), "ok", &["task=twolayer-toy", "toy.steps=3"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
}
