#!/usr/bin/env python3
"""Record reference trajectories from Gymnasium's MuJoCo v5 tasks (dev only).

Run once with the dev venv (never needed by tests or the binary):
    ~/.cache/lab/devvenv/bin/pip install gymnasium==1.4.0 mujoco==3.17.0
    ~/.cache/lab/devvenv/bin/python scripts/gen_mujoco_fixtures.py [--resets]   # --resets: the
                                                                    # two numpy/ files only
Writes tests/fixtures/gym/<EnvId>.csv: 300 steps per task through `gym.make` (TimeLimit
included, with a short cap so that files hold truncations as well as terminations), with
random float32 actions, some beyond the control range (MuJoCo clamps the control, the
control cost does not). Rust replays the recorded actions from the recorded reset states
(`set_state`, i.e. mj_resetData + qpos/qvel + mj_forward, as Gymnasium's reset does) and
compares observations, rewards and flags (tests/it/mujoco_golden.rs).

Also writes tests/fixtures/numpy/mujoco_resets.csv (tests/it/gym_reset_seed.rs): per task and seed,
`state_vector()` (qpos then qvel) after reset(seed=seed) (k = 0) and after k = 1, 2 further unseeded
resets, so a seed is checked to mean Gymnasium's initial state, reset noise included.

And tests/fixtures/numpy/mujoco_vec_envs.csv (tests/it/envs_vec.rs): a 4-env `gym.make_vec` reset(seed)
of every task (env i seeded seed + i), and for Hopper and Walker2d steps with random actions through
several same-step autoresets (`vec_rollout` in scripts/gen_gym_resets.py has the row layout).

Row layout of the trajectory files (no header; first field says the kind):
    meta,<env id>,<max_episode_steps>,<gymnasium>,<mujoco>,<numpy>
    reset,<qpos...>,<qvel...>|<obs...>
    step,<action...>|<obs...>|<reward>,<terminated>,<truncated>
State, observations and rewards are float64 with Python's shortest repr; actions float32.
Humanoid's observation (348 values) is written whole on every 50th step; other rows hold its
first 30 values (qpos[2:] and the first qvel) to keep the file small.
"""
import sys
from pathlib import Path

import gymnasium as gym
import mujoco
import numpy as np

STEPS = 300
OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "gym"

# env id, max_episode_steps for the recording, observation prefix kept on most rows (None: all)
SPECS = [
    ("Hopper-v5", 40, None),
    ("Walker2d-v5", 40, None),
    ("HalfCheetah-v5", 100, None),
    ("Swimmer-v5", 100, None),
    ("Humanoid-v5", 25, 30),
    ("Pusher-v5", 100, None),
]


def f64s(xs):
    return ",".join(repr(float(x)) for x in np.asarray(xs, dtype=np.float64).ravel())


def f32s(xs):
    return ",".join(str(np.float32(x)) for x in np.asarray(xs, dtype=np.float32).ravel())


def record(env_id, cap, prefix):
    env = gym.make(env_id, max_episode_steps=cap)
    high = env.action_space.high
    rng = np.random.default_rng(2024)
    versions = f"{gym.__version__},{mujoco.__version__},{np.__version__}"
    lines = [f"meta,{env_id},{cap},{versions}"]
    episode = 0

    def reset():
        obs, _ = env.reset(seed=1000 + episode)
        data = env.unwrapped.data
        state = np.concatenate([data.qpos, data.qvel])
        keep = obs if prefix is None else obs[:prefix]
        lines.append(f"reset,{f64s(state)}|{f64s(keep)}")
        return obs

    reset()
    counts = {"terminated": 0, "truncated": 0}
    for t in range(STEPS):
        # gentle episodes (some reach the cap), ordinary ones, and ones that push past the
        # control range by up to 30 %
        reach = [0.2, 0.8, 1.3][episode % 3]
        a = rng.uniform(-reach * high, reach * high).astype(np.float32)
        obs, reward, term, trunc, _ = env.step(a)
        keep = obs if prefix is None or t % 50 == 0 else obs[:prefix]
        lines.append(f"step,{f32s(a)}|{f64s(keep)}|{float(reward)!r},{int(term)},{int(trunc)}")
        counts["terminated"] += int(term)
        counts["truncated"] += int(trunc)
        if term or trunc:
            episode += 1
            reset()
    path = OUT / f"{env_id}.csv"
    path.write_text("\n".join(lines) + "\n")
    size = path.stat().st_size // 1024
    print(f"{env_id}: {episode} episodes ended, {counts}, {size} KiB", file=sys.stderr)


RESET_SEEDS = [0, 1, 42, 12345]


def resets():
    lines = ["env,seed,k,state..."]
    for env_id, _, _ in SPECS:
        env = gym.make(env_id)
        for seed in RESET_SEEDS:
            env.reset(seed=seed)
            for k in range(3):
                if k:
                    env.reset()
                lines.append(f"{env_id},{seed},{k},{f64s(env.unwrapped.state_vector())}")
        env.close()
    path = OUT.parent / "numpy" / "mujoco_resets.csv"
    path.write_text("\n".join(lines) + "\n")
    print(f"wrote {path} ({len(lines)} lines)", file=sys.stderr)


# steps of the vector-env rollout per task (0: the reset only)
VEC_STEPS = {"Hopper-v5": 60, "Walker2d-v5": 40}


def vec_resets():
    from gen_gym_resets import vec_rollout

    lines = [f"meta,gymnasium={gym.__version__},mujoco={mujoco.__version__},numpy={np.__version__}"]
    for env_id, _, _ in SPECS:
        for seed in (0, 42):
            lines += vec_rollout(env_id, 1000, VEC_STEPS.get(env_id, 0), seed)
    path = OUT.parent / "numpy" / "mujoco_vec_envs.csv"
    path.write_text("\n".join(lines) + "\n")
    print(f"wrote {path} ({len(lines)} lines)", file=sys.stderr)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    if sys.argv[1:] == ["--resets"]:
        resets()
        vec_resets()
        return
    for spec in SPECS:
        record(*spec)
    resets()
    vec_resets()


if __name__ == "__main__":
    main()
