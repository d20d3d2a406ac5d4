#!/usr/bin/env python3
"""Dev script: time CVXPY + Clarabel / SCS on the spec 8.2 comparison family (dense
A = G G^T / n + I, L = entries with |i - j| >= 2, i.e. tridiagonal L^perp), with the objective
error against the exact chordal closed form (spec 3.9.5). Writes data/decompose/cvxpy_timings.csv.
The Rust side of the comparison is the `F0` family of `cargo bench --bench decompose`.
"""
import time
import numpy as np
import cvxpy as cp


def exact_logdet(a):  # log det B^-1 = sum log det A_KK - sum log det A_SS, cliques {i, i+1}
    n = a.shape[0]
    cl = sum(np.linalg.slogdet(a[i:i + 2, i:i + 2])[1] for i in range(n - 1))
    sep = sum(np.log(a[i, i]) for i in range(1, n - 1))
    return cl - sep


rows = ["n,solver,median_s,objective_error"]
for n in [10, 20, 30, 40]:
    rng = np.random.default_rng(n)
    g = rng.standard_normal((n, n))
    a = g @ g.T / n + np.eye(n)
    ref = exact_logdet(a)
    mask = np.abs(np.subtract.outer(np.arange(n), np.arange(n))) >= 2
    for solver, kw in [("CLARABEL", {}), ("SCS", {"eps": 1e-10, "max_iters": 200000})]:
        times, err = [], None
        for _ in range(3):
            cv = cp.Variable((n, n), symmetric=True)
            prob = cp.Problem(cp.Maximize(cp.log_det(a - cv)), [cv[~mask] == 0])
            t = time.perf_counter()
            prob.solve(solver=solver, **kw)
            times.append(time.perf_counter() - t)
            err = abs(prob.value - ref)
        rows.append(f"{n},{solver},{sorted(times)[1]:.4f},{err:.2e}")
        print(rows[-1], flush=True)
open("data/decompose/cvxpy_timings.csv", "w").write("\n".join(rows) + "\n")
