#!/usr/bin/env python3
"""Issue 17 item 3: `lab decompose` against two peers on random patterns, in one run.

Instance family (seeded by n): A = Q diag(logspace(0, 2, n)) Q^T with Q the orthogonal factor of
a standard-normal matrix (kappa(A) = 100 exactly), and a pattern of round(0.1 n(n-1)/2)
off-diagonal pairs drawn uniformly without replacement. Both are written to <work>/A<n>.npy and
the pattern file <work>/pairs<n>.npy ((m, 2) int64, read by `lab` as `subspace.pairs_file`);
every side reads the same arrays.

Every side gets --threads BLAS threads (default 1: on the shared 2-core VM NumPy's threaded
OpenBLAS made a 495x495 Cholesky 30-60x slower than one thread; lab gets `--threads`). Sides,
alternated run by run in this order, for --reps rounds (--quick-reps for a side whose runs take
under a second), min time over the rounds: numpy dense Newton (numpy_newton.py, ours), lab auto,
CVXPY+SCS (eps 1e-8), lab newton, lab newton-cg, lab dual-newton, lab dual-newton-cg. Peers run
in a spawned child with a --limit timeout (lab: --lab-limit); a side that times out, is refused
for memory or fails is not run again at that n or any larger n.

Times: lab `solve_s` of summary.json (process wall beside it); numpy the Newton loop (after a
warm-up solve on an 8x8 block, so first-call costs are not counted against it); SCS the wall of
prob.solve (CVXPY canonicalisation included; SCS's own solve_time beside it). Accuracy of each
answer (B, C): relative error of C against the answer with the smallest max(KKT residual,
reconstruction error); reconstruction error ||A - (B^-1 + C)||_F / ||A||_F; KKT residual
max(||P_L(B)||_F / ||B||_F, ||C - P_L(C)||_F / ||C||_F). SCS and numpy return C only, so their B
is (A - C)^-1 and their reconstruction error is zero up to rounding: their accuracy is the KKT
residual.

Usage: ~/.cache/lab/devvenv/bin/python benches/peers/decompose_random.py [--sizes 50,100,200,400]
Writes data/decompose/results/random_peers.csv (or --csv).
"""
import argparse
import json
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
LAB = os.environ.get("LAB", os.path.join(
    os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/lab/target")), "release/lab"))
ALL_SIDES = ["numpy", "lab auto", "scs", "lab newton", "lab newton-cg", "lab dual-newton",
             "lab dual-newton-cg"]


def instance(n, work):
    rng = np.random.default_rng(n)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    a = (q * np.logspace(0, 2, n)) @ q.T
    a = (a + a.T) / 2
    iu, ju = np.triu_indices(n, 1)
    pick = np.sort(rng.choice(len(iu), round(0.1 * len(iu)), replace=False))
    pairs = np.stack([iu[pick], ju[pick]], axis=1).astype(np.int64)
    paths = os.path.join(work, f"A{n}.npy"), os.path.join(work, f"pairs{n}.npy")
    np.save(paths[0], a)
    np.save(paths[1], pairs)
    return a, pairs, paths


def mem_available():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return float("inf")


def peer_worker(kind, a_path, p_path, out_path, queue):
    a, pairs = np.load(a_path), np.load(p_path)
    i, j = pairs[:, 0], pairs[:, 1]
    if kind == "numpy":
        from numpy_newton import newton
        newton(a[:8, :8], np.array([0, 2]), np.array([1, 5]))  # warm-up: first-call costs out
        t = time.perf_counter()
        c, b, steps = newton(a, i, j)
        queue.put({"time_s": time.perf_counter() - t, "iterations": steps, "status": "ok"})
    else:
        import cvxpy as cp
        n = a.shape[0]
        outside = np.ones((n, n), dtype=bool)
        outside[i, j] = outside[j, i] = False
        ou, ov = np.nonzero(np.triu(outside))
        cv = cp.Variable((n, n), symmetric=True)
        prob = cp.Problem(cp.Maximize(cp.log_det(a - cv)), [cv[ou, ov] == 0])
        t = time.perf_counter()
        prob.solve(solver="SCS", eps=1e-8, max_iters=1000000)
        wall = time.perf_counter() - t
        c = (cv.value + cv.value.T) / 2
        c[outside] = 0.0
        b = np.linalg.inv(a - c)
        queue.put({"time_s": wall, "inner_s": prob.solver_stats.solve_time,
                   "iterations": prob.solver_stats.num_iters, "status": prob.status})
    np.save(out_path + "-C.npy", c)
    np.save(out_path + "-B.npy", b)


def run_peer(kind, n, m, paths, work, limit):
    if kind == "numpy" and 5 * 8 * m * m > mem_available():  # H and the four (m, m) gathers
        return {"status": f"refused: the (m, m) gathers need {5 * 8 * m * m / 2**30:.0f} GiB"}
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    out = os.path.join(work, f"{kind}{n}")
    proc = ctx.Process(target=peer_worker, args=(kind, *paths, out, queue))
    start = time.perf_counter()
    proc.start()
    try:
        res = queue.get(timeout=limit + 60)  # + spawn and import time
    except Exception:
        res = None
    proc.join(5)
    if proc.is_alive() or res is None:
        proc.kill()
        proc.join()
        return {"status": f"timeout (> {limit:.0f} s)" if res is None else "failed"}
    res["wall_s"] = time.perf_counter() - start
    res["answer"] = out
    return res


def run_lab(method, n, paths, work, limit, threads):
    out = os.path.join(work, f"lab-{method}{n}")
    shutil.rmtree(out, ignore_errors=True)
    cmd = [LAB, "decompose", "--out", out, "--quiet", "--threads", str(threads),
           "--set", "matrix.kind=file", "--set", f"matrix.path={paths[0]}",
           "--set", "subspace.kind=pattern", "--set", f"subspace.pairs_file={paths[1]}",
           "--set", f"solver.method={method}"]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        return {"status": f"timeout (> {limit:.0f} s)"}
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        msg = " ".join(proc.stderr.split())[:160].replace(",", ";")
        return {"status": f"exit {proc.returncode}: {msg}"}
    with open(os.path.join(out, "summary.json")) as f:
        s = json.load(f)
    return {"time_s": s["solve_s"], "wall_s": wall, "iterations": s["iterations"],
            "status": "ok" if s["converged"] else "not converged", "method": s["method"],
            "answer": os.path.join(out, "")}


def accuracy(a, pairs, answer):
    """(C, reconstruction error, KKT residual) of an answer saved as <answer>C.npy/B.npy."""
    sep = "" if answer.endswith(os.sep) else "-"
    c, b = np.load(answer + sep + "C.npy"), np.load(answer + sep + "B.npy")
    i, j = pairs[:, 0], pairs[:, 1]
    on = np.zeros(a.shape, dtype=bool)
    on[i, j] = on[j, i] = True
    recon = np.linalg.norm(a - np.linalg.inv(b) - c) / np.linalg.norm(a)
    stat = np.linalg.norm(b[on]) / np.linalg.norm(b)
    member = np.linalg.norm(c[~on]) / max(np.linalg.norm(c), 1e-300)
    return c, recon, max(stat, member)


def quick(runs):
    """A side whose runs all took under a second gets --quick-reps runs (noise is larger)."""
    return all(r.get("time_s", 1e9) < 1.0 for r in runs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="50,100,200,400")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--quick-reps", type=int, default=5, help="runs of a side under 1 s")
    ap.add_argument("--limit", type=float, default=600.0, help="per-run limit of a peer (s)")
    ap.add_argument("--lab-limit", type=float, default=300.0, help="per-run limit of lab (s)")
    ap.add_argument("--work", default="results/decompose-peers")
    ap.add_argument("--csv", default="data/decompose/results/random_peers.csv")
    ap.add_argument("--sides", default=",".join(ALL_SIDES), help="subset of " + ",".join(ALL_SIDES))
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads of every side")
    args = ap.parse_args()
    for var in ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"]:
        os.environ[var] = str(args.threads)  # inherited by the spawned peers
    os.makedirs(args.work, exist_ok=True)
    sides = [s for s in ALL_SIDES if s in args.sides.split(",")]
    dead = {}
    rows = ["n,m,solver,method_used,runs,time_s,all_times_s,wall_s,scs_internal_s,iterations,"
            "rel_err_c,reconstruction_error,kkt_residual,speedup_vs_scs,speedup_vs_numpy,status"]
    for n in [int(s) for s in args.sizes.split(",")]:
        a, pairs, paths = instance(n, args.work)
        m = len(pairs)
        results = {s: [] for s in sides}
        for rep in range(max(args.reps, args.quick_reps)):
            for side in sides:
                if side in dead or (rep >= args.reps and not quick(results[side])):
                    continue
                if side.startswith("lab "):
                    r = run_lab(side[4:], n, paths, args.work, args.lab_limit, args.threads)
                else:
                    r = run_peer(side, n, m, paths, args.work, args.limit)
                print(f"n={n} rep={rep} {side}: {r.get('time_s', '-')} s {r['status']}", flush=True)
                if "time_s" not in r:
                    dead[side] = r["status"]
                results[side].append(r)
        done = {s: min(rs, key=lambda r: r["time_s"]) for s, rs in results.items()
                if rs and all("time_s" in r for r in rs)}
        acc = {s: accuracy(a, pairs, r["answer"]) for s, r in done.items()}
        ref = min(acc, key=lambda s: max(acc[s][1], acc[s][2]))
        t_scs = done["scs"]["time_s"] if "scs" in done else float("nan")
        t_np = done["numpy"]["time_s"] if "numpy" in done else float("nan")
        for side in sides:
            rs = results[side]
            if side not in done:
                status = rs[-1]["status"] if rs else f"skipped ({dead.get(side, '')} at smaller n)"
                rows.append(f"{n},{m},{side},,{len(rs)},,,,,,,,,,,{status}")
                continue
            r, (c, recon, kkt) = done[side], acc[side]
            c_ref = acc[ref][0]
            err = np.linalg.norm(c - c_ref) / np.linalg.norm(c_ref)
            times = ";".join(f"{x['time_s']:.4g}" for x in rs)
            rows.append(f"{n},{m},{side},{r.get('method', side)},{len(rs)},{r['time_s']:.4g},"
                        f"{times},{r['wall_s']:.4g},{r.get('inner_s', '')},{r['iterations']},"
                        f"{err:.2e},{recon:.2e},{kkt:.2e},{t_scs / r['time_s']:.3g},"
                        f"{t_np / r['time_s']:.3g},{r['status']}"
                        + (" (reference answer)" if side == ref else ""))
            print(rows[-1], flush=True)
        os.makedirs(os.path.dirname(args.csv), exist_ok=True)
        with open(args.csv, "w") as f:
            f.write("\n".join(rows) + "\n")
    print(f"wrote {args.csv}")


if __name__ == "__main__":
    main()
