#!/usr/bin/env python3
"""Dev script (spec 8.2): CVXPY + SCS against `lab decompose` on the same instances.

Family: dense A = G G^T / n + I (G standard normal, NumPy seed n), L = entries with |i - j| >= 2,
i.e. tridiagonal L^perp (`subspace.kind: band-complement`, bandwidth 1). A is written to .npy and
`lab` reads that very file, so both sides solve bit-identical instances. The objective
log det(A - C) of every solver (for `lab`, from the C.npy it wrote) is compared with the exact chordal closed form (spec 3.9.5).

lab: solve_s from summary.json (min of `--reps` runs; excludes process start and reading A).
SCS: wall time of prob.solve (CVXPY canonicalization included) and SCS's own solve_time; one run
per size above n = 40; a size whose SCS run exceeds --scs-limit seconds is recorded as a timeout
and larger sizes are skipped.

Usage: ~/.cache/lab/devvenv/bin/python scripts/decompose-cvxpy-bench.py [--sizes 40,100,200,500]
Writes data/decompose/results/conic_comparison.csv.
"""
import argparse
import json
import multiprocessing as mp
import os
import subprocess
import tempfile
import time

import numpy as np

LAB = os.environ.get("LAB", os.path.join(
    os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/lab/target")), "release/lab"))
OUT = "data/decompose/results/conic_comparison.csv"


def instance(n):
    rng = np.random.default_rng(n)
    g = rng.standard_normal((n, n))
    return g @ g.T / n + np.eye(n)


def exact_logdet(a):  # log det B^-1 = sum log det A_KK - sum log det A_SS, cliques {i, i+1}
    n = a.shape[0]
    cl = sum(np.linalg.slogdet(a[i:i + 2, i:i + 2])[1] for i in range(n - 1))
    sep = sum(np.log(a[i, i]) for i in range(1, n - 1))
    return cl - sep


def lab_methods(n):
    """`auto` (closed form here), dual Newton, and primal Newton while its m x m Hessian fits."""
    m = n * (n - 1) // 2 - (n - 1)
    methods = ["auto", "dual-newton", "dual-newton-cg"]
    methods.append("newton" if m <= 5000 else "newton-cg")
    return methods


def run_lab(path, method, reps, workdir):
    """Min solve_s over `reps` runs, and the objective log det(A - C) of the saved C."""
    best, summary = float("inf"), None
    for _ in range(reps):
        out = os.path.join(workdir, "run")
        subprocess.run([LAB, "decompose", "--out", out, "--force", "--quiet",
                        "--set", "matrix.kind=file", "--set", f"matrix.path={path}",
                        "--set", "subspace.kind=band-complement", "--set", "subspace.bandwidth=1",
                        "--set", f"solver.method={method}",
                        "--set", "solver.max_full_hessian=5000"],
                       check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(out, "summary.json")) as f:
            summary = json.load(f)
        best = min(best, summary["solve_s"])
    a, c = np.load(path), np.load(os.path.join(out, "C.npy"))
    sign, logdet = np.linalg.slogdet(a - c)
    return best, summary, logdet if sign > 0 else float("nan")


def scs_worker(a, queue):
    import cvxpy as cp
    n = a.shape[0]
    mask = np.abs(np.subtract.outer(np.arange(n), np.arange(n))) >= 2
    cv = cp.Variable((n, n), symmetric=True)
    prob = cp.Problem(cp.Maximize(cp.log_det(a - cv)), [cv[~mask] == 0])
    t = time.perf_counter()
    prob.solve(solver="SCS", eps=1e-10, max_iters=200000)
    wall = time.perf_counter() - t
    queue.put((wall, prob.solver_stats.solve_time, prob.value, prob.status))


def run_scs(a, limit):
    queue = mp.Queue()
    proc = mp.Process(target=scs_worker, args=(a, queue))
    proc.start()
    proc.join(limit)
    if proc.is_alive():
        proc.kill()
        proc.join()
        return None
    return queue.get()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="40,100,200,500")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--scs-limit", type=float, default=180.0)
    args = ap.parse_args()
    rows = ["n,solver,time_s,scs_internal_s,objective,objective_error,status"]
    scs_alive = True
    with tempfile.TemporaryDirectory() as work:
        for n in [int(s) for s in args.sizes.split(",")]:
            a = instance(n)
            ref = exact_logdet(a)
            path = os.path.join(work, f"A{n}.npy")
            np.save(path, a)
            for method in lab_methods(n):
                t, s, obj = run_lab(path, method, args.reps, work)
                err = abs(obj - ref)
                rows.append(f"{n},lab {method} ({s['method']}),{t:.6g},,{obj:.15g},"
                            f"{err:.2e},converged={s['converged']}")
                print(rows[-1], flush=True)
            if not scs_alive:
                rows.append(f"{n},CVXPY+SCS,,,,,skipped (smaller size timed out)")
                continue
            res = run_scs(a, args.scs_limit)
            if res is None:
                scs_alive = False
                rows.append(f"{n},CVXPY+SCS,>{args.scs_limit:.0f},,,,timeout")
            else:
                wall, inner, val, status = res
                rows.append(f"{n},CVXPY+SCS,{wall:.4g},{inner:.4g},{val:.15g},"
                            f"{abs(val - ref):.2e},{status}")
            print(rows[-1], flush=True)
    with open(OUT, "w") as f:
        f.write("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
