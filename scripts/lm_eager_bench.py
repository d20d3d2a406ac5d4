"""PyTorch eager reference for `cargo bench --bench lm` (issue 10): the same GPT shapes, batch and
optimizer as lab's `src/nn`, timed here with the same thread count, so the bench can print ratios.

Run with the project venv:  python scripts/lm_eager_bench.py --what train --preset tiny --batch 16
Prints one JSON line. Never used by `lab` at run time.
"""
import argparse
import json
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

PRESETS = {  # d_model, n_layer, n_head, block_size (lab's gpt-* presets)
    "nano": (32, 1, 2, 32),
    "tiny": (64, 2, 4, 64),
    "small": (128, 4, 4, 64),
}


class Block(nn.Module):
    def __init__(self, d, h, bias):
        super().__init__()
        self.h = h
        self.ln1 = nn.LayerNorm(d, bias=bias)
        self.qkv = nn.Linear(d, 3 * d, bias=bias)
        self.proj = nn.Linear(d, d, bias=bias)
        self.ln2 = nn.LayerNorm(d, bias=bias)
        self.fc = nn.Linear(d, 4 * d, bias=bias)
        self.out = nn.Linear(4 * d, d, bias=bias)

    def split(self, t):  # (B, T, C) -> (B, H, T, C/H)
        b, n, c = t.shape
        return t.view(b, n, self.h, c // self.h).transpose(1, 2)

    def attend(self, x, cache):
        q, k, v = self.qkv(x).split(x.shape[-1], dim=2)
        q, k, v = self.split(q), self.split(k), self.split(v)
        if cache is not None:
            if cache[0] is not None:
                k = torch.cat([cache[0], k], dim=2)
                v = torch.cat([cache[1], v], dim=2)
            cache[0], cache[1] = k, v
        causal = cache is None or q.shape[2] > 1
        y = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        b, _, n, _ = y.shape
        return self.proj(y.transpose(1, 2).reshape(b, n, -1))

    def forward(self, x, cache=None):
        x = x + self.attend(self.ln1(x), cache)
        return x + self.out(F.gelu(self.fc(self.ln2(x))))


class GPT(nn.Module):
    def __init__(self, vocab, d, n_layer, h, block, bias=True):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(block, d)
        self.blocks = nn.ModuleList(Block(d, h, bias) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(d, bias=bias)

    def forward(self, idx, caches=None, start=0):
        pos = torch.arange(start, start + idx.shape[1])
        x = self.wte(idx) + self.wpe(pos)
        for i, blk in enumerate(self.blocks):
            x = blk(x, None if caches is None else caches[i])
        return self.ln_f(x) @ self.wte.weight.T  # tied head


def optimizer(model, impl):
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (decay if p.dim() >= 2 and "wte" not in name and "wpe" not in name else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}]
    kw = {"default": {}, "foreach": {"foreach": True}, "fused": {"fused": True}}[impl]
    return torch.optim.AdamW(groups, lr=1e-3, betas=(0.9, 0.99), eps=1e-8, **kw)


def median_time(fn, warmup, reps):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def bench_train(a, model):
    opt = optimizer(model, a.adamw)
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, a.vocab, (a.batch, model.wpe.num_embeddings), generator=gen)
    y = torch.randint(0, a.vocab, x.shape, generator=gen)

    def step():
        for _ in range(a.inner):
            logits = model(x)
            loss = F.cross_entropy(logits.view(-1, a.vocab), y.view(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    t = median_time(step, a.warmup, a.reps) / a.inner
    return {"tokens_per_s": x.numel() / t, "step_s": t}


@torch.no_grad()
def sample(model, a, cached):
    gen = torch.Generator().manual_seed(0)
    idx = torch.zeros(a.batch, 1, dtype=torch.long)
    caches = [[None, None] for _ in model.blocks] if cached else None
    feed = idx
    for t in range(a.new_tokens):
        if cached:
            logits = model(feed, caches, start=t)[:, -1]
        else:
            logits = model(idx)[:, -1]
        nxt = torch.multinomial(F.softmax(logits, dim=-1), 1, generator=gen)
        idx = torch.cat([idx, nxt], dim=1)
        feed = nxt
    return idx


def bench_sample(a, model):
    model.eval()
    t = median_time(lambda: sample(model, a, a.what == "sample"), a.warmup, a.reps)
    return {"tokens_per_s": a.batch * a.new_tokens / t, "run_s": t}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--what", choices=["train", "sample", "sample-full"], required=True)
    p.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--block", type=int, default=0, help="override the preset's block size")
    p.add_argument("--vocab", type=int, default=65)
    p.add_argument("--new-tokens", type=int, default=256)
    p.add_argument("--adamw", choices=["default", "foreach", "fused"], default="default")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--inner", type=int, default=5, help="training steps per timed repetition")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    d, n_layer, h, block = PRESETS[a.preset]
    block = a.block or block
    model = GPT(a.vocab, d, n_layer, h, block)
    out = bench_train(a, model) if a.what == "train" else bench_sample(a, model)
    out.update(
        what=a.what,
        preset=a.preset,
        batch=a.batch,
        block=block,
        params=sum(p.numel() for p in model.parameters()),
        adamw=a.adamw,
        threads=torch.get_num_threads(),
        torch=torch.__version__,
        maxrss_kib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
