#!/usr/bin/env python3
"""Dev script (not needed by the build or tests): solve small decomposition instances with a
generic conic solver (CVXPY + Clarabel, spec section 8.2) and commit the answers as the fixture
data/decompose/oracle.json used by tests/it/decompose_oracle.rs.

Run: ~/.cache/lab/devvenv/bin/pip install cvxpy && ~/.cache/lab/devvenv/bin/python scripts/decompose-oracle.py
"""
import json
import numpy as np
import cvxpy as cp


def instance(n, kind, seed):
    rng = np.random.default_rng(seed)
    g = rng.standard_normal((n, n))
    a = g @ g.T / n + np.eye(n)
    if kind == "pattern":
        pairs = [(i, j) for i in range(n) for j in range(i + 1, n) if rng.random() < 0.4]
        basis = []
        for i, j in pairs:
            d = np.zeros((n, n))
            d[i, j] = d[j, i] = 1.0
            basis.append(d)
    else:
        basis = []
        for _ in range(min(8, n)):
            s = rng.standard_normal((n, n))
            s = (s + s.T) / 2
            s -= np.trace(s) / n * np.eye(n)
            basis.append(s)
    return a, basis


def solve(a, basis):
    x = cp.Variable(len(basis))
    c = sum(x[k] * d for k, d in enumerate(basis))
    prob = cp.Problem(cp.Maximize(cp.log_det(a - c)))
    prob.solve(solver="CLARABEL", tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12)
    cval = sum(x.value[k] * d for k, d in enumerate(basis))
    return prob.value, cval


cases = []
for n, kind, seed in [(6, "pattern", 1), (10, "pattern", 2), (12, "dense", 3), (8, "dense", 4)]:
    a, basis = instance(n, kind, seed)
    obj, c = solve(a, basis)
    cases.append({
        "n": n, "kind": kind, "seed": seed, "solver": "cvxpy " + cp.__version__ + " CLARABEL",
        "a": a.tolist(), "basis": [d.tolist() for d in basis],
        "log_det_a_minus_c": obj, "c": c.tolist(),
    })
    print(n, kind, obj)
with open("data/decompose/oracle.json", "w") as f:
    json.dump(cases, f)
