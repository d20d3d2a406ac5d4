#!/usr/bin/env bash
# Spec §5.3 table from a study's summary.csv (written by `lab report`): per env and algorithm,
# mean ± s.e. over seeds of the final evaluation return, the evaluation AUC (mean over
# evaluation points), the steps to the ma100 threshold (seeds that reached it / all), and the
# actor+critic update time per iteration.
set -euo pipefail
csv=${1:?usage: npg-rank1-table.sh STUDY_DIR/summary.csv}
echo "| env | algo | final eval return | eval AUC | steps to threshold (reached) | update ms |"
echo "|---|---|---|---|---|---|"
awk -F, '
  NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
  { sub(/^"[^"]*"/, "cell"); $0 = $0 }   # the cell name is quoted: it holds commas
  function ms(r) { return ($col["mean"] == "") ? "–" : ($col["se"] == "") ? sprintf("%.4g", $col["mean"]) \
                   : sprintf("%.4g ± %.2g", $col["mean"], $col["se"]) }
  {
    key = $col["env"] SUBSEP $col["algo"]
    if (!(key in seen)) { seen[key] = 1; order[++n] = key; runs[key] = $col["completed"] }
    v[key, $col["metric"]] = ms($0); cnt[key, $col["metric"]] = $col["runs"]
  }
  END {
    for (k = 1; k <= n; k++) {
      key = order[k]; split(key, p, SUBSEP)
      if (v[key, "steps_to_threshold"] == "") v[key, "steps_to_threshold"] = "–"
      printf "| %s | %s | %s | %s | %s (%d/%d) | %s |\n", p[1], p[2], v[key, "final_eval_mean"],
        v[key, "eval_auc"], v[key, "steps_to_threshold"], cnt[key, "steps_to_threshold"],
        runs[key], v[key, "mean_update_ms"]
    }
  }' "$csv"
