#!/usr/bin/env bash
# Reproduce `lab grng` (spec §6.2, §6.10): the two-layer theory toy (NGD, GD, RING, RENG), the
# one-seed quick look on mlp-digits, the equal-budget tuning sweep (8 settings per optimizer on
# mlp-digits, configs/grng/sweep.yaml) and the paper table stand-in (7 optimizers x 4 tasks x
# 3 seeds), each optimizer at its best sweep setting (the sweep's report writes
# results/grng/sweep/paper-tuned.yaml; without a finished sweep, configs/grng/paper.yaml's
# kinds.yaml defaults).
# Usage: scripts/grng-reproduce.sh [toy] [quick] [sweep] [paper]   (no argument: all four)
# Studies resume: finished runs are kept and skipped. Results: results/grng/<name>/ with report.md.
set -euo pipefail
LAB="${LAB:-${CARGO_TARGET_DIR:-$HOME/.cache/lab/target}/release/lab}"
JOBS="${JOBS:-2}"
steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(toy quick sweep paper)

toy() { # name method eta rho
  echo "== twolayer-toy $1"
  "$LAB" grng --set task=twolayer-toy --set "toy.method=$2" --set "toy.eta=$3" \
    --set "toy.rho=$4" --name "toy-$1" --force --quiet
}

study() { # config name
  local dir="results/grng/$2" resume=()
  [ -f "$dir/study.json" ] && resume=(--resume)
  echo "== study $2 ($1), $JOBS at a time"
  "$LAB" grng --config "$1" --jobs "$JOBS" "${resume[@]}"
  "$LAB" report "$dir"
}

for step in "${steps[@]}"; do
  case "$step" in
    toy)
      toy ngd ngd 1 0
      toy gd gd null 0
      for rho in 0.1 1 10; do toy "ring-rho$rho" ring 1 "$rho"; done
      toy ngd-eta1.8 ngd 1.8 0
      toy ring-rho10-eta1.8 ring 1.8 10 ;;
    quick) study configs/grng/quick.yaml quick ;;
    sweep) study configs/grng/sweep.yaml sweep ;;
    paper)
      tuned=results/grng/sweep/paper-tuned.yaml
      if [ -f "$tuned" ]; then
        study "$tuned" paper-tuned
      else
        echo "note: no $tuned (run the sweep first); the paper grid runs at kinds.yaml defaults" >&2
        study configs/grng/paper.yaml paper
      fi ;;
    *) echo "unknown step '$step' (toy | quick | sweep | paper)" >&2; exit 2 ;;
  esac
done
