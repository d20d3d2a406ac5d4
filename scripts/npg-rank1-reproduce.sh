#!/usr/bin/env bash
# Run the study in configs/npg-rank1/paper.yaml (spec §6.1 T2) and write a report.
#   scripts/npg-rank1-reproduce.sh [STUDY.yaml] [OUT_DIR]
# Each (env, algo, seed) is one `lab npg-rank1` process on one thread, `jobs` at a time.
# A finished run (summary.json present) is skipped, so the script can be re-run after an
# interruption. The report (OUT_DIR/report.md) gives, per env and algorithm, the mean ±
# standard error over seeds of the final evaluation return, the evaluation AUC, how many
# seeds reached the threshold, and the mean actor+critic update time (spec §5.3).
set -euo pipefail
study=${1:-configs/npg-rank1/paper.yaml}
out=${2:-results/npg-rank1/paper}
lab=${LAB:-${CARGO_TARGET_DIR:-target}/release/lab}
[ -x "$lab" ] || { echo "error: $lab not built (run make build)" >&2; exit 2; }
[ -f "$study" ] || { echo "error: no study file $study" >&2; exit 2; }

list() { sed -n "s/^$1: *\[\(.*\)\]/\1/p" "$study" | tr -d ' ' | tr ',' ' '; }
jobs=$(sed -n 's/^jobs: *\([0-9]*\).*/\1/p' "$study")
seeds=$(list seeds)
algos=$(list algos)
envs=$(sed -n '/^envs:/,/^[^ ]/s/^  \([A-Za-z0-9-]*\): *\([0-9]*\).*/\1=\2/p' "$study")
[ -n "$jobs" ] && [ -n "$seeds" ] && [ -n "$algos" ] && [ -n "$envs" ] \
  || { echo "error: $study needs jobs, seeds, algos and envs" >&2; exit 2; }

mkdir -p "$out"
tasks=$(mktemp)
for e in $envs; do
  for a in $algos; do
    for s in $seeds; do
      dir="$out/${e%%=*}/$a/seed$s"
      [ -f "$dir/summary.json" ] && continue
      echo "$lab npg-rank1 --config configs/npg-rank1/$a.yaml --set env.id=${e%%=*}" \
           "--set total_steps=${e#*=} --seed $s --threads 1 --quiet --force --out $dir" >> "$tasks"
    done
  done
done
echo "== $(wc -l < "$tasks") runs to do, $jobs at a time -> $out"
xargs -P "$jobs" -I{} sh -c '{} > /dev/null' < "$tasks"
rm -f "$tasks"

field() { sed -n "s/.*\"$2\": *\([^,}]*\).*/\1/p" "$1" | head -1; }
report="$out/report.md"
{
  echo "# npg-rank1 T2 classic study ($(date -u +%F))"
  echo
  echo "| env | algo | seeds | final eval (mean ± s.e.) | eval AUC (mean ± s.e.) | reached threshold | update ms |"
  echo "|---|---|---|---|---|---|---|"
  for e in $envs; do
    for a in $algos; do
      rows=""
      for s in $seeds; do
        f="$out/${e%%=*}/$a/seed$s/summary.json"
        [ -f "$f" ] || continue
        rows+="$(field "$f" final_eval_mean) $(field "$f" eval_auc) $(field "$f" steps_to_threshold) $(field "$f" mean_update_ms)"$'\n'
      done
      printf '%s' "$rows" | awk -v env="${e%%=*}" -v algo="$a" '
        NF { n++; f[n]=$1; u[n]=$2; if ($3 != "null") hit++; ms+=$4 }
        function mse(x,   i, m, v) { m=0; for (i=1;i<=n;i++) m+=x[i]; m/=n; v=0;
          for (i=1;i<=n;i++) v+=(x[i]-m)^2; return sprintf("%.1f ± %.1f", m, n>1 ? sqrt(v/(n-1)/n) : 0) }
        END { if (n) printf "| %s | %s | %d | %s | %s | %d/%d | %.1f |\n", env, algo, n, mse(f), mse(u), hit, n, ms/n }'
    done
  done
} > "$report"
echo "== report: $report"
