#!/usr/bin/env bash
# Reproduce `lab entropy-probe` (spec §6.3): the theory tables (H7), experiment E-syn, then the
# quick grid and its report (verdicts H1-H8 and plots); `paper` runs the paper tier instead.
# Usage: scripts/entropy-probe-reproduce.sh [theory] [e-syn] [quick] [paper]
#   (no argument: theory e-syn quick). Studies resume: finished runs are kept and skipped.
# Results: results/entropy-probe/{theory-<corpus>, e-syn, quick, paper}/ with report.md.
set -euo pipefail
LAB="${LAB:-${CARGO_TARGET_DIR:-$HOME/.cache/lab/target}/release/lab}"
JOBS="${JOBS:-2}"
steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(theory e-syn quick)

theory() { # corpus-yaml name orders
  echo "== theory on $2"
  "$LAB" entropy-probe --set task=theory --set "data.corpus=$1" --set "theory.orders=$3" \
    --name "theory-$2" --force --quiet
}

study() { # config name
  local dir="results/entropy-probe/$2" resume=()
  [ -f "$dir/study.json" ] && resume=(--resume)
  echo "== study $2 ($1), $JOBS at a time"
  "$LAB" entropy-probe --config "$1" --jobs "$JOBS" "${resume[@]}"
  "$LAB" report "$dir"
}

for step in "${steps[@]}"; do
  case "$step" in
    theory)
      theory '{kind: markov}' markov '[0, 1, 2, 3, 4, 6, 8]'
      if [ -f data/generated/kjv.txt ]; then
        theory '{kind: kjv}' kjv '[0, 1, 2, 4, 8, 12]'
      else
        echo "== theory on kjv skipped: data/generated/kjv.txt is missing (make data-kjv)"
      fi
      if [ -f data/tinyshakespeare/input.txt ]; then
        theory '{kind: file, path: data/tinyshakespeare/input.txt, sha256: 86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed}' \
          shakespeare '[0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 16]'
      fi ;;
    e-syn) study configs/entropy-probe/e-syn.yaml e-syn ;;
    quick) study configs/entropy-probe/quick.yaml quick ;;
    paper)
      echo "== paper tier: 75 runs of 3000 steps (gpt-small, gru, lstm); on 2 CPU cores expect"
      echo "   several hours (about 4x a quick-tier run each); on one GPU add --device cuda."
      study configs/entropy-probe/paper.yaml paper ;;
    *) echo "unknown step $step (theory, e-syn, quick, paper)" >&2; exit 2 ;;
  esac
done
