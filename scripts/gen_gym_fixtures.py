#!/usr/bin/env python3
"""Record reference trajectories from Gymnasium's classic-control envs (dev only).

Run once with the dev venv (gymnasium + numpy; never needed by tests or the binary):
    ~/.cache/lab/devvenv/bin/python scripts/gen_gym_fixtures.py
Writes tests/fixtures/gym/<EnvId>.csv: 500 steps per env through `gym.make` (TimeLimit
included), mixing a simple controller with random actions so every file holds both
terminations and truncations (spec §6.7). Rust replays the recorded actions from the
recorded reset states (`set_state`) and compares observations, rewards and flags.

Row layout (no header; first field says the kind):
    meta,<env id>,<max_episode_steps>,<gymnasium version>,<numpy version>
    reset,<state...>|<obs...>        state = env.unwrapped.state as exact float64 reprs
    step,<action...>|<obs...>|<reward>,<terminated>,<truncated>
Observations and continuous actions are float32 written with numpy's shortest repr.
"""
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np

STEPS = 500
OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "gym"


def f32s(xs):
    return ",".join(str(np.float32(x)) for x in np.asarray(xs, dtype=np.float32).ravel())


def f64s(xs):
    return ",".join(repr(float(x)) for x in np.asarray(xs, dtype=np.float64).ravel())


def cartpole_ctrl(obs, rng):
    return int(obs[2] + 0.5 * obs[3] + 0.05 * obs[1] > 0)


def acrobot_ctrl(obs, rng):
    return 2 if obs[5] > 0 else 0  # pump energy with the second joint's velocity


def mc_ctrl(obs, rng):
    return 2 if obs[1] >= 0 else 0


def mcc_ctrl(obs, rng):
    # exceeds the action bound on purpose (clip vs unclipped penalty), sometimes exactly 1.0
    return np.array([1.5 if obs[1] >= 0 else rng.choice([-1.0, -0.8])], dtype=np.float32)


def pendulum_ctrl(obs, rng):
    return np.array([np.clip(-2.0 * obs[1] - 0.5 * obs[2], -2.5, 2.5)], dtype=np.float32)


# env id, max_episode_steps, controller, random-action sampler
SPECS = [
    ("CartPole-v1", 100, cartpole_ctrl, lambda rng: int(rng.integers(2))),
    ("Acrobot-v1", 150, acrobot_ctrl, lambda rng: int(rng.integers(3))),
    ("Pendulum-v1", 200, pendulum_ctrl,
     lambda rng: np.array([rng.uniform(-2.5, 2.5)], dtype=np.float32)),
    ("MountainCar-v0", 200, mc_ctrl, lambda rng: int(rng.integers(3))),
    ("MountainCarContinuous-v0", 150, mcc_ctrl,
     lambda rng: np.array([rng.uniform(-1.3, 1.3)], dtype=np.float32)),
]


def action_text(a):
    return str(a) if isinstance(a, int) else f32s(a)


def record(env_id, cap, ctrl, sample):
    env = gym.make(env_id, max_episode_steps=cap)
    rng = np.random.default_rng(12345)
    lines = [f"meta,{env_id},{cap},{gym.__version__},{np.__version__}"]
    episode = 0
    obs, _ = env.reset(seed=1000 + episode)
    lines.append(f"reset,{f64s(env.unwrapped.state)}|{f32s(obs)}")
    counts = {"terminated": 0, "truncated": 0}
    for _ in range(STEPS):
        policy = ctrl if episode % 2 == 0 else (lambda o, r: sample(r))
        a = policy(obs, rng)
        obs, reward, term, trunc, _ = env.step(a)
        lines.append(f"step,{action_text(a)}|{f32s(obs)}|{float(reward)!r},{int(term)},{int(trunc)}")
        counts["terminated"] += int(term)
        counts["truncated"] += int(trunc)
        if term or trunc:
            episode += 1
            obs, _ = env.reset(seed=1000 + episode)
            lines.append(f"reset,{f64s(env.unwrapped.state)}|{f32s(obs)}")
    (OUT / f"{env_id}.csv").write_text("\n".join(lines) + "\n")
    print(f"{env_id}: {episode} episodes ended, {counts}", file=sys.stderr)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for spec in SPECS:
        record(*spec)


if __name__ == "__main__":
    main()
