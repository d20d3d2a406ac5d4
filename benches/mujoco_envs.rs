//! `make bench`: MuJoCo task step rates (issue 14 performance). Each v5 task through `make`
//! (time limit included), 1 env, random actions within the bounds, resetting when an episode
//! ends, against, in the same run:
//! - Gymnasium's own `gym.make(id).step` with random actions, timed in the dev venv's python
//!   (`$LAB_DEVVENV`, default ~/.cache/lab/devvenv, with gymnasium 1.4 and mujoco 3.17);
//! - the physics ceiling: the bare `mj_step` rate on the same model divided by the frame skip.
//!
//! Targets: every task ≥ 2× Gymnasium and ≥ 90 % of the ceiling (wrapper overhead ≤ 10 %).
//! Each rate is the best of [`ROUNDS`] rounds (lab and the ceiling alternate), as the machine
//! is shared.
//!
//! Then PPO end to end on Hopper-v5 (1 env × 2048 steps, 64-64 networks, CleanRL's MuJoCo
//! profile): env steps/s of `lab npg-rank1` over the whole run, against an eager PyTorch +
//! Gymnasium PPO with the same settings (benches/peers/ppo_hopper.py), run with the project
//! venv's python (torch) and the dev venv's site-packages (gymnasium, mujoco, numpy).
#[path = "common/devvenv.rs"]
mod devvenv;
#[path = "common/lab_ppo.rs"]
mod lab_ppo;

use devvenv::devvenv_python;
use lab::rl::mujoco::half_cheetah::HalfCheetah;
use lab::rl::mujoco::hopper::Hopper;
use lab::rl::mujoco::humanoid::Humanoid;
use lab::rl::mujoco::pusher::Pusher;
use lab::rl::mujoco::sim::Sim;
use lab::rl::mujoco::swimmer::Swimmer;
use lab::rl::mujoco::walker2d::Walker2d;
use lab::rl::mujoco::{Task, DEFAULT_MODEL_DIR, TASK_IDS};
use lab::rl::{make, Action, Env, EnvOptions, Space};
use std::hint::black_box;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// Environment steps timed per task (Humanoid's are slower; it gets a fifth).
const STEPS: usize = 20_000;
const PYTHON_STEPS: usize = 4_000;
/// Timed rounds per rate; the best one counts.
const ROUNDS: usize = 3;
/// PPO iterations of 2048 steps timed end to end.
const PPO_ITERATIONS: usize = 3;

/// A cheap deterministic uniform stream in [0, 1) (xorshift).
struct Uniform(u64);
impl Uniform {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn steps_for(id: &str) -> usize {
    if id.starts_with("Humanoid") {
        STEPS / 5
    } else {
        STEPS
    }
}

/// lab's env through `make`: steps per second with random actions, and the steps at which an
/// episode ended (the ceiling resets there too, so both simulate the same kind of episodes).
fn lab_rate(id: &str, steps: usize) -> (f64, Vec<usize>) {
    let mut env = make(id, &EnvOptions::default()).expect("make");
    let Space::Box { low, high } = env.action_space() else {
        panic!("{id}: continuous actions expected")
    };
    let mut obs = vec![0.0f32; env.obs_dim()];
    let mut u = Uniform(0x9E37_79B9_7F4A_7C15);
    let mut act = vec![0.0; low.len()];
    let mut ends = Vec::new();
    env.reset(Some(0), &mut obs);
    let start = Instant::now();
    for k in 0..steps {
        for (a, (lo, hi)) in act.iter_mut().zip(low.iter().zip(&high)) {
            *a = lo + (hi - lo) * u.next();
        }
        if env.step(Action::Continuous(&act), &mut obs).done() {
            env.reset(None, &mut obs);
            ends.push(k);
        }
    }
    black_box(&obs);
    (steps as f64 / start.elapsed().as_secs_f64(), ends)
}

/// Bare `mj_step` rate ÷ frame skip: the same action stream within the control range, and a
/// reset to the model's initial state where lab's episodes ended.
fn ceiling<T: Task>(steps: usize, ends: &[usize]) -> f64 {
    let dir = Path::new(DEFAULT_MODEL_DIR);
    let mut sim = Sim::load(dir, T::MODEL_FILE, T::FRAME_SKIP).expect("model");
    let range = sim.model().actuator_ctrlrange().to_vec();
    let (qpos, qvel) = (sim.init_qpos.clone(), sim.init_qvel.clone());
    let mut u = Uniform(0x9E37_79B9_7F4A_7C15);
    let mut ctrl = vec![0.0; range.len()];
    let mut next_end = ends.iter().peekable();
    let start = Instant::now();
    for k in 0..steps {
        for (c, r) in ctrl.iter_mut().zip(&range) {
            *c = r[0] + (r[1] - r[0]) * u.next();
        }
        sim.set_ctrl(&ctrl);
        for _ in 0..sim.frame_skip() {
            sim.mj_step();
        }
        if next_end.next_if_eq(&&k).is_some() {
            sim.reset_to(&qpos, &qvel);
        }
    }
    black_box(sim.qpos());
    steps as f64 / start.elapsed().as_secs_f64()
}

/// Gymnasium's `gym.make(id).step` with random actions, in Python.
fn gymnasium_rate(python: &Path, id: &str, steps: usize) -> Result<f64, String> {
    let script = format!(
        r#"
import time, numpy as np, gymnasium as gym
env = gym.make("{id}")
env.reset(seed=0)
rng = np.random.default_rng(0)
low, high = env.action_space.low, env.action_space.high
acts = rng.uniform(low, high, size=({steps}, low.shape[0])).astype(np.float32)
best = 0.0
for _ in range({ROUNDS}):
    env.reset(seed=0)
    t0 = time.perf_counter()
    for k in range({steps}):
        _, _, term, trunc, _ = env.step(acts[k])
        if term or trunc:
            env.reset()
    best = max(best, {steps} / (time.perf_counter() - t0))
print(best)
"#
    );
    let out = Command::new(python)
        .args(["-W", "ignore", "-c", &script])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    parse_rate(out)
}

lab::prepare_test_process!();

/// One table row: lab, the ceiling and Gymnasium for task `T`.
fn row<T: Task>(python: Option<&Path>) {
    let id = T::ID;
    let steps = steps_for(id);
    let (mut ours, mut ceil) = (0.0f64, 0.0f64);
    for _ in 0..ROUNDS {
        let (rate, ends) = lab_rate(id, steps);
        ours = ours.max(rate);
        ceil = ceil.max(ceiling::<T>(steps, &ends));
    }
    let gym = python.map(|py| gymnasium_rate(py, id, PYTHON_STEPS * steps / STEPS));
    let (gym_text, ratio) = match &gym {
        Some(Ok(g)) => (format!("{g:.0}"), format!("{:.2}x", ours / g)),
        Some(Err(e)) => (format!("skipped ({e})"), "-".into()),
        None => ("skipped (no dev venv)".into(), "-".into()),
    };
    println!(
        "{id:<16} {ours:>12.0} {ceil:>12.0} {gym_text:>12} {ratio:>10} {:>9.0}%",
        100.0 * ours / ceil
    );
}

fn main() {
    println!("== mujoco_envs: MuJoCo v5 step rates (1 env, single thread, random actions)");
    let python = devvenv_python();
    println!(
        "{:<16} {:>12} {:>12} {:>12} {:>10} {:>10}",
        "task", "lab/s", "ceiling/s", "gym/s", "vs gym", "of ceil."
    );
    let py = python.as_deref();
    row::<Hopper>(py);
    row::<Walker2d>(py);
    row::<HalfCheetah>(py);
    row::<Swimmer>(py);
    row::<Humanoid>(py);
    row::<Pusher>(py);
    assert_eq!(
        TASK_IDS.len(),
        6,
        "a MuJoCo task is missing from this bench"
    );
    println!("targets: >= 2x gymnasium, >= 90% of the ceiling");
    ppo_hopper(python.as_deref());
}

/// The number a child printed last, or an error with its last stderr line.
fn parse_rate(out: std::process::Output) -> Result<f64, String> {
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(err.lines().last().unwrap_or("failed").to_string());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or("").trim();
    last.parse()
        .map_err(|e| format!("unexpected output `{last}`: {e}"))
}

/// Env steps/s of `lab npg-rank1` PPO on Hopper-v5 (the T3 PPO cell of
/// configs/npg-rank1/mujoco.yaml, shortened), whole training wall time from summary.json.
fn lab_ppo() -> Result<f64, String> {
    let sets = [
        format!("total_steps={}", 2048 * PPO_ITERATIONS),
        "env.id=Hopper-v5".into(),
        "num_envs=1".into(),
        "rollout_len=2048".into(),
        "minibatches=32".into(),
        "epochs=10".into(),
        "critic.epochs=10".into(),
        "critic.lr=3.0e-4".into(),
        "ent_coef=0.0".into(),
        "algo.actor_lr=3.0e-4".into(),
        "eval.every=0".into(),
        "eval.episodes=1".into(),
    ];
    lab_ppo::ppo_steps_per_s("ppo-hopper", &sets)
}

/// The eager PyTorch peer: the project venv's python (torch) with the dev venv's site-packages.
fn peer_ppo(devvenv_python: &Path) -> Result<f64, String> {
    let venv = std::env::var_os("VIRTUAL_ENV")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/lab/venv")))
        .ok_or("no project venv")?;
    let lib = devvenv_python
        .parent()
        .and_then(Path::parent)
        .map(|root| root.join("lib"))
        .ok_or("dev venv layout")?;
    let site = std::fs::read_dir(&lib)
        .map_err(|e| format!("{}: {e}", lib.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("site-packages"))
        .find(|p| p.is_dir())
        .ok_or("no site-packages in the dev venv")?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peers/ppo_hopper.py");
    let out = Command::new(venv.join("bin/python"))
        .args(["-W", "ignore"])
        .arg(script)
        .arg(PPO_ITERATIONS.to_string())
        .env("PYTHONPATH", site)
        .output()
        .map_err(|e| e.to_string())?;
    parse_rate(out)
}

/// PPO end to end on Hopper-v5, lab against the eager PyTorch peer, best of two runs each.
fn ppo_hopper(python: Option<&Path>) {
    println!("== PPO on Hopper-v5 end to end (1 env x 2048, 64-64, 10 epochs x 32 minibatches, 1 thread)");
    let best = |f: &dyn Fn() -> Result<f64, String>| -> Result<f64, String> { Ok(f()?.max(f()?)) };
    let ours = best(&lab_ppo);
    let peer = python.map(|py| best(&|| peer_ppo(py)));
    let fmt = |r: &Result<f64, String>| match r {
        Ok(x) => format!("{x:.0} env steps/s"),
        Err(e) => format!("FAILED ({e})"),
    };
    println!("lab npg-rank1 ppo:        {}", fmt(&ours));
    match (&ours, &peer) {
        (_, None) => println!("pytorch eager + gymnasium: skipped (no dev venv)"),
        (Ok(a), Some(Ok(b))) => {
            println!(
                "pytorch eager + gymnasium: {}  (lab {:.2}x)",
                fmt(&Ok(*b)),
                a / b
            )
        }
        (_, Some(p)) => println!("pytorch eager + gymnasium: {}", fmt(p)),
    }
}
