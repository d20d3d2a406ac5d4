#!/usr/bin/env python3
"""PPO on Hopper-v5 in eager PyTorch + Gymnasium, the peer of `lab npg-rank1` PPO in
benches/mujoco_envs.rs (issue 14 performance). Written for this bench after the semantics of
CleanRL's ppo_continuous_action.py (its MuJoCo profile): 1 env × 2048 steps, separate 64-64 tanh
actor and critic with orthogonal init, state-independent log-std, clipped actions, observation
and reward normalisation with clipping at 10, GAE(0.99, 0.95), 10 epochs of 32 minibatches,
clip 0.2 on the ratio and the value, max grad norm 0.5, Adam 3e-4 annealed linearly, one thread.

    python benches/peers/ppo_hopper.py ITERATIONS   -> prints env steps per second (whole run)

Needs torch, numpy, gymnasium and mujoco (the bench runs it with the project venv's python and
the dev venv's site-packages on PYTHONPATH).
"""
import sys
import time

import gymnasium as gym
import numpy as np
import torch
from torch import nn

STEPS, MINIBATCHES, EPOCHS = 2048, 32, 10
GAMMA, LAM, CLIP, LR, MAX_GRAD = 0.99, 0.95, 0.2, 3e-4, 0.5


def make_env():
    env = gym.make("Hopper-v5")
    env = gym.wrappers.ClipAction(env)
    env = gym.wrappers.NormalizeObservation(env)
    env = gym.wrappers.TransformObservation(env, lambda o: np.clip(o, -10, 10), env.observation_space)
    env = gym.wrappers.NormalizeReward(env, gamma=GAMMA)
    env = gym.wrappers.TransformReward(env, lambda r: float(np.clip(r, -10, 10)))
    return env


def mlp(n_in, n_out, out_gain):
    layers = [nn.Linear(n_in, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, n_out)]
    for layer, gain in zip(layers[::2], [np.sqrt(2), np.sqrt(2), out_gain]):
        nn.init.orthogonal_(layer.weight, gain)
        nn.init.zeros_(layer.bias)
    return nn.Sequential(*layers)


class Policy(nn.Module):
    def __init__(self, n_obs, n_act):
        super().__init__()
        self.mean = mlp(n_obs, n_act, 0.01)
        self.value = mlp(n_obs, 1, 1.0)
        self.log_std = nn.Parameter(torch.zeros(n_act))

    def dist(self, obs):
        mean = self.mean(obs)
        return torch.distributions.Normal(mean, self.log_std.expand_as(mean).exp())


def rollout(env, policy, obs):
    """STEPS transitions from the current observation; returns the buffers and the next obs."""
    n_obs, n_act = obs.shape[0], env.action_space.shape[0]
    buf_obs = torch.zeros(STEPS, n_obs)
    buf_act = torch.zeros(STEPS, n_act)
    buf_logp, buf_val, buf_rew, buf_done = (torch.zeros(STEPS) for _ in range(4))
    done = 0.0
    for t in range(STEPS):
        o = torch.as_tensor(obs, dtype=torch.float32)
        with torch.no_grad():
            d = policy.dist(o)
            a = d.sample()
            buf_logp[t] = d.log_prob(a).sum()
            buf_val[t] = policy.value(o)[0]
        buf_obs[t], buf_act[t], buf_done[t] = o, a, done
        obs, r, term, trunc, _ = env.step(a.numpy())
        buf_rew[t] = r
        done = float(term or trunc)
        if done:
            obs, _ = env.reset()
    with torch.no_grad():
        last_val = policy.value(torch.as_tensor(obs, dtype=torch.float32))[0]
    return (buf_obs, buf_act, buf_logp, buf_val, buf_rew, buf_done, last_val, done), obs


def advantages(rew, val, done, last_val, last_done):
    """GAE; done[t] says the episode ended before step t's observation."""
    adv = torch.zeros(STEPS)
    gae = 0.0
    for t in reversed(range(STEPS)):
        next_nonterminal = 1.0 - (last_done if t == STEPS - 1 else done[t + 1])
        next_val = last_val if t == STEPS - 1 else val[t + 1]
        delta = rew[t] + GAMMA * next_val * next_nonterminal - val[t]
        gae = delta + GAMMA * LAM * next_nonterminal * gae
        adv[t] = gae
    return adv


def update(policy, opt, batch):
    obs, act, old_logp, val, rew, done, last_val, last_done = batch
    adv = advantages(rew, val, done, last_val, last_done)
    ret = adv + val
    size = STEPS // MINIBATCHES
    for _ in range(EPOCHS):
        order = torch.randperm(STEPS)
        for k in range(MINIBATCHES):
            i = order[k * size:(k + 1) * size]
            d = policy.dist(obs[i])
            ratio = (d.log_prob(act[i]).sum(1) - old_logp[i]).exp()
            a = adv[i]
            a = (a - a.mean()) / (a.std() + 1e-8)
            pg_loss = torch.max(-a * ratio, -a * ratio.clamp(1 - CLIP, 1 + CLIP)).mean()
            v = policy.value(obs[i]).squeeze(1)
            v_clipped = val[i] + (v - val[i]).clamp(-CLIP, CLIP)
            v_loss = 0.5 * torch.max((v - ret[i]) ** 2, (v_clipped - ret[i]) ** 2).mean()
            loss = pg_loss + 0.5 * v_loss
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(policy.parameters(), MAX_GRAD)
            opt.step()


def main():
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    torch.set_num_threads(1)
    torch.manual_seed(0)
    start = time.perf_counter()
    env = make_env()
    obs, _ = env.reset(seed=0)
    policy = Policy(obs.shape[0], env.action_space.shape[0])
    opt = torch.optim.Adam(policy.parameters(), lr=LR, eps=1e-5)
    for it in range(iterations):
        opt.param_groups[0]["lr"] = LR * (1.0 - it / iterations)
        batch, obs = rollout(env, policy, obs)
        update(policy, opt, batch)
    print(iterations * STEPS / (time.perf_counter() - start))


if __name__ == "__main__":
    main()
