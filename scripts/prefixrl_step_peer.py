"""PyTorch eager peer of `cargo bench --bench prefixrl` (issue 12, Performance): one RL step of
the spec's §7.3 GPT written directly in torch, on the very contexts, rows and advantages the
bench hands over, so the bench can print lab / torch ratios.

The model is lab's `small` prefixrl preset in torch: pre-LN, learned positions counted from each
row's first real token, explicit attention with additive causal + pad-key bias (a query always
sees itself), GELU MLP, untied head without bias, biases on LayerNorms and linears. The parts:
* sampling: left-padded prefill, then a KV-cache loop that draws with `torch.multinomial` from
  softmax(logits) (τ = 1), records each token's log-prob and entropy, and stops when every row
  has emitted <eos> or after `max_new` tokens (lab's `nn::generate` does the same);
* recompute: one no-grad forward over the left-padded (context, completion) rows, target
  log-probs and entropies (lab's `policy::token_logprobs`);
* update: forward, masked REINFORCE loss −Σ A·log π / (completion tokens), backward, grad-norm
  clip 1.0, AdamW (β = (0.9, 0.95), no decay, lr 1e-4), zeroed grads (lab's `policy::pg_step`).

Run with the project venv:  python scripts/prefixrl_step_peer.py --input FILE.json
Prints one JSON line (seconds are medians). Never used by `lab` at run time.
"""
import argparse
import json
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, d, h, d_ff):
        super().__init__()
        self.h = h
        self.ln_1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln_2 = nn.LayerNorm(d)
        self.fc = nn.Linear(d, d_ff)
        self.out = nn.Linear(d_ff, d)

    def attend(self, x, bias, cache, at):
        b, t, c = x.shape
        qkv = self.qkv(x).view(b, t, 3, self.h, c // self.h).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # (B, H, T, hd)
        if cache is not None:
            if at is None:  # prefill: keep the keys and values
                cache[0], cache[1] = k, v
            else:  # one step: append
                cache[0] = torch.cat([cache[0], k], dim=2)
                cache[1] = torch.cat([cache[1], v], dim=2)
            k, v = cache
        att = q @ k.transpose(-2, -1) / (k.shape[-1] ** 0.5) + bias  # (B, H, T, S)
        y = att.softmax(-1) @ v  # (B, H, T, hd)
        return self.proj(y.transpose(1, 2).reshape(b, t, c))

    def forward(self, x, bias, cache=None, at=None):
        x = x + self.attend(self.ln_1(x), bias, cache, at)
        return x + self.out(F.gelu(self.fc(self.ln_2(x))))


class GPT(nn.Module):
    def __init__(self, vocab, d, n_layer, h, d_ff, block):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(block, d)
        self.blocks = nn.ModuleList(Block(d, h, d_ff) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)
        for p in self.parameters():  # lab's init: N(0, 0.02) weights, zero biases
            nn.init.normal_(p, std=0.02) if p.dim() > 1 else nn.init.zeros_(p)
        for blk in self.blocks:
            nn.init.ones_(blk.ln_1.weight)
            nn.init.ones_(blk.ln_2.weight)
        nn.init.ones_(self.ln_f.weight)

    def forward(self, idx, pos, bias, caches=None, at=None):
        x = self.wte(idx) + self.wpe(pos)  # (B, T, C)
        for i, blk in enumerate(self.blocks):
            x = blk(x, bias, None if caches is None else caches[i], at)
        return self.head(self.ln_f(x))  # (B, T, V)


def padded(rows, pad):
    """Left-pad id lists to (R, T); also the real-token mask and per-row positions."""
    width = max(len(r) for r in rows)
    ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows])
    real = torch.tensor([[False] * (width - len(r)) + [True] * len(r) for r in rows])
    pos = (real.long().cumsum(1) - 1).clamp(min=0)
    return ids, real, pos


def full_bias(real):
    """(R, 1, T, T) additive bias: causal, real keys only, a query always sees itself."""
    t = real.shape[1]
    causal = torch.ones(t, t, dtype=torch.bool).tril()
    allowed = (real[:, None, None, :] | torch.eye(t, dtype=torch.bool)) & causal
    return torch.zeros(allowed.shape).masked_fill(~allowed, float("-inf"))


@torch.no_grad()
def sample(model, contexts, a):
    ids, real, pos = padded(contexts, a.pad)
    r = ids.shape[0]
    caches = [[None, None] for _ in model.blocks]
    logits = model(ids, pos, full_bias(real), caches)[:, -1]  # (R, V)
    keys = torch.zeros(r, 1, 1, ids.shape[1]).masked_fill(~real[:, None, None, :], float("-inf"))
    nxt_pos = real.sum(1, keepdim=True)  # (R, 1)
    done = torch.zeros(r, dtype=torch.bool)
    toks, logps, ents, steps = [], [], [], 0
    for step in range(a.max_new):
        lp = logits.log_softmax(-1)
        tok = torch.multinomial(lp.exp(), 1).squeeze(1).masked_fill(done, a.pad)  # (R)
        logps.append(lp.gather(1, tok[:, None]).squeeze(1).masked_fill(done, 0.0))
        ents.append(-(lp.exp() * lp).sum(-1).masked_fill(done, 0.0))
        toks.append(tok)
        done = done | (tok == a.eos)
        steps += 1
        if bool(done.all()) or step + 1 == a.max_new:
            break
        keys = torch.cat([keys, torch.zeros(r, 1, 1, 1)], dim=3)
        logits = model(tok[:, None], nxt_pos, keys, caches, at=step)[:, -1]
        nxt_pos = nxt_pos + 1
    return torch.stack(toks, 1), steps


def train_tensors(rows, pad):
    """Inputs, targets, real mask, positions and completion mask of (context, completion) rows."""
    seqs = [c + g for c, g in rows]
    ids, real, pos = padded([s[:-1] for s in seqs], pad)
    tgt, _, _ = padded([s[1:] for s in seqs], pad)
    width = ids.shape[1]
    first = [width - (len(s) - 1) + len(c) - 1 for s, (c, _) in zip(seqs, rows)]
    comp = (torch.arange(width)[None, :] >= torch.tensor(first)[:, None]).float()
    return ids, tgt, real, pos, comp


def token_stats(model, batch):
    ids, tgt, real, pos, _ = batch
    logits = model(ids, pos, full_bias(real))  # (R, T, V)
    lp = logits.log_softmax(-1)
    logp = lp.gather(-1, tgt[..., None]).squeeze(-1).masked_fill(~real, 0.0)  # (R, T)
    with torch.no_grad():
        ent = -(lp.exp() * lp).sum(-1)
    return logp, ent


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


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--input", required=True, help="JSON from the bench: model, contexts, rows")
    a = p.parse_args()
    with open(a.input) as f:
        job = json.load(f)
    for k in ("n", "max_new", "eos", "pad", "warmup", "reps"):
        setattr(a, k, job[k])
    torch.set_num_threads(job["threads"])
    torch.manual_seed(0)
    m = job["model"]
    model = GPT(job["vocab"], m["d_model"], m["n_layer"], m["n_head"], m["d_ff"], m["block_size"])
    model.eval()  # no dropout anywhere
    contexts = [c for c in job["contexts"] for _ in range(a.n)]
    steps = []
    sample_s = median_time(lambda: steps.append(sample(model, contexts, a)[1]), a.warmup, a.reps)

    rows = [(c, g) for c, g in job["rows"]]
    with torch.no_grad():
        recompute_s = median_time(
            lambda: token_stats(model, train_tensors(rows, a.pad)), a.warmup, a.reps
        )

    batch = train_tensors(rows, a.pad)
    adv = torch.tensor(job["advantages"], dtype=torch.float32)[:, None]  # (R, 1)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.0)

    def update():
        logp, _ = token_stats(model, batch)
        comp = batch[4]
        loss = -(adv * logp * comp).sum() / comp.sum().clamp(min=1.0)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    update_s = median_time(update, a.warmup, a.reps)
    print(
        json.dumps(
            {
                "sample_s": sample_s,
                "decode_steps": sorted(steps)[len(steps) // 2],
                "recompute_s": recompute_s,
                "update_s": update_s,
                "params": sum(p.numel() for p in model.parameters()),
                "threads": torch.get_num_threads(),
                "torch": torch.__version__,
                "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            }
        )
    )


if __name__ == "__main__":
    main()
