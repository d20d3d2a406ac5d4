#!/usr/bin/env bash
# Reproduce `lab grng` (spec §6.2, §6.10): the two-layer theory toy (NGD, GD, RING, RENG), the
# one-seed quick look on mlp-digits, and the paper table stand-in (7 optimizers x 4 tasks x 3 seeds).
# Usage: scripts/grng-reproduce.sh [toy] [quick] [paper]   (no argument: toy quick paper)
# Studies resume: finished runs are kept and skipped. Results: results/grng/<name>/ with report.md.
set -euo pipefail
LAB="${LAB:-${CARGO_TARGET_DIR:-$HOME/.cache/lab/target}/release/lab}"
JOBS="${JOBS:-2}"
steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(toy quick paper)

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
    paper) study configs/grng/paper.yaml paper ;;
    *) echo "unknown step '$step' (toy | quick | paper)" >&2; exit 2 ;;
  esac
done
