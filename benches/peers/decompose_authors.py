#!/usr/bin/env python3
"""Issue 17 item 4: Table 2 (spec 6.1, n = 2000) with the authors' reference code and `lab`, in
the same run on the same machine, one process at a time, alternating run by run.

The authors' code is not part of this project: point --authors at a checkout of
https://github.com/orzuk/ConstrainedDecomposition (its requirements: numpy, scipy, matplotlib,
pandas). Their side is their own Table 2 entry point, unchanged:
    python constrained_decomposition_demo.py --run <demo> --n1 2000 --n2 2000 --n3 2000 --n4 2000
whose printed "Time" is their solve (the solver call alone) and whose process wall time is their
whole process (imports, building A, the solve, their O(n^3) reconstruction check, heat maps).
`lab`'s side is `lab decompose --config configs/decompose/table2-<ex>.yaml` (Ex. II with
solver.cg_forcing=fixed, as the README's row; and lab's closed form as an extra row): solve time
`solve_s`, certificate phase `output_s` (the certificates of summary.json; these configs save no
matrices), whole process its wall time. Both sides get --threads BLAS threads (default 1: the
machine's 2 cores are shared, and NumPy's threaded OpenBLAS is pathologically slow under load).

Final max |gradient| and reconstruction error are each tool's own: the authors' printed
"‖∇Φ‖₂" (their final max_k |tr(B D_k)|, max |dual gradient| for Ex. II, the reduced
gradient norm for Ex. III) and absolute ||A - (B^-1 + C)||_F; lab's grad_max and relative
reconstruction_error, the latter also made absolute with ||A||_F from one extra, untimed lab run
that saves B and C (||A||_F = ||B^-1 + C||_F).

Usage: ~/.cache/lab/devvenv/bin/python benches/peers/decompose_authors.py --authors <checkout>
       [--examples I,II,III,IV] [--reps 2]
Writes data/decompose/results/table2-same-run.csv (or --csv).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

import numpy as np

LAB = os.environ.get("LAB", os.path.join(
    os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/lab/target")), "release/lab"))
DEMOS = {"I": "demo1_primal_smallS", "II": "demo2_dual_antibanded", "III": "demo3_block_group",
         "IV": "demo4_banded_A_newton"}
LAB_RUNS = {  # example -> [(row label, extra --set arguments)]
    "I": [("lab", [])],
    "II": [("lab", ["solver.cg_forcing=fixed"]),
           ("lab closed form", ["solver.method=closed-form"])],
    "III": [("lab", [])],
    "IV": [("lab", [])],
}
NUM = r"([-+0-9.eEinfa]+)"


def run_authors(ex, checkout, work, limit):
    out = os.path.join(work, f"authors-{ex}")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    cmd = [sys.executable, os.path.join(checkout, "constrained_decomposition_demo.py"), "--run",
           DEMOS[ex], "--n1", "2000", "--n2", "2000", "--n3", "2000", "--n4", "2000",
           "--outdir", out]
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1")
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=out, env=env, capture_output=True, text=True,
                              timeout=limit)
    except subprocess.TimeoutExpired:
        return {"status": f"timeout (> {limit:.0f} s)"}
    wall = time.perf_counter() - start
    text = proc.stdout
    with open(os.path.join(out, "stdout.txt"), "w") as f:
        f.write(text + proc.stderr)
    if proc.returncode != 0:
        return {"status": f"exit {proc.returncode}"}
    grab = lambda pat: float(re.search(pat + NUM, text).group(1))  # noqa: E731
    return {"solve_s": grab(r"  Time: "), "whole_s": wall, "status": "ok",
            "iterations": re.search(r"  Iterations: (\S+)", text).group(1),
            "grad_max": grab(r"  ‖∇Φ‖₂: "),
            "recon_abs": grab(r"  Reconstruction ‖A-\(B⁻¹\+C\)‖_F: ")}


def run_lab(ex, sets, work, threads, save=False):
    out = os.path.join(work, f"lab-{ex}")
    shutil.rmtree(out, ignore_errors=True)
    cmd = [LAB, "decompose", "--config", f"configs/decompose/table2-{ex.lower()}.yaml",
           "--out", out, "--quiet", "--threads", str(threads)]
    for s in sets + (["output.save_matrices=true"] if save else []):
        cmd += ["--set", s]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        return {"status": f"exit {proc.returncode}: {' '.join(proc.stderr.split())[:120]}"}
    with open(os.path.join(out, "summary.json")) as f:
        s = json.load(f)
    r = {"solve_s": s["solve_s"], "whole_s": wall, "iterations": s["iterations"],
         "grad_max": s["grad_max"], "recon_rel": s["reconstruction_error"],
         "check_s": s["check_s"], "output_s": s["output_s"], "setup_s": s["setup_s"],
         "status": "ok" if s["converged"] else "not converged", "method": s["method"]}
    if save:
        b, c = np.load(os.path.join(out, "B.npy")), np.load(os.path.join(out, "C.npy"))
        r["a_norm"] = np.linalg.norm(np.linalg.inv(b) + c)
    return r


def best(runs, key):
    ok = [r for r in runs if key in r]
    return min(ok, key=lambda r: r[key]) if ok else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--authors", required=True, help="checkout of orzuk/ConstrainedDecomposition")
    ap.add_argument("--examples", default="I,II,III,IV")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--limit", type=float, default=1800.0, help="per-run limit of theirs (s)")
    ap.add_argument("--work", default="results/decompose-authors")
    ap.add_argument("--csv", default="data/decompose/results/table2-same-run.csv")
    args = ap.parse_args()
    checkout = os.path.abspath(args.authors)
    if not os.path.isfile(os.path.join(checkout, "constrained_decomposition_demo.py")):
        raise SystemExit(f"--authors {checkout}: no constrained_decomposition_demo.py there")
    for var in ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"]:
        os.environ[var] = str(args.threads)
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    rows = ["example,side,method,runs,solve_s,solve_all_s,whole_s,whole_all_s,iterations,"
            "grad_max,reconstruction_abs,reconstruction_rel,certificate_s,check_s,"
            "speedup_solve,speedup_whole,status"]
    for ex in args.examples.split(","):
        runs = {"authors": []} | {label: [] for label, _ in LAB_RUNS[ex]}
        for rep in range(args.reps):
            r = run_authors(ex, checkout, work, args.limit)
            runs["authors"].append(r)
            print(f"Ex. {ex} rep {rep} authors: {r}", flush=True)
            for label, sets in LAB_RUNS[ex]:
                r = run_lab(ex, sets, work, args.threads)
                runs[label].append(r)
                print(f"Ex. {ex} rep {rep} {label}: {r}", flush=True)
        a_norm = run_lab(ex, LAB_RUNS[ex][0][1], work, args.threads, save=True).get("a_norm")
        theirs = best(runs["authors"], "solve_s")
        theirs_whole = best(runs["authors"], "whole_s")
        for side, rs in runs.items():
            r, w = best(rs, "solve_s"), best(rs, "whole_s")
            if r is None:
                rows.append(f"{ex},{side},,{len(rs)},,,,,,,,,,,,,{rs[-1]['status']}")
                continue
            fmt = lambda key: ";".join(f"{x[key]:.4g}" for x in rs if key in x)  # noqa: E731
            if side == "authors":
                rel = r["recon_abs"] / a_norm if a_norm else float("nan")
                rec_abs, cert, check, sp, spw = r["recon_abs"], "", "", "", ""
            else:
                rel, rec_abs = r["recon_rel"], r["recon_rel"] * (a_norm or float("nan"))
                cert, check = f"{r['output_s']:.4g}", f"{r['check_s']:.4g}"
                sp = f"{theirs['solve_s'] / r['solve_s']:.3g}" if theirs else ""
                spw = f"{theirs_whole['whole_s'] / w['whole_s']:.3g}" if theirs_whole else ""
            rows.append(f"{ex},{side},{r.get('method', DEMOS[ex])},{len(rs)},{r['solve_s']:.4g},"
                        f"{fmt('solve_s')},{w['whole_s']:.4g},{fmt('whole_s')},"
                        f"{r['iterations']},{r['grad_max']:.2e},{rec_abs:.2e},{rel:.2e},"
                        f"{cert},{check},{sp},{spw},{r['status']}")
            print(rows[-1], flush=True)
        os.makedirs(os.path.dirname(args.csv), exist_ok=True)
        with open(args.csv, "w") as f:
            f.write("\n".join(rows) + "\n")
    print(f"wrote {args.csv}")


if __name__ == "__main__":
    main()
