//! `make bench`: environment step rates for `lab npg-rank1` (issue 4 performance targets).
//! Native CartPole raw step rate must be ≥ 100× Gymnasium's Python CartPole, both single env
//! and single thread, measured in the same run. Gymnasium is timed through the dev venv's
//! python (`$LAB_DEVVENV`, default ~/.cache/lab/devvenv); without it that line is skipped.
#[path = "common/devvenv.rs"]
mod devvenv;

use devvenv::devvenv_python;
use lab::rl::classic::CartPole;
use lab::rl::{make, Action, Env, EnvOptions, VecEnv};
use std::hint::black_box;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

const NATIVE_STEPS: usize = 20_000_000;
const PYTHON_STEPS: usize = 200_000;
const TARGET_RATIO: f64 = 100.0;

/// A cheap deterministic action stream (xorshift), so the policy costs nothing.
struct Actions(u64);
impl Actions {
    fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// Steps per second of `step`, resetting on termination or truncation.
fn rate(env: &mut dyn Env, steps: usize) -> f64 {
    let mut obs = vec![0.0f32; env.obs_dim()];
    let mut acts = Actions(0x9E37_79B9);
    env.reset(Some(0), &mut obs);
    let start = Instant::now();
    for _ in 0..steps {
        let t = env.step(Action::Discrete(acts.next(2)), &mut obs);
        if t.done() {
            env.reset(None, &mut obs);
        }
    }
    black_box(&obs);
    steps as f64 / start.elapsed().as_secs_f64()
}

/// Raw native CartPole with static dispatch (no time limit, like Gymnasium's bare class).
fn native_raw(steps: usize) -> f64 {
    let mut env = CartPole::default();
    let mut obs = [0.0f32; 4];
    let mut acts = Actions(0x9E37_79B9);
    env.reset(Some(0), &mut obs);
    let start = Instant::now();
    for _ in 0..steps {
        let t = env.step(Action::Discrete(acts.next(2)), black_box(&mut obs));
        if t.terminated {
            env.reset(None, &mut obs);
        }
    }
    steps as f64 / start.elapsed().as_secs_f64()
}

fn vec_rate(num_envs: usize, steps: usize) -> f64 {
    let mut venv = VecEnv::from_id("CartPole-v1", &EnvOptions::default(), num_envs, 0)
        .expect("CartPole vector env");
    let mut acts = Actions(0x51_7CC1);
    let mut actions = vec![0usize; num_envs];
    let start = Instant::now();
    for _ in 0..steps / num_envs {
        actions.iter_mut().for_each(|a| *a = acts.next(2));
        venv.step_discrete(&actions);
        venv.drain_finished();
    }
    black_box(venv.obs());
    steps as f64 / start.elapsed().as_secs_f64()
}

/// Gymnasium's bare `CartPoleEnv` (and `gym.make` with its wrappers), timed in Python.
fn gymnasium_rate(python: &PathBuf, wrapped: bool) -> Result<f64, String> {
    let script = format!(
        r#"
import time, gymnasium as gym
from gymnasium.envs.classic_control.cartpole import CartPoleEnv
env = gym.make("CartPole-v1") if {wrapped} else CartPoleEnv()
env.reset(seed=0)
x = 0x9E3779B9
t0 = time.perf_counter()
for _ in range({PYTHON_STEPS}):
    x = (x * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
    _, _, term, trunc, _ = env.step((x >> 33) & 1)
    if term or trunc:
        env.reset()
print({PYTHON_STEPS} / (time.perf_counter() - t0))
"#,
        wrapped = if wrapped { "True" } else { "False" }
    );
    let out = Command::new(python)
        .args(["-c", &script])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .map_err(|e| format!("unexpected output: {e}"))
}

lab::prepare_test_process!();

fn main() {
    println!("== npg_envs: environment step rates (single thread)");
    let raw = native_raw(NATIVE_STEPS);
    println!("native CartPole raw (static dispatch)     {raw:>14.0} steps/s");
    let mut limited = make("CartPole-v1", &EnvOptions::default()).expect("CartPole-v1");
    let dynamic = rate(&mut limited, NATIVE_STEPS);
    println!("native CartPole-v1 via make (TimeLimit)   {dynamic:>14.0} steps/s");
    println!(
        "native VecEnv CartPole-v1 x4              {:>14.0} steps/s",
        vec_rate(4, NATIVE_STEPS)
    );
    for id in ["Acrobot-v1", "Pendulum-v1", "MountainCar-v0"] {
        let mut env = make(id, &EnvOptions::default()).expect("env");
        if id == "Pendulum-v1" {
            let mut obs = [0.0f32; 3];
            env.reset(Some(0), &mut obs);
            let start = Instant::now();
            for k in 0..NATIVE_STEPS / 10 {
                let a = [((k % 41) as f64 - 20.0) / 10.0];
                if env.step(Action::Continuous(&a), &mut obs).done() {
                    env.reset(None, &mut obs);
                }
            }
            let r = (NATIVE_STEPS / 10) as f64 / start.elapsed().as_secs_f64();
            println!("native {id:<34} {r:>14.0} steps/s");
            continue;
        }
        println!(
            "native {id:<34} {:>14.0} steps/s",
            rate(&mut env, NATIVE_STEPS / 10)
        );
    }
    let Some(python) = devvenv_python() else {
        println!(
            "gymnasium CartPole: SKIPPED (no dev venv python; see scripts/gen_gym_fixtures.py)"
        );
        return;
    };
    match (
        gymnasium_rate(&python, false),
        gymnasium_rate(&python, true),
    ) {
        (Ok(bare), Ok(wrapped)) => {
            println!("gymnasium CartPoleEnv (bare, Python)      {bare:>14.0} steps/s");
            println!("gymnasium gym.make(CartPole-v1) (Python)  {wrapped:>14.0} steps/s");
            let ratio = raw / bare;
            let verdict = if ratio >= TARGET_RATIO {
                "met"
            } else {
                "NOT met"
            };
            println!("ratio native raw / gymnasium bare: {ratio:.0}x (target >= {TARGET_RATIO:.0}x: {verdict})");
        }
        (Err(e), _) | (_, Err(e)) => println!("gymnasium CartPole: SKIPPED ({e})"),
    }
}
