#!/usr/bin/env python3
"""Record what a seed means in NumPy and Gymnasium, for `lab::rl::np_random` (dev only).

Run with the dev venv (numpy 2.x + gymnasium==1.4.0; never needed by tests or the binary):
    ~/.cache/lab/devvenv/bin/python scripts/gen_gym_resets.py            # fixtures
    ~/.cache/lab/devvenv/bin/python scripts/gen_gym_resets.py --tables   # src/rl/np_ziggurat.rs
    ~/.cache/lab/devvenv/bin/python scripts/gen_gym_resets.py --vec      # vec_envs.csv only

Fixtures (tests/fixtures/numpy/, read by tests/it/np_random.rs and tests/it/gym_reset_seed.rs;
floats are Python reprs, which Rust parses back to the same f64):
    seeds.csv        seed, SeedSequence(seed).generate_state(4, uint64), PCG64 state and inc after
                     seeding, the first 4 raw outputs, state after 1000 random() draws
    random.csv       index, then default_rng(seed).random() for each seed in the header
    uniform.csv      index, then default_rng(seed).uniform(low, high) for the (seed, low, high) in the header
    normal.csv       index, then default_rng(seed).standard_normal() for each seed in the header
    normal_tail.csv  the draws of the ziggurat's tail (|x| >= r) among the first 10^6 normals of one seed,
                     then the last draw and the state after them
    gym_resets.csv   env, seed, k, state: env.unwrapped.state after reset(seed=seed) (k = 0) and after
                     k further unseeded resets (k = 1, 2), so the generator stream is checked to continue
    gym_episodes.csv env, seed, step, action, state after the step, reward, terminated: one episode from
                     reset(seed=seed) with recorded actions (the same seed must give the same episode)
                     until termination or the env's step count below
    vec_envs.csv     a 4-env `gym.make_vec` (SyncVectorEnv, same-step autoreset) per classic env: the
                     observations after reset(seed=s) (env i seeded s + i), then steps with recorded
                     actions, autoresets continuing each env's generator (`vec_rollout` below; tests/it/envs_vec.rs)

--tables writes NumPy's ziggurat tables (ki/wi/fi for doubles, `ziggurat_constants.h`) as read from the
compiled numpy/random/_generator module: recomputing them by their construction in float64 reproduces only
about 100 of 256 entries bit for bit, so they are data. The tables are located by matching the published
construction (Marsaglia & Tsang, 256 layers, r = 3.6541528853610088) to 1e-6 relative.
"""
import glob
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "numpy"
SEEDS = [0, 1, 42, 12345, 2**31 + 7, 2**32, 2**63 + 5, 2**64 - 1]
DRAWS = 1000
ZIG_R = 3.6541528853610087963519472518
ZIG_V = 0.0049286732339746519  # area of one layer


def f64s(xs):
    return ",".join(repr(float(x)) for x in np.asarray(xs, dtype=np.float64).ravel())


def pcg_state(gen):
    s = gen.bit_generator.state["state"]
    return f"{s['state']},{s['inc']}"


def write(name, lines):
    (OUT / name).write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT / name} ({len(lines)} lines)", file=sys.stderr)


def seeds_csv():
    lines = ["seed,seedseq_u64_0,seedseq_u64_1,seedseq_u64_2,seedseq_u64_3,state,inc,"
             "raw0,raw1,raw2,raw3,state_after_1000,inc_after_1000"]
    for seed in SEEDS:
        words = np.random.SeedSequence(seed).generate_state(4, np.uint64)
        gen = np.random.default_rng(seed)
        start = pcg_state(gen)
        raw = np.random.PCG64(seed).random_raw(4)
        gen.random(DRAWS)
        lines.append(f"{seed},{','.join(str(w) for w in words)},{start},"
                     f"{','.join(str(r) for r in raw)},{pcg_state(gen)}")
    write("seeds.csv", lines)


def columns_csv(name, header, columns):
    lines = ["index," + ",".join(header)]
    for i in range(DRAWS):
        lines.append(f"{i}," + ",".join(repr(float(c[i])) for c in columns))
    write(name, lines)


def draws():
    random_seeds = [0, 42, 2**31 + 7, 2**64 - 1]  # seeds.csv checks all SEEDS after 1000 draws
    columns_csv("random.csv", [f"seed={s}" for s in random_seeds],
                [np.random.default_rng(s).random(DRAWS) for s in random_seeds])
    bounds = [(0, -0.05, 0.05), (42, -np.pi, np.pi), (2**31 + 7, -0.6, -0.4), (12345, -1e3, 2.5)]
    columns_csv("uniform.csv", [f"seed={s};low={lo!r};high={hi!r}" for s, lo, hi in bounds],
                [np.random.default_rng(s).uniform(lo, hi, DRAWS) for s, lo, hi in bounds])
    normal_seeds = [0, 42, 2**31 + 7]
    columns_csv("normal.csv", [f"seed={s}" for s in normal_seeds],
                [np.random.default_rng(s).standard_normal(DRAWS) for s in normal_seeds])
    seed, n = 7, 10**6
    gen = np.random.default_rng(seed)
    x = gen.standard_normal(n)
    tail = np.nonzero(np.abs(x) >= ZIG_R)[0]
    lines = [f"meta,seed={seed},draws={n}"]
    lines += [f"tail,{i},{float(x[i])!r}" for i in tail]
    lines.append(f"last,{n - 1},{float(x[-1])!r}")
    lines.append(f"state,{pcg_state(gen)}")
    write("normal_tail.csv", lines)


def _discrete(n):
    return lambda rng: int(rng.integers(n))


def _box(high):
    return lambda rng: np.array([rng.uniform(-high, high)], dtype=np.float32)


# env id, action sampler, episode seeds, steps per episode (fewer where it terminates).
# Each episode's actions come from default_rng(seed). Acrobot seeds 7 and 31 and Pendulum
# seeds 42 and 7 are episodes in which Gymnasium's `x**2` (C pow, not always correctly
# rounded) differs from `x*x` somewhere (found by replaying them with `x*x` patched in), so
# the fixture tells the two apart; with most seeds the difference never shows.
ENVS = [
    ("CartPole-v1", _discrete(2), [0, 42], 200),
    ("Acrobot-v1", _discrete(3), [0, 7, 31], 300),
    ("Pendulum-v1", _box(2.5), [0, 42, 7], 200),
    ("MountainCar-v0", _discrete(3), [0, 42], 150),
    ("MountainCarContinuous-v0", _box(1.3), [0, 42], 150),
]


def gym_fixtures():
    import gymnasium as gym

    resets = [f"meta,gymnasium={gym.__version__},numpy={np.__version__}"]
    episodes = list(resets)
    for env_id, sample, episode_seeds, steps in ENVS:
        env = gym.make(env_id).unwrapped
        for seed in SEEDS:
            env.reset(seed=seed)
            resets.append(f"{env_id},{seed},0,{f64s(env.state)}")
            for k in (1, 2):
                env.reset()
                resets.append(f"{env_id},{seed},{k},{f64s(env.state)}")
        for seed in episode_seeds:
            rng = np.random.default_rng(seed)
            env.reset(seed=seed)
            episodes.append(f"{env_id},{seed},reset,,{f64s(env.state)},,")
            for step in range(steps):
                a = sample(rng)
                _, reward, term, _, _ = env.step(a)
                action = str(a) if isinstance(a, int) else f64s(a)
                episodes.append(f"{env_id},{seed},{step},{action},{f64s(env.state)},"
                                f"{float(reward)!r},{int(term)}")
                if term:
                    break
    write("gym_resets.csv", resets)
    write("gym_episodes.csv", episodes)


VEC_ENVS = 4
# env id, time limit (short, so that truncations autoreset too), steps
VEC_SPECS = [
    ("CartPole-v1", 500, 60),
    ("Acrobot-v1", 20, 45),
    ("Pendulum-v1", 20, 45),
    ("MountainCar-v0", 20, 45),
    ("MountainCarContinuous-v0", 20, 45),
]
VEC_SEEDS = [0, 42]


def vec_rollout(env_id, cap, steps, seed):
    """Rows of one `gym.make_vec` episode batch: reset(seed) then `steps` steps (same-step autoreset).

        reset,<env>,<seed>,<cap>|<obs of env 0..3>
        step,<env>,<seed>,<t>|<actions>|<obs>|<rewards>|<terminated>|<truncated>
        final,<env>,<seed>,<t>,<i>|<final obs of env i>   (after a step that ended env i's episode)
    Discrete actions are ints, continuous ones float32 (exact as float64); obs as float64 reprs."""
    import gymnasium as gym

    envs = gym.make_vec(env_id, num_envs=VEC_ENVS, vectorization_mode="sync",
                        vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP},
                        max_episode_steps=cap)
    obs, _ = envs.reset(seed=seed)
    rows = [f"reset,{env_id},{seed},{cap}|{f64s(obs)}"]
    rng = np.random.default_rng(seed + 1000)
    space = envs.single_action_space
    for t in range(steps):
        if hasattr(space, "n"):
            actions = rng.integers(space.n, size=VEC_ENVS)
            text = ",".join(str(int(a)) for a in actions)
        else:
            low, high = np.broadcast_to(space.low, space.shape), np.broadcast_to(space.high, space.shape)
            actions = rng.uniform(low, high, size=(VEC_ENVS,) + space.shape).astype(np.float32)
            text = f64s(actions)
        obs, rew, term, trunc, info = envs.step(actions)
        flags = [",".join(str(int(x)) for x in v) for v in (term, trunc)]
        rows.append(f"step,{env_id},{seed},{t}|{text}|{f64s(obs)}|{f64s(rew)}|{flags[0]}|{flags[1]}")
        for i in np.nonzero(term | trunc)[0]:
            rows.append(f"final,{env_id},{seed},{t},{i}|{f64s(info['final_obs'][i])}")
    envs.close()
    return rows


def vec_fixtures():
    import gymnasium as gym

    rows = [f"meta,gymnasium={gym.__version__},numpy={np.__version__}"]
    for env_id, cap, steps in VEC_SPECS:
        for seed in VEC_SEEDS:
            rows += vec_rollout(env_id, cap, steps, seed)
    write("vec_envs.csv", rows)


def ziggurat_tables():
    """Find NumPy's double ziggurat tables in its compiled module by their construction."""
    so = glob.glob(os.path.join(os.path.dirname(np.random.__file__), "_generator.*.so"))[0]
    data = open(so, "rb").read()
    n = 256
    pdf = lambda x: np.exp(-0.5 * x * x)  # noqa: E731
    x = np.zeros(n)
    x[0] = ZIG_R
    for i in range(1, n - 1):
        x[i] = np.sqrt(-2 * np.log(pdf(x[i - 1]) + ZIG_V / x[i - 1]))
    x = x[::-1]  # x[0] = 0, x[255] = r
    approx = {
        "wi": np.concatenate([[ZIG_V / pdf(ZIG_R)], x[1:]]) / 2.0**52,
        "fi": pdf(x),
        "ki": np.concatenate([[ZIG_R * pdf(ZIG_R) / ZIG_V], x[:-1] / x[1:]]) * 2.0**52,
    }
    found = {}
    for name, want in approx.items():
        dtype = "<u8" if name == "ki" else "<f8"
        hits = []
        for off in range(8):
            arr = np.frombuffer(data, dtype=dtype, count=(len(data) - off) // 8, offset=off)
            vals = arr.astype(np.float64)
            for c in np.nonzero(np.isclose(vals[5:len(vals) - n], want[5], rtol=1e-6, atol=0))[0]:
                window = vals[c:c + n]
                if len(window) == n and np.allclose(window, want, rtol=1e-6, atol=2.0):
                    hits.append(arr[c:c + n].copy())
        if len(hits) != 1:
            sys.exit(f"{name}: found {len(hits)} candidate tables in {so}, want exactly 1")
        found[name] = hits[0]
    out = ROOT / "src" / "rl" / "np_ziggurat.rs"
    lines = [
        "//! NumPy's ziggurat tables for standard normal doubles (256 layers), generated by",
        "//! `scripts/gen_gym_resets.py --tables` from the compiled numpy/random/_generator module",
        f"//! (numpy {np.__version__}): data, not code; do not edit. `KI` are the layers' acceptance",
        "//! thresholds scaled by 2^52, `WI` the widths per 52-bit integer, `FI` the density at the edges.",
        "",
        "#[rustfmt::skip]",
        "pub const KI: [u64; 256] = [",
    ]
    lines += [f"    {', '.join(str(int(v)) for v in found['ki'][i:i + 4])}," for i in range(0, n, 4)]
    for name in ("wi", "fi"):
        lines += ["];", "", "#[rustfmt::skip]", f"pub const {name.upper()}: [f64; 256] = ["]
        lines += [f"    {', '.join(rust_f64(v) for v in found[name][i:i + 3])},"
                  for i in range(0, n, 3)]
    lines.append("];")
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}", file=sys.stderr)


def rust_f64(v):
    text = repr(float(v))
    return text if ("." in text or "e" in text) else text + ".0"


def main():
    if "--tables" in sys.argv[1:]:
        ziggurat_tables()
        return
    if "--vec" in sys.argv[1:]:
        vec_fixtures()
        return
    OUT.mkdir(parents=True, exist_ok=True)
    seeds_csv()
    draws()
    gym_fixtures()
    vec_fixtures()


if __name__ == "__main__":
    main()
