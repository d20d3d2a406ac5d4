//! Gymnasium 1.4 + MuJoCo 3.17 rollouts of the six v5 tasks (scripts/gen_mujoco_fixtures.py)
//! replayed by lab's envs from the recorded reset states with the recorded actions: f64
//! observations, rewards, terminated and truncated agree within 1e-9 (spec §4.7, issue 14).
use lab::rl::mujoco::{
    half_cheetah::HalfCheetah, hopper::Hopper, humanoid::Humanoid, pusher::Pusher,
    swimmer::Swimmer, walker2d::Walker2d, MujocoEnv, Task, DEFAULT_MODEL_DIR,
};
use lab::rl::{make, Action, Env, EnvOptions, Precision};
use std::path::Path;

const TOL: f64 = 1e-9;

fn numbers(text: &str) -> Vec<f64> {
    text.split(',')
        .map(|x| x.parse().unwrap_or_else(|e| panic!("{x}: {e}")))
        .collect()
}

/// Largest |got − want| / max(1, |want|) over `want` (a prefix of `got` when shorter).
fn worst(got: &[f64], want: &[f64]) -> f64 {
    assert!(want.len() <= got.len(), "{} > {}", want.len(), got.len());
    got.iter()
        .zip(want)
        .map(|(g, w)| (g - w).abs() / w.abs().max(1.0))
        .fold(0.0, f64::max)
}

#[derive(Default, Debug)]
struct Replay {
    steps: usize,
    terminations: usize,
    truncations: usize,
    worst_obs: f64,
    worst_reward: f64,
    bit_exact_rewards: usize,
}

/// Step `exact` (the task itself, f64 observations) and `limited` (`make`'s time-limited env)
/// side by side through the fixture of `T`.
fn replay<T: Task>() -> Replay {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/gym/{}.csv", T::ID));
    let text = std::fs::read_to_string(&path).expect("fixture file");
    let mut lines = text.lines();
    let meta: Vec<&str> = lines.next().expect("meta").split(',').collect();
    assert_eq!(meta[..2], ["meta", T::ID]);
    assert_eq!(
        meta[4],
        lab::rl::mujoco::version(),
        "recorded with another MuJoCo"
    );
    let opts = EnvOptions {
        max_episode_steps: Some(meta[2].parse().expect("cap")),
        ..EnvOptions::default()
    };
    let mut limited = make(T::ID, &opts).expect("make");
    let mut exact =
        MujocoEnv::<T>::new(Path::new(DEFAULT_MODEL_DIR), Precision::Gymnasium).expect("load");
    let mut obs = vec![0.0f32; exact.obs_dim()];
    let mut obs2 = obs.clone();
    let mut out = Replay::default();
    for line in lines {
        let (kind, rest) = line.split_once(',').expect("kind");
        let parts: Vec<&str> = rest.split('|').collect();
        if kind == "reset" {
            let state = numbers(parts[0]);
            exact.set_state(&state, &mut obs).expect("state");
            limited.set_state(&state, &mut obs2).expect("state");
            out.worst_obs = out
                .worst_obs
                .max(worst(exact.observation(), &numbers(parts[1])));
            continue;
        }
        let action = numbers(parts[0]);
        let t = exact.step(Action::Continuous(&action), &mut obs);
        let t2 = limited.step(Action::Continuous(&action), &mut obs2);
        assert_eq!(obs, obs2, "{}: the time limit changes nothing else", T::ID);
        let as_f32: Vec<f32> = exact.observation().iter().map(|&v| v as f32).collect();
        assert_eq!(obs, as_f32, "observations are the f64 ones rounded");
        let tail = numbers(parts[2]);
        let (reward, terminated, truncated) = (tail[0], tail[1] == 1.0, tail[2] == 1.0);
        out.steps += 1;
        out.worst_obs = out
            .worst_obs
            .max(worst(exact.observation(), &numbers(parts[1])));
        let err = (t.reward - reward).abs() / reward.abs().max(1.0);
        out.worst_reward = out.worst_reward.max(err);
        out.bit_exact_rewards += usize::from(t.reward == reward);
        assert_eq!(t.reward, t2.reward);
        let at = out.steps;
        assert_eq!(t2.terminated, terminated, "{} step {at}: terminated", T::ID);
        assert_eq!(t2.truncated, truncated, "{} step {at}: truncated", T::ID);
        assert_eq!(t.terminated, terminated);
        out.terminations += usize::from(terminated);
        out.truncations += usize::from(truncated);
    }
    assert!(out.steps >= 300, "{}: {} steps", T::ID, out.steps);
    assert_eq!(exact.unstable_steps(), 0);
    assert!(
        out.worst_obs <= TOL && out.worst_reward <= TOL,
        "{}: {out:?}",
        T::ID
    );
    eprintln!("{}: {out:?}", T::ID);
    out
}

#[test]
fn hopper_matches_gymnasium() {
    let r = replay::<Hopper>();
    assert!(r.terminations > 0 && r.truncations > 0, "{r:?}");
}

#[test]
fn walker2d_matches_gymnasium() {
    let r = replay::<Walker2d>();
    assert!(r.terminations > 0 && r.truncations > 0, "{r:?}");
}

#[test]
fn half_cheetah_matches_gymnasium() {
    let r = replay::<HalfCheetah>();
    assert!(r.terminations == 0 && r.truncations == 3, "{r:?}");
}

#[test]
fn swimmer_matches_gymnasium() {
    let r = replay::<Swimmer>();
    assert!(r.terminations == 0 && r.truncations == 3, "{r:?}");
}

#[test]
fn humanoid_matches_gymnasium() {
    let r = replay::<Humanoid>();
    assert!(r.terminations > 0 && r.truncations > 0, "{r:?}");
}

#[test]
fn pusher_matches_gymnasium() {
    let r = replay::<Pusher>();
    assert!(r.terminations == 0 && r.truncations == 3, "{r:?}");
}
