#!/usr/bin/env python3
"""Write the TorchScript fixture of tests/it/entropy_torchscript.rs (dev script; the files are
committed, so the tests need no Python):

  tests/fixtures/entropy/shift_bigram.pt          a traced bigram LM over 16 chars
  tests/fixtures/entropy/shift_bigram_vocab.json  its vocabulary: a JSON list, id order

The logits after token a are the fixed vector Z cyclically shifted by a:
logits[x | a] = Z[(x - a) mod 16]. Every row is a permutation of Z, so the entropy of every
next-token distribution is H(softmax(Z)), whatever the context: teacher-forced and
free-running entropies all equal it, and the argmax after a is a + 1 (Z peaks at 1), so greedy
decoding cycles through the ids with period 16. The vocabulary lists the chars of the smoke
config's Markov corpus (a..p) in reverse, so lab (which numbers chars sorted) must map ids.

Run with the project venv: /root/.cache/lab/venv/bin/python scripts/gen_torchscript_fixture.py
"""
import json
import pathlib

import torch

Z = [1.0, 2.5, 0.5, 0.0, -0.5, -1.0, -1.5, -2.0, -2.5, -3.0, -3.5, -4.0, -4.5, -5.0, -5.5, -6.0]
V = len(Z)
VOCAB = [chr(ord("a") + i) for i in range(V)][::-1]


class ShiftBigram(torch.nn.Module):
    def __init__(self):
        super().__init__()
        z = torch.tensor(Z)
        idx = (torch.arange(V)[None, :] - torch.arange(V)[:, None]) % V  # (a, x) -> (x - a) mod V
        self.register_buffer("table", z[idx])  # (V, V)

    def forward(self, ids):  # (B, T) int64 -> (B, T, V) float
        return self.table[ids]


def main():
    out = pathlib.Path(__file__).resolve().parent.parent / "tests/fixtures/entropy"
    out.mkdir(parents=True, exist_ok=True)
    model = ShiftBigram().eval()
    traced = torch.jit.trace(model, torch.zeros(2, 5, dtype=torch.int64))
    check = traced(torch.tensor([[0, 3], [15, 1]]))
    assert check.shape == (2, 2, V) and int(check[0, 1].argmax()) == 4
    traced.save(str(out / "shift_bigram.pt"))
    (out / "shift_bigram_vocab.json").write_text(json.dumps(VOCAB) + "\n")
    print(f"wrote {out}/shift_bigram.pt and shift_bigram_vocab.json")


if __name__ == "__main__":
    main()
