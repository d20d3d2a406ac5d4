//! A vector env seeded `s` is Gymnasium's `gym.make_vec(id, 4).reset(seed=s)` (env `i` seeded
//! `s + i`) and stays on Gymnasium's episodes through same-step autoresets, which continue each
//! env's generator unseeded. Fixtures: tests/fixtures/numpy/vec_envs.csv (classic control,
//! scripts/gen_gym_resets.py --vec) and mujoco_vec_envs.csv (every MuJoCo task's reset, Hopper
//! and Walker2d rollouts; scripts/gen_mujoco_fixtures.py --resets). Observations are compared
//! as f32 (lab's observation type), rewards and flags exactly.
use lab::rl::{EnvOptions, Space, VecEnv};

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/numpy/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn floats(text: &str) -> Vec<f64> {
    text.split(',')
        .map(|x| x.parse().unwrap_or_else(|_| panic!("bad number `{x}`")))
        .collect()
}

fn as_f32(xs: &[f64]) -> Vec<f32> {
    xs.iter().map(|&x| x as f32).collect()
}

fn flags(text: &str) -> Vec<bool> {
    text.split(',').map(|x| x == "1").collect()
}

/// What one fixture replay covered.
#[derive(Default, Debug)]
struct Counts {
    resets: usize,
    steps: usize,
    finals: usize,
}

/// Replay every row of `file` against lab's 4-env [`VecEnv`] built with the recorded seed.
fn replay(file: &str) -> Counts {
    let text = fixture(file);
    let mut venv: Option<VecEnv> = None;
    let mut counts = Counts::default();
    for (n, line) in text.lines().enumerate().skip(1) {
        let parts: Vec<&str> = line.split('|').collect();
        let head: Vec<&str> = parts[0].split(',').collect();
        let at = format!("{file} line {}: {}", n + 1, parts[0]);
        match head[0] {
            "reset" => {
                let (id, seed) = (head[1], head[2].parse().expect("seed"));
                let opts = EnvOptions {
                    max_episode_steps: Some(head[3].parse().expect("cap")),
                    ..EnvOptions::default()
                };
                let v = VecEnv::from_id(id, &opts, 4, seed).expect("venv");
                assert_eq!(v.obs(), as_f32(&floats(parts[1])), "{at}");
                venv = Some(v);
                counts.resets += 1;
            }
            "step" => {
                let v = venv.as_mut().expect("reset row first");
                match v.action_space() {
                    Space::Discrete(_) => {
                        let a: Vec<usize> =
                            parts[1].split(',').map(|x| x.parse().unwrap()).collect();
                        v.step_discrete(&a);
                    }
                    Space::Box { .. } => v.step_continuous(&floats(parts[1])),
                }
                assert_eq!(v.obs(), as_f32(&floats(parts[2])), "{at}: observations");
                let t = v.transitions();
                let rewards: Vec<f64> = t.iter().map(|t| t.reward).collect();
                assert_eq!(rewards, floats(parts[3]), "{at}: rewards");
                let term: Vec<bool> = t.iter().map(|t| t.terminated).collect();
                assert_eq!(term, flags(parts[4]), "{at}: terminated");
                let trunc: Vec<bool> = t.iter().map(|t| t.truncated).collect();
                assert_eq!(trunc, flags(parts[5]), "{at}: truncated");
                counts.steps += 1;
            }
            "final" => {
                let v = venv.as_ref().expect("reset row first");
                let i: usize = head[4].parse().expect("env index");
                assert_eq!(v.final_obs(i), as_f32(&floats(parts[1])), "{at}");
                counts.finals += 1;
            }
            other => panic!("{at}: unknown row kind `{other}`"),
        }
    }
    counts
}

#[test]
fn classic_vector_envs_follow_gymnasiums_seeds_and_autoresets() {
    let c = replay("vec_envs.csv");
    assert_eq!(c.resets, 10, "5 envs × 2 seeds");
    assert_eq!(c.steps, 480);
    assert!(c.finals >= 50, "{c:?}: too few autoresets exercised");
}

#[test]
fn mujoco_vector_envs_follow_gymnasiums_seeds_and_autoresets() {
    let c = replay("mujoco_vec_envs.csv");
    assert_eq!(c.resets, 12, "6 tasks × 2 seeds");
    assert_eq!(c.steps, 200, "Hopper 2 × 60, Walker2d 2 × 40");
    assert!(c.finals >= 20, "{c:?}: too few autoresets exercised");
}

/// The old per-env seed (a SplitMix64 mix of seed and index) would not start env 1 at seed + 1:
/// env 1 of a vector env seeded s starts where a single env reset with s + 1 does.
#[test]
fn env_i_of_a_vector_env_is_a_single_env_seeded_s_plus_i() {
    let opts = EnvOptions::default();
    let v = VecEnv::from_id("Acrobot-v1", &opts, 3, 7).expect("venv");
    for i in 0..3 {
        let single = VecEnv::from_id("Acrobot-v1", &opts, 1, 7 + i as u64).expect("venv");
        assert_eq!(&v.obs()[i * 6..(i + 1) * 6], single.obs(), "env {i}");
    }
}
