"""Record torch.optim.AdamW's trajectory for tests/it/optim_adamw.rs (run once, output committed).

Usage: /root/.cache/lab/venv/bin/python scripts/optim-adamw-reference.py > tests/fixtures/optim/adamw_torch.json

f64 parameters in three groups (decay 0.1 / no decay / a `head` group with lr x0.5 and decay
0.05), betas (0.9, 0.95), eps 1e-8, warm-up + cosine lr, clip_grad_norm_(1.0) before each step
with gradients that alternate between below and above the clip. PyTorch defaults otherwise
(foreach path on CPU).
"""
import json
import math

import torch

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)
SHAPES = {"h.0.w": [3, 4], "h.0.b": [4], "wte.weight": [5, 3], "lm_head.weight": [2, 3]}
GROUPS = [
    {"name": "decay", "params": ["h.0.w"], "lr_mult": 1.0, "weight_decay": 0.1},
    {"name": "no_decay", "params": ["h.0.b", "wte.weight"], "lr_mult": 1.0, "weight_decay": 0.0},
    {"name": "head", "params": ["lm_head.weight"], "lr_mult": 0.5, "weight_decay": 0.05},
]
BASE, LR_MIN, WARMUP, TOTAL, STEPS, CLIP = 1e-2, 1e-3, 3, 8, 10, 1.0


def lr_at(step):
    if step < WARMUP:
        return BASE * (step + 1) / WARMUP
    p = min(1.0, (step - WARMUP) / (TOTAL - WARMUP))
    return LR_MIN + (BASE - LR_MIN) * 0.5 * (1.0 + math.cos(math.pi * p))


params = {n: torch.randn(s, requires_grad=True) for n, s in SHAPES.items()}
init = {n: p.detach().flatten().tolist() for n, p in params.items()}
opt = torch.optim.AdamW(
    [{"params": [params[n] for n in g["params"]], "lr": BASE * g["lr_mult"],
      "weight_decay": g["weight_decay"]} for g in GROUPS],
    lr=BASE, betas=(0.9, 0.95), eps=1e-8,
)
grads, after, norms, lrs = [], [], [], []
for step in range(STEPS):
    lr = lr_at(step)
    lrs.append(lr)
    for pg, g in zip(opt.param_groups, GROUPS):
        pg["lr"] = lr * g["lr_mult"]
    scale = 0.05 if step % 2 == 0 else 3.0
    g_step = {n: torch.randn(s) * scale for n, s in SHAPES.items()}
    for n, p in params.items():
        p.grad = g_step[n].clone()
    norms.append(float(torch.nn.utils.clip_grad_norm_(list(params.values()), CLIP)))
    opt.step()
    grads.append({n: g.flatten().tolist() for n, g in g_step.items()})
    after.append({n: p.detach().flatten().tolist() for n, p in params.items()})

print(json.dumps({
    "torch": torch.__version__, "shapes": SHAPES, "groups": GROUPS, "betas": [0.9, 0.95],
    "eps": 1e-8, "clip": CLIP, "lr": lrs, "base_lr": BASE, "lr_min": LR_MIN, "warmup": WARMUP,
    "total": TOTAL, "init": init, "grads": grads, "after": after, "grad_norm": norms,
}))
