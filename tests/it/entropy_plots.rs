//! Spec §7.3's plots as `lab entropy-probe` writes them: the smoke study (bigram and gpt-nano ×
//! plain and feedback, 3 evaluations, a report at the end) gets loss, entropy, repetition,
//! controller and stability_vs_entropy, each SVG + PNG + CSV, the CSVs holding exactly the
//! runs' own numbers; a `task: theory` run gets theory.svg beside theory.csv.
use crate::common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn smoke_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/entropy-probe/smoke.yaml")
}

/// The smoke study in a temp dir; returns (tempdir guard, study dir).
fn smoke_study() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let config = smoke_config();
    let out = lab(
        tmp.path(),
        &[
            "entropy-probe",
            "--config",
            config.to_str().unwrap(),
            "--quiet",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let dir = tmp.path().join("results/entropy-probe/smoke");
    (tmp, dir)
}

/// Every completed run: (arch, condition) → run dir (one seed in the smoke study).
fn runs(study: &Path) -> BTreeMap<(String, String), PathBuf> {
    let mut out = BTreeMap::new();
    for cell in std::fs::read_dir(study).unwrap() {
        let run = cell.unwrap().path().join("seed-0");
        if !run.join("summary.json").is_file() {
            continue;
        }
        let s = json(&run.join("summary.json"));
        let key = (
            s["arch"].as_str().unwrap().to_string(),
            s["condition"].as_str().unwrap().to_string(),
        );
        out.insert(key, run);
    }
    out
}

/// Rows of a plot CSV for one (arch, condition): step → the named columns.
fn rows_of(path: &Path, arch: &str, cond: &str, cols: &[&str]) -> Vec<Vec<String>> {
    let (h, rows) = read_csv(path);
    rows.iter()
        .filter(|r| r[0] == arch && r[1] == cond)
        .map(|r| cols.iter().map(|c| r[col(&h, c)].clone()).collect())
        .collect()
}

#[test]
fn the_smoke_study_writes_every_step_plot_with_its_data() {
    let (_tmp, study) = smoke_study();
    let runs = runs(&study);
    assert_eq!(runs.len(), 4);
    let plots = [
        ("loss", vec!["train_loss", "val_loss"]),
        ("entropy", vec!["fr_entropy_t1", "tf_entropy_val", "h_ref"]),
        (
            "repetition",
            vec![
                "seq_rep_4_greedy",
                "loop_frac_greedy",
                "distinct_4",
                "copy_rate_32_t1",
            ],
        ),
    ];
    for (name, cols) in &plots {
        let csv = study.join(format!("{name}.csv"));
        let (header, rows) = read_csv(&csv);
        let mut want = vec!["arch", "condition", "seed", "step"];
        want.extend(cols);
        assert_eq!(header, want, "{name}");
        assert_eq!(rows.len(), 4 * 3, "{name}: 4 runs x 3 evaluations");
        for ((arch, cond), run) in &runs {
            // The plot's data are the run's own metrics.csv cells (h_ref: its summary).
            let metric_cols: Vec<&str> = cols.iter().copied().filter(|c| *c != "h_ref").collect();
            let mut want_cols = vec!["step"];
            want_cols.extend(&metric_cols);
            let mine = rows_of(&csv, arch, cond, &want_cols);
            let theirs = csv_keep(&run.join("metrics.csv"), |h| want_cols.contains(&h));
            let theirs: Vec<Vec<String>> = theirs[1..]
                .iter()
                .map(|r| {
                    want_cols
                        .iter()
                        .map(|c| r[col(&theirs[0], c)].clone())
                        .collect()
                })
                .collect();
            assert_eq!(mine.len(), 3, "{name} {arch} {cond}");
            for (a, b) in zip_eq(&mine, &theirs) {
                for (x, y) in zip_eq(a, b) {
                    let (x, y): (f64, f64) = (x.parse().unwrap(), y.parse().unwrap());
                    assert!(
                        (x - y).abs() <= 1e-12 * y.abs().max(1.0),
                        "{name}: {x} vs {y}"
                    );
                }
            }
            if *name == "entropy" {
                let h = json(&run.join("summary.json"))["h_ref"].as_f64().unwrap();
                let cells = rows_of(&csv, arch, cond, &["h_ref"]);
                assert!(cells
                    .iter()
                    .all(|c| (c[0].parse::<f64>().unwrap() - h).abs() < 1e-12));
            }
        }
        // Panels: one row per quantity, one column per architecture (900 x 560 each).
        let svg = read(&study.join(format!("{name}.svg")));
        let rows = cols.iter().filter(|c| **c != "h_ref").count();
        let size = format!("width=\"1800\" height=\"{}\"", 560 * rows);
        assert!(svg.contains(&size), "{name}: {size}");
        for arch in ["bigram", "gpt"] {
            assert!(
                svg.contains(&format!("{} — {arch}", cols[0])),
                "{name} {arch}"
            );
        }
        assert!(study.join(format!("{name}.png")).is_file());
    }
    let entropy = read(&study.join("entropy.svg"));
    assert!(
        entropy.contains("h_ref = 1.1992"),
        "the analytic rate, dashed"
    );
    let report = read(&study.join("report.md"));
    for name in ["loss", "entropy", "repetition", "controller"] {
        assert!(
            report.contains(&format!("]({name}.png)")),
            "{name} in report.md"
        );
    }
}

#[test]
fn the_controller_plot_has_the_feedback_runs_from_ctrl_csv() {
    let (_tmp, study) = smoke_study();
    let csv = study.join("controller.csv");
    let (header, rows) = read_csv(&csv);
    let want = [
        "arch",
        "condition",
        "seed",
        "step",
        "ctrl_stat_filt",
        "ctrl_drift",
        "ctrl_setpoint",
        "ctrl_u",
        "lr_eff",
    ];
    assert_eq!(header, want);
    assert!(
        rows.iter().all(|r| r[1] == "feedback"),
        "plain runs do not act"
    );
    for ((arch, cond), run) in runs(&study) {
        if cond != "feedback" {
            continue;
        }
        let (ch, ctrl) = read_csv(&run.join("ctrl.csv"));
        let (sh, steps) = read_csv(&run.join("steps.csv"));
        let mine = rows_of(&csv, &arch, &cond, &["step", "ctrl_drift", "lr_eff"]);
        assert_eq!(mine.len(), ctrl.len(), "{arch}: one row per ctrl.csv row");
        for (m, c) in mine.iter().zip(&ctrl) {
            assert_eq!(m[0], c[col(&ch, "step")]);
            let drift: f64 = c[col(&ch, "drift")].parse().unwrap();
            assert_eq!(m[1].parse::<f64>().unwrap(), drift);
            let step_row = steps.iter().find(|s| s[col(&sh, "step")] == m[0]).unwrap();
            let lr: f64 = step_row[col(&sh, "lr_eff")].parse().unwrap();
            assert_eq!(m[2].parse::<f64>().unwrap(), lr, "{arch} step {}", m[0]);
        }
    }
    // Drift mode: the set-point (r* = 0.005) is drawn dashed in the drift panels.
    let svg = read(&study.join("controller.svg"));
    assert!(svg.contains("set-point, feedback") && svg.contains("ctrl_drift — gpt"));
}

#[test]
fn the_scatter_marks_architectures_and_titles_rho() {
    let (_tmp, study) = smoke_study();
    let (header, points) = read_csv(&study.join("stability_vs_entropy.csv"));
    assert_eq!(header[..3], ["arch", "condition", "seed"]);
    assert_eq!(points.len(), 4);
    let svg = read(&study.join("stability_vs_entropy.svg"));
    assert!(svg.contains("Spearman ρ = "), "ρ in the title");
    for label in [
        "plain, bigram",
        "feedback, bigram",
        "plain, gpt",
        "feedback, gpt",
    ] {
        assert!(svg.contains(label), "legend {label}");
    }
    // bigram (first) is drawn as circles, gpt as squares: 2 dots + 2 legend dots each.
    assert_eq!(svg.matches("<circle").count(), 4, "{svg}");
}

#[test]
fn a_theory_run_draws_h_k_and_val_ce_against_k() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = "data.corpus={kind: markov, vocab: 16, order: 2, alpha: 0.1, train_len: 20000, \
                  val_len: 2000, seed: 0}";
    let args = [
        "entropy-probe",
        "--set",
        "task=theory",
        "--set",
        corpus,
        "--set",
        "theory.orders=[0, 1, 2, 3]",
        "--name",
        "th",
        "--quiet",
    ];
    let out = lab(tmp.path(), &args);
    assert!(out.status.success(), "{}", text(&out));
    let dir = tmp.path().join("results/entropy-probe/th");
    let (header, rows) = read_csv(&dir.join("theory.csv"));
    assert_eq!(&header[1..5], ["k", "contexts", "h_k_train", "val_ce"]);
    assert_eq!(rows.len(), 4);
    let svg = read(&dir.join("theory.svg"));
    for label in [
        "H_k(train)",
        "val CE (add-0.05)",
        "true rate h = 1.1992",
        "order k",
    ] {
        assert!(svg.contains(label), "{label}");
    }
    // One polyline per curve: H_k, val CE and the dashed rate (segments).
    assert!(svg.matches("<polyline").count() >= 3);
    assert!(dir.join("theory.png").is_file());
}
