#!/usr/bin/env python3
# Ranks the cells of the T2b calibration study (configs/npg-rank1/calibration.yaml) or of the
# step-size tuning study (tuning.yaml) by their evaluation AUC on each env and prints the best
# N by mean rank (stdlib only):
#   scripts/npg-rank1-calibration-table.py results/npg-rank1/calibration/summary.csv [N]
import csv, sys, collections
rows = list(csv.DictReader(open(sys.argv[1])))
data = collections.defaultdict(dict)
for r in rows:
    if r["metric"] in ("eval_auc", "final_eval_mean") and r["mean"]:
        data[(r["step"], r.get("algo.damping", "-"))][(r["env"], r["metric"])] = (float(r["mean"]), float(r["se"] or 0))
envs = ["CartPole-v1", "Pendulum-v1"]
# rank by AUC within each env, then average rank
ranks = collections.defaultdict(list)
for e in envs:
    cells = sorted(data, key=lambda k: -data[k].get((e, "eval_auc"), (-1e9, 0))[0])
    for i, k in enumerate(cells):
        ranks[k].append(i + 1)
order = sorted(data, key=lambda k: sum(ranks[k]) / len(ranks[k]))
print("| step rule | λ | CartPole AUC | CartPole final | Pendulum AUC | Pendulum final | mean rank |")
print("|---|---|---|---|---|---|---|")
for k in order[: int(sys.argv[2]) if len(sys.argv) > 2 else 10]:
    d = data[k]
    f = lambda e, m: "%.0f ± %.0f" % d[(e, m)] if (e, m) in d else "–"
    print(f"| {k[0]} | {k[1]} | {f(envs[0],'eval_auc')} | {f(envs[0],'final_eval_mean')} | {f(envs[1],'eval_auc')} | {f(envs[1],'final_eval_mean')} | {sum(ranks[k])/len(ranks[k]):.1f} |")
default = ("fixed-3e-3", "0.1")
if default in data:
    print(f"\ndefault (fixed α=3e-3, λ=0.1) mean rank {sum(ranks[default])/len(ranks[default]):.1f} of {len(order)}")
