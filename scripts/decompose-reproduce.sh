#!/usr/bin/env bash
# Reproduce spec section 6: the Table-2 regimes at n = 2000 and the Figure-1 finance curve.
# Usage: scripts/decompose-reproduce.sh [--quick|--table]
#   --quick: Figure 1 at N = 125 with 10 H values; --table: Table 2 only
# Results: results/decompose-reproduce/{table2.csv, figure1/finance.csv, <run dirs>}.
set -euo pipefail
LAB="${LAB:-${CARGO_TARGET_DIR:-$HOME/.cache/lab/target}/release/lab}"
OUT="results/decompose-reproduce"
mkdir -p "$OUT"
field() { grep -o "\"$2\": [^,]*" "$1/summary.json" | head -1 | sed 's/.*: //'; }

echo "example,method,n,newton_steps,loop_iterations_K,cg_iters,backtracks,grad_max,reconstruction_error,solve_s,total_wall_s,reference_K,reference_s" > "$OUT/table2.csv"
run_example() { # name config reference_K reference_s [--set ...]
  local name=$1 cfg=$2 refk=$3 refs=$4; shift 4
  local dir="$OUT/table2-$name"
  local t0; t0=$(date +%s.%N)
  "$LAB" decompose --config "$cfg" --out "$dir" --force --quiet "$@"
  local wall; wall=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { print a - b }')
  local it; it=$(field "$dir" iterations)
  echo "$name,$(field "$dir" method | tr -d '"'),$(field "$dir" n),$it,$((it + 1)),$(field "$dir" cg_iters),$(field "$dir" backtracks),$(field "$dir" grad_max),$(field "$dir" reconstruction_error),$(field "$dir" solve_s),$wall,$refk,$refs" >> "$OUT/table2.csv"
}
run_example I configs/decompose/table2-i.yaml 2 18.8
run_example II configs/decompose/table2-ii.yaml 16 339.8 --set solver.cg_forcing=fixed
run_example II-closed-form configs/decompose/table2-ii.yaml - - --set solver.method=closed-form
run_example III configs/decompose/table2-iii.yaml 5 1.7
run_example IV configs/decompose/table2-iv.yaml 4 13.9
column -s, -t < "$OUT/table2.csv"
[ "${1:-}" = "--table" ] && exit 0

echo "== finance table (spec 5.4, N = 125)"
"$LAB" decompose --config configs/decompose/finance.yaml --set 'mode.hurst=[0.5,0.6,0.7,0.8]' \
  --out "$OUT/finance-n250" --force --quiet
column -s, -t < "$OUT/finance-n250/finance.csv"

echo "== Figure 1 (spec 6.2)"
if [ "${1:-}" = "--quick" ]; then
  "$LAB" decompose --config configs/decompose/figure1.yaml --set mode.periods=125 \
    --set 'mode.hurst=[0.5,0.55,0.6,0.65,0.7,0.75,0.8,0.85,0.9,0.95]' --out "$OUT/figure1" --force --quiet
else
  "$LAB" decompose --config configs/decompose/figure1.yaml --out "$OUT/figure1" --force --quiet
fi
column -s, -t < "$OUT/figure1/finance.csv" | head -40
