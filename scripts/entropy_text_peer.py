#!/usr/bin/env python3
"""NumPy peer of `lab entropy-probe --set task=text` for benches/entropy.rs: the model-free
metrics of spec §4 that a reader would write with NumPy, on the same inputs and conventions as
src/entropy/textfile.rs, so the bench can check both agree before timing them.

Conventions (textfile.rs): samples are the non-blank lines of a text file; tokens are
characters, numbered over the sorted union of the reference's and the samples' characters; the
reference's first floor(0.9 n) characters are the train side, the rest held out; the real
continuations are consecutive pieces of the held-out part, one as long as each sample,
wrapping to its start.

Columns: distinct_1..4 (corpus level), seq_rep_1_t1, seq_rep_4_t1, loop_frac_t1 (a period P in
1..64 whose last 3P tokens repeat P earlier, needing 4P tokens), copy_rate_32_t1 (32-token
windows found in the train side, per sample, averaged), top10_share_4 (samples minus real),
uni_entropy_gen/data, kl_uni_fwd/rev, js_uni (add-0.5 unigram tables over the vocabulary).

Usage: python scripts/entropy_text_peer.py SAMPLES REFERENCE   -> one JSON line on stdout
(with "seconds": the time from reading the files to the last metric).
Run with the dev venv: ~/.cache/lab/devvenv/bin/python
"""
import json
import math
import sys
import time

import numpy as np


def read_samples(path):
    text = open(path, encoding="utf-8").read()
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = [l[:-1] if l.endswith("\r") else l for l in text.split("\n")]
    return [l for l in lines if l.strip()]


def ngram_keys(ids, n, base):
    """int64 key of every n-gram of one id array (base**n must fit int64)."""
    if len(ids) < n:
        return np.empty(0, dtype=np.int64)
    w = np.lib.stride_tricks.sliding_window_view(ids, n).astype(np.int64)
    return w @ (base ** np.arange(n - 1, -1, -1, dtype=np.int64))


def window_hashes(ids, n):
    """64-bit polynomial hashes (wrapping) of every n-token window."""
    if len(ids) < n:
        return np.empty(0, dtype=np.uint64)
    w = np.lib.stride_tricks.sliding_window_view(ids, n).astype(np.uint64) + np.uint64(1)
    powers = np.full(n, 1_000_003, dtype=np.uint64) ** np.arange(n - 1, -1, -1, dtype=np.uint64)
    return w @ powers


def distinct(samples, n, base):
    keys = [ngram_keys(s, n, base) for s in samples]
    total = sum(len(k) for k in keys)
    return len(np.unique(np.concatenate(keys))) / total if total else None


def seq_rep(samples, n, base):
    per = [1 - len(np.unique(k)) / len(k) for k in (ngram_keys(s, n, base) for s in samples) if len(k)]
    return float(np.mean(per)) if per else None


def loop_frac(samples):
    def loops(s):
        for p in range(1, 65):
            if len(s) >= 4 * p and np.array_equal(s[len(s) - 3 * p:], s[len(s) - 4 * p:len(s) - p]):
                return True
        return False
    return sum(loops(s) for s in samples) / len(samples)


def top_share(seqs, n, k, base):
    keys = np.concatenate([ngram_keys(s, n, base) for s in seqs])
    if not len(keys):
        return None
    _, counts = np.unique(keys, return_counts=True)
    return np.sort(counts)[::-1][:k].sum() / len(keys)


def kl(p, q):
    return float(np.sum(p * np.log(p / q)))


def metrics(samples, reference):
    vocab = sorted(set(reference).union(*map(set, samples)))
    lut = {c: i for i, c in enumerate(vocab)}
    v = len(vocab)
    enc = lambda s: np.fromiter((lut[c] for c in s), dtype=np.int64, count=len(s))
    ref = enc(reference)
    cut = math.floor(0.9 * len(ref))
    train, held = ref[:cut], ref[cut:]
    ids = [enc(s) for s in samples]
    lens = np.array([len(s) for s in ids])
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    flat = held[np.arange(lens.sum()) % len(held)]
    real = [flat[a:a + l] for a, l in zip(starts, lens)]
    out = {f"distinct_{n}": distinct(ids, n, v) for n in range(1, 5)}
    out["seq_rep_1_t1"] = seq_rep(ids, 1, v)
    out["seq_rep_4_t1"] = seq_rep(ids, 4, v)
    out["loop_frac_t1"] = loop_frac(ids)
    train_hashes = np.unique(window_hashes(train, 32))
    hashes = [window_hashes(s, 32) for s in ids]
    counts = np.array([len(h) for h in hashes])
    hit = np.isin(np.concatenate(hashes), train_hashes)  # one lookup for all samples
    ends = np.cumsum(counts)
    per = [hit[e - c:e].mean() for c, e in zip(counts, ends) if c]
    out["copy_rate_32_t1"] = float(np.mean(per)) if per else None
    out["top10_share_4"] = top_share(ids, 4, 10, v) - top_share(real, 4, 10, v)
    gen = np.bincount(np.concatenate(ids), minlength=v) + 0.5
    data = np.bincount(np.concatenate(real), minlength=v) + 0.5
    q, p = gen / gen.sum(), data / data.sum()
    out["uni_entropy_gen"] = float(-(q * np.log(q)).sum())
    out["uni_entropy_data"] = float(-(p * np.log(p)).sum())
    out["kl_uni_fwd"] = kl(p, q)
    out["kl_uni_rev"] = kl(q, p)
    m = 0.5 * (p + q)
    out["js_uni"] = 0.5 * kl(p, m) + 0.5 * kl(q, m)
    return out


def main():
    start = time.perf_counter()
    samples = read_samples(sys.argv[1])
    reference = open(sys.argv[2], encoding="utf-8").read()
    out = metrics(samples, reference)
    out["seconds"] = time.perf_counter() - start
    print(json.dumps(out))


if __name__ == "__main__":
    main()
