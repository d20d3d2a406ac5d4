//! Vector env (same-step autoreset, final observations, episode statistics) and the
//! normalisation wrappers (spec §4.2, §7.3, §7.4).
use lab::rl::normalize::{ObsNormalizer, RewardScaler, RunningMeanStd};
use lab::rl::{make, Action, Env, EnvOptions, VecEnv};

fn opts(cap: usize) -> EnvOptions {
    EnvOptions {
        max_episode_steps: Some(cap),
        ..EnvOptions::default()
    }
}

#[test]
fn autoreset_keeps_the_final_observation_and_episode_stats() {
    let mut venv = VecEnv::from_id("CartPole-v1", &opts(500), 2, 3).expect("venv");
    // A single env driven with the same actions shows what env 0 should see.
    let mut single = make("CartPole-v1", &opts(500)).expect("make");
    let mut obs = [0.0f32; 4];
    single.reset(Some(3), &mut obs);
    assert_eq!(&venv.obs()[..4], &obs);
    let mut steps = 0;
    loop {
        venv.step_discrete(&[1, 0]);
        let t = single.step(Action::Discrete(1), &mut obs);
        steps += 1;
        assert_eq!(venv.transitions()[0], t);
        if t.done() {
            assert_eq!(venv.final_obs(0), &obs, "final observation kept");
            assert_ne!(
                &venv.obs()[..4],
                &obs,
                "the current observation is the reset one"
            );
            let ends = venv.drain_finished();
            let end = ends.iter().find(|e| e.env == 0).expect("episode recorded");
            assert_eq!(
                (end.len, end.ret, end.terminated),
                (steps, steps as f64, true)
            );
            break;
        }
        assert_eq!(&venv.obs()[..4], &obs);
    }
}

#[test]
fn truncation_is_reported_by_the_vector_env() {
    let mut venv = VecEnv::from_id("Pendulum-v1", &opts(5), 3, 0).expect("venv");
    for step in 1..=10 {
        venv.step_continuous(&[0.0, 1.0, -1.0]);
        assert_eq!(venv.transitions().len(), 3, "one transition per env");
        let truncated = venv
            .transitions()
            .iter()
            .all(|t| t.truncated && !t.terminated);
        assert_eq!(truncated, step % 5 == 0, "step {step}");
    }
    let ends = venv.drain_finished();
    assert_eq!(ends.len(), 6);
    assert!(ends.iter().all(|e| e.len == 5 && e.truncated));
}

#[test]
fn same_seed_same_observations() {
    let run = |seed| {
        let mut v = VecEnv::from_id("Acrobot-v1", &opts(50), 4, seed).expect("venv");
        for k in 0..200 {
            v.step_discrete(&[k % 3, (k + 1) % 3, 2, 0]);
        }
        v.obs().to_vec()
    };
    assert_eq!(run(5), run(5));
    assert_ne!(run(5), run(6));
}

#[test]
fn running_mean_std_matches_the_batch_moments() {
    let mut rms = RunningMeanStd::new(2);
    let data: Vec<f64> = (0..200)
        .map(|i| ((i * 37) % 101) as f64 * 0.1 - 3.0)
        .collect();
    for chunk in data.chunks(20) {
        rms.update(chunk);
    }
    for j in 0..2 {
        let col: Vec<f64> = data.iter().skip(j).step_by(2).copied().collect();
        let mean = col.iter().sum::<f64>() / col.len() as f64;
        let var = col.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / col.len() as f64;
        // The 1e-4 prior count biases the result very slightly.
        assert!((rms.mean[j] - mean).abs() < 1e-5, "mean {j}");
        assert!((rms.var[j] - var).abs() < 1e-4 * var.max(1.0), "var {j}");
    }
}

#[test]
fn obs_normalizer_standardises_and_freezes() {
    let mut norm = ObsNormalizer::new(1, 10.0);
    let mut batch: Vec<f32> = (0..1000).map(|i| 5.0 + (i % 10) as f32).collect();
    norm.apply(&mut batch, true);
    let mean = batch.iter().map(|&x| x as f64).sum::<f64>() / 1000.0;
    let var = batch
        .iter()
        .map(|&x| (x as f64 - mean).powi(2))
        .sum::<f64>()
        / 1000.0;
    assert!(
        mean.abs() < 1e-3 && (var - 1.0).abs() < 1e-3,
        "mean {mean} var {var}"
    );
    let frozen = norm.clone();
    let mut far = vec![1e6f32];
    norm.apply(&mut far, false);
    assert_eq!(norm, frozen, "frozen statistics do not move");
    assert_eq!(far[0], 10.0, "clipped to +10");
    let saved = serde_json::to_string(&norm).expect("serialise");
    let back: ObsNormalizer = serde_json::from_str(&saved).expect("deserialise");
    assert_eq!(back, norm);
}

#[test]
fn reward_scaler_uses_the_discounted_return_and_restarts_it() {
    let mut scaler = RewardScaler::new(1, 0.5, 10.0);
    let mut r = [1.0];
    scaler.apply(&mut r, &[false], &[false]);
    assert_eq!(scaler.accumulated[0], 1.0);
    let mut r = [1.0];
    scaler.apply(&mut r, &[false], &[true]);
    // 1·0.5 + 1 = 1.5 entered the statistics; the episode ended, so it restarts at 0.
    assert_eq!(scaler.accumulated[0], 0.0);
    let scale = (scaler.rms.var[0] + 1e-8).sqrt();
    assert!((r[0] - 1.0 / scale).abs() < 1e-12);
}

#[test]
fn saved_vector_env_continues_identically() {
    let mut a = VecEnv::from_id("MountainCarContinuous-v0", &opts(30), 3, 4).expect("venv");
    let drive = |v: &mut VecEnv, k: usize| {
        let acts: Vec<f64> = (0..3)
            .map(|i| ((k * 7 + i * 3) % 11) as f64 / 5.0 - 1.0)
            .collect();
        v.step_continuous(&acts);
        (v.obs().to_vec(), v.drain_finished())
    };
    for k in 0..45 {
        drive(&mut a, k);
    }
    let saved = a.save();
    let json = serde_json::to_string(&saved).expect("serialise");
    let mut b = VecEnv::from_id("MountainCarContinuous-v0", &opts(30), 3, 99).expect("venv");
    b.load(&serde_json::from_str(&json).expect("deserialise"))
        .expect("load");
    for k in 45..120 {
        assert_eq!(drive(&mut a, k), drive(&mut b, k), "step {k}");
    }
    let mut wrong = VecEnv::from_id("MountainCarContinuous-v0", &opts(30), 2, 0).expect("venv");
    let err = wrong
        .load(&saved)
        .expect_err("env count mismatch is an error");
    assert!(
        format!("{err}").contains("checkpoint holds 3 envs, this run has 2"),
        "{err}"
    );
}
