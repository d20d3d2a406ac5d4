#!/usr/bin/env bash
# Reproduce `lab prefixrl` (spec §7.6, §7.11): the pipeline runs the R1-R8 grid stands on, then
# the grid as a study, then its report (compare.csv, the §7.11 criteria, reward vs FLOPs).
# Usage: scripts/prefixrl-reproduce.sh [quick|paper]   (default quick)
#   quick: configs/prefixrl/quick-prep.yaml + quick.yaml, 1 seed, shorter (a first look)
#   paper: the spec's defaults + paper.yaml, 3 seeds (hours per run on 2 cores, §7.6)
#   paper1: paper-1seed.yaml, 1 seed at the spec's RL sizes on the quick tier's pipeline runs
# Each pipeline stage is its own run under results/prefixrl/<tier>-prep/ and is skipped when
# it completed before; the study resumes (finished runs are kept). JOBS runs at a time (2).
set -euo pipefail
LAB="${LAB:-${CARGO_TARGET_DIR:-$HOME/.cache/lab/target}/release/lab}"
JOBS="${JOBS:-2}"
tier="${1:-quick}"
case "$tier" in
  quick) prep_cfg=(--config configs/prefixrl/quick-prep.yaml); study_cfg=configs/prefixrl/quick.yaml ;;
  paper) prep_cfg=(); study_cfg=configs/prefixrl/paper.yaml ;;
  paper1) prep_cfg=(--config configs/prefixrl/quick-prep.yaml)
          study_cfg=configs/prefixrl/paper-1seed.yaml ;;
  *) echo "unknown tier $tier (quick, paper, paper1)" >&2; exit 2 ;;
esac
[ -x "$LAB" ] || { echo "error: $LAB not built (run make build)" >&2; exit 2; }
prep="results/prefixrl/$tier-prep"
study="results/prefixrl/$tier"
if [ "$tier" = paper1 ]; then prep=results/prefixrl/quick-prep; study=results/prefixrl/paper-1seed; fi

completed() { grep -q '"status": "completed"' "$1/meta.json" 2>/dev/null; }

stage() { # name stage [--set ...]: one pipeline stage into $prep/name unless it completed
  local name=$1 st=$2; shift 2
  if completed "$prep/$name"; then
    echo "== $prep/$name: completed before, kept"
    return
  fi
  local force=()
  [ -e "$prep/$name" ] && force=(--force)   # an unfinished attempt: start it over
  echo "== $prep/$name (stage $st)"
  "$LAB" prefixrl "${prep_cfg[@]}" --set "stage=$st" --out "$prep/$name" "${force[@]}" --quiet "$@"
}

stage data gen-data
stage base pretrain --set "inputs.data=$prep/data"
stage calibrate calibrate --set "inputs.data=$prep/data" --set "inputs.base=$prep/base"
stage traces collect --set "inputs.data=$prep/data" --set "inputs.base=$prep/base"
stage prefixes make-prefixes --set "inputs.data=$prep/data" --set "inputs.base=$prep/base" \
  --set "inputs.traces=$prep/traces"
# R8's traces: the oracle's solutions of the same hard problems (cross-source, §7.6).
stage traces-oracle collect --set traces.source=oracle --set "inputs.data=$prep/data" \
  --set "inputs.base=$prep/base"
stage prefixes-oracle make-prefixes --set "inputs.data=$prep/data" --set "inputs.base=$prep/base" \
  --set "inputs.traces=$prep/traces-oracle"

resume=()
[ -f "$study/study.json" ] && resume=(--resume)
echo "== study $tier ($study_cfg), $JOBS at a time"
"$LAB" prefixrl --config "$study_cfg" --out "$study" --jobs "$JOBS" "${resume[@]}"
echo "== report (compare.csv, §7.11 criteria, plots): $study/report.md"
