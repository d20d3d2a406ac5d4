#!/usr/bin/env bash
# The T2 classic study of configs/npg-rank1/paper.yaml (spec §6.1) with 2 jobs, then the
# spec §5.3 table from its summary.csv:
#   scripts/npg-rank1-reproduce.sh [STUDY.yaml] [STUDY_DIR] [LAB ARGS...]
# (LAB ARGS, e.g. --set total_steps=100000, go to `lab npg-rank1`.) Rerunning after an
# interruption resumes the study (finished runs are kept).
set -euo pipefail
study=${1:-configs/npg-rank1/paper.yaml}
dir=${2:-results/npg-rank1/t2-classic}
shift $(( $# < 2 ? $# : 2 ))
lab=${LAB:-${CARGO_TARGET_DIR:-target}/release/lab}
[ -x "$lab" ] || { echo "error: $lab not built (run make build)" >&2; exit 2; }
resume=()
[ -f "$dir/study.json" ] && resume=(--resume)
"$lab" npg-rank1 --config "$study" --out "$dir" --jobs "${JOBS:-2}" "${resume[@]}" "$@"
scripts/npg-rank1-table.sh "$dir/summary.csv" | tee "$dir/table.md"
