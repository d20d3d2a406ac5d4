//! `lab report` on entropy-probe sweeps: fake run trees laid out as real studies write them
//! (study.json, cell dirs, seed-k dirs with meta.json, config.yaml, metrics.csv, summary.json),
//! with a known answer: an effect in the predicted direction (supported), the opposite one
//! (contradicted) and none (inconclusive). The hook's files and the plots:
//! `entropy_verdict_plots`.
use crate::common::*;
use lab::entropy::verdict::{files::HYPOTHESES_HEADER, Direction, PAIRED};
use std::collections::BTreeMap;
use std::path::Path;

pub const ARCHS: [&str; 2] = ["gpt", "gru"];
const CONDITIONS: [&str; 3] = ["plain", "conventional", "feedback"];
const SEEDS: u64 = 5;

/// hypotheses.csv rows by (id, arch, metric, condition).
type Rows = BTreeMap<(String, String, String, String), Vec<String>>;

/// The §4.7 metrics.csv columns (every run writes all; most stay empty here).
const COLUMNS: &str = "step,epoch,tokens_seen,wall_s,lr_eff,train_loss,train_fit_loss,val_loss,\
val_ppl,tf_entropy_train,tf_entropy_val,overconf_gap_val,fr_entropy_t1,fr_nll_t1,fr_entropy_greedy,\
top1_mass_fr,gen_ref_nll_t1,rev_kl_proxy,uni_entropy_gen,uni_entropy_data,bi_cond_entropy_gen,\
bi_cond_entropy_data,kl_uni_fwd,kl_uni_rev,kl_bi_fwd,kl_bi_rev,js_uni,distinct_1,distinct_2,\
distinct_3,distinct_4,distinct_4_greedy,seq_rep_1_t1,seq_rep_4_t1,seq_rep_4_greedy,rep_16,rep_64,\
wrep_64,hits_at_1,loop_frac_greedy,loop_period_greedy,loop_frac_t1,longest_repeat_t1,\
longest_repeat_greedy,copy_rate_32_t1,copy_rate_32_greedy,coverage_4,top10_share_4,self_bleu4,\
mauve_ngram,loss_jitter,loss_jitter_rel,grad_norm_mean,grad_norm_cv,clip_frac,update_ratio_mean,\
update_cos_mean,param_norm,gen_stat_std,ctrl_stat,ctrl_stat_filt,ctrl_setpoint,ctrl_error,\
ctrl_integral,ctrl_u,ctrl_drift";

/// A finished 2 archs × 3 conditions × 5 seeds study under `root`. Stabilised runs move every
/// H1–H4 metric by `effect(seed)` in its predicted direction; `jitter` gives stab_loss_jitter.
pub fn write_study(root: &Path, effect: &dyn Fn(u64) -> f64, jitter: &dyn Fn(&str, u64) -> f64) {
    write_study_with(root, effect, jitter, After::Falls);
}

/// What fr_entropy_t1 does over a run's 3 evaluations (steps 20, 40, 60) for H2.
#[derive(Clone, Copy, PartialEq)]
enum After {
    /// val_loss lowest at step 40, entropy falls from there by 0.2.
    Falls,
    /// val_loss lowest at step 40, entropy rises from there by 0.2.
    Rises,
    /// val_loss still falling at step 60: the minimum is not reached.
    EndsAtMin,
}

fn write_study_with(
    root: &Path,
    effect: &dyn Fn(u64) -> f64,
    jitter: &dyn Fn(&str, u64) -> f64,
    after: After,
) {
    let cells: Vec<(String, &str, &str)> = ARCHS
        .iter()
        .flat_map(|a| {
            CONDITIONS
                .iter()
                .map(move |c| (format!("model.kind={a},condition={c}"), *a, *c))
        })
        .collect();
    let record = serde_json::json!({
        "subcommand": "entropy-probe",
        "name": "fake",
        "seeds": (0..SEEDS).collect::<Vec<_>>(),
        "grid": [{"key": "model.kind", "values": ARCHS}, {"key": "condition", "values": CONDITIONS}],
        "cells": cells.iter().map(|(name, a, c)| serde_json::json!({
            "name": name,
            "settings": [{"key": "model.kind", "value": a}, {"key": "condition", "value": c}],
        })).collect::<Vec<_>>(),
    });
    std::fs::create_dir_all(root).unwrap();
    std::fs::write(root.join("study.json"), record.to_string()).unwrap();
    for (name, arch, cond) in &cells {
        for seed in 0..SEEDS {
            let dir = root.join(name).join(format!("seed-{seed}"));
            let shift = if *cond == "plain" { 0.0 } else { effect(seed) };
            write_run(&dir, (arch, cond, seed), shift, jitter(cond, seed), after);
        }
    }
}

fn write_run(dir: &Path, run: (&str, &str, u64), shift: f64, jitter: f64, after: After) {
    let (arch, cond, seed) = run;
    std::fs::create_dir_all(dir).unwrap();
    let meta = serde_json::json!({
        "subcommand": "entropy-probe",
        "git_commit": "0123abcd",
        "seed": seed,
        "status": "completed",
        "error": null,
    });
    std::fs::write(dir.join("meta.json"), meta.to_string()).unwrap();
    let config = format!("seed: {seed}\nmodel:\n  kind: {arch}\ncondition: {cond}\n");
    std::fs::write(dir.join("config.yaml"), config).unwrap();
    let mut last: BTreeMap<&str, f64> = BTreeMap::new();
    for (i, test) in PAIRED[..4].iter().flat_map(|h| h.tests).enumerate() {
        let base = 1.0 + 0.02 * ((seed as usize * 3 + i) % 4) as f64;
        let sign = if test.direction == Direction::Higher {
            1.0
        } else {
            -1.0
        };
        last.insert(test.metric, base + sign * shift);
    }
    last.insert("val_loss", 1.5 + 0.001 * seed as f64);
    last.insert("step", 60.0);
    let header: Vec<&str> = COLUMNS.split(',').collect();
    let row = |values: &BTreeMap<&str, f64>| -> String {
        let cells: Vec<String> = header
            .iter()
            .map(|c| values.get(c).map(|v| v.to_string()).unwrap_or_default())
            .collect();
        cells.join(",")
    };
    let mut first: BTreeMap<&str, f64> = last.keys().map(|k| (*k, 99.0)).collect();
    let mut middle = first.clone();
    let h = last["fr_entropy_t1"];
    let (val, fr) = match after {
        After::Falls => ([2.0, 1.2], [h + 0.3, h + 0.2]),
        After::Rises => ([2.0, 1.2], [h + 0.3, h - 0.2]),
        After::EndsAtMin => ([2.0, 1.8], [h + 0.3, h + 0.2]),
    };
    for (i, r) in [&mut first, &mut middle].into_iter().enumerate() {
        r.insert("step", 20.0 * (i + 1) as f64);
        r.insert("val_loss", val[i]);
        r.insert("fr_entropy_t1", fr[i]);
    }
    let csv = format!(
        "{COLUMNS}\n{}\n{}\n{}\n",
        row(&first),
        row(&middle),
        row(&last)
    );
    std::fs::write(dir.join("metrics.csv"), csv).unwrap();
    let summary = serde_json::json!({
        "best_val_loss": 1.4, "best_val_step": 40, "h_ref": 1.4,
        "stab_loss_jitter": jitter, "stab_gen_std": 0.01, "ctrl_active_frac": null,
        "condition": cond, "arch": arch,
    });
    std::fs::write(dir.join("summary.json"), summary.to_string()).unwrap();
}

/// Stabilised runs are calmer in the positive and negative scenarios.
pub fn calm_when_stabilised(cond: &str, seed: u64) -> f64 {
    let base = if cond == "plain" { 0.05 } else { 0.01 };
    base + 0.001 * seed as f64
}

/// `lab report` on the study; returns hypotheses.csv's rows and report.md.
pub fn report(root: &Path) -> (Rows, String) {
    let out = lab(root, &["report", root.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let (header, rows) = read_csv(&root.join("hypotheses.csv"));
    assert_eq!(header, HYPOTHESES_HEADER);
    let rows = rows
        .into_iter()
        .map(|r| ((r[0].clone(), r[1].clone(), r[2].clone(), r[3].clone()), r))
        .collect();
    (rows, read(&root.join("report.md")))
}

/// The cells of hypothesis `id`'s row in report.md's verdict table (id, claim, archs, overall).
fn verdict_table_row(md: &str, id: &str) -> Vec<String> {
    let line = md
        .lines()
        .find(|l| l.starts_with(&format!("| {id} |")))
        .unwrap_or_else(|| panic!("no verdict row {id}: {md}"));
    let cells = line.trim().trim_matches('|').split('|');
    cells.map(|c| c.trim().to_string()).collect()
}

fn verdict_of(rows: &Rows, id: &str, arch: &str) -> String {
    let metric = if id == "H6" {
        "sign_counts(H2-H4)"
    } else {
        "all"
    };
    let key = (
        id.to_string(),
        arch.to_string(),
        metric.to_string(),
        "all".to_string(),
    );
    let row = rows.get(&key).unwrap_or_else(|| panic!("no row {key:?}"));
    row[10].clone()
}

#[test]
fn a_clear_effect_is_supported_in_files_and_report() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("sweep");
    write_study(&root, &|s| 0.2 + 0.01 * s as f64, &calm_when_stabilised);
    let (rows, md) = report(&root);
    for id in ["H1", "H2", "H3", "H4", "H6"] {
        for arch in ["gpt", "gru", "all"] {
            assert_eq!(verdict_of(&rows, id, arch), "supported", "{id} {arch}");
        }
    }
    let h1 = &rows[&(
        "H1".into(),
        "gpt".into(),
        "train_fit_loss".into(),
        "feedback".into(),
    )];
    assert_eq!(
        (h1[4].as_str(), h1[8].as_str(), h1[9].as_str()),
        ("plain", "5", "5")
    );
    let mean: f64 = h1[5].parse().unwrap();
    assert!((mean + 0.22).abs() < 1e-9, "{h1:?}");
    // H5: calmer stabilised runs have lower entropy: ρ > 0 over 30 runs.
    let h5 = &rows[&(
        "H5".into(),
        "all".into(),
        "spearman(stab_loss_jitter,fr_entropy_t1)".into(),
        "all".into(),
    )];
    assert_eq!((h5[9].as_str(), h5[10].as_str()), ("30", "supported"));
    assert!(
        h5[5].parse::<f64>().unwrap() > 0.5 && h5[11].parse::<f64>().unwrap() < 0.05,
        "{h5:?}"
    );
    let h7 = &rows[&(
        "H7".into(),
        "all".into(),
        "H_k(train) vs k".into(),
        "".into(),
    )];
    assert_eq!(h7[10], "not run here");
    assert!(
        md.contains("## Hypotheses (verdicts)")
            && md.contains("under the assumptions A1–A8")
            && md.contains("Runs built from git commit `0123abcd`; SHA-256"),
        "{md}"
    );
    assert_eq!(verdict_table_row(&md, "H1")[2..], ["supported"; 3]);
    // sweep.csv: one row per run with the final (not the first) metrics row.
    let (header, runs) = read_csv(&root.join("sweep.csv"));
    assert_eq!(&header[..3], ["arch", "condition", "seed"]);
    assert_eq!(runs.len(), 30);
    let fit = col(&header, "train_fit_loss");
    assert!(runs.iter().all(|r| r[fit].parse::<f64>().unwrap() < 2.0));
    let jit = col(&header, "stab_loss_jitter");
    assert!(runs.iter().all(|r| !r[jit].is_empty()));
    assert!(
        !header.iter().any(|h| h == "mauve_ngram"),
        "an all-empty column is absent"
    );
}

#[test]
fn a_clear_effect_the_other_way_is_contradicted() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("sweep");
    // Stabilised runs are calmer and have *higher* entropy: ρ < 0.
    write_study(&root, &|s| -0.2 - 0.01 * s as f64, &calm_when_stabilised);
    let (rows, md) = report(&root);
    for id in ["H1", "H2", "H3", "H4", "H5", "H6"] {
        assert_eq!(verdict_of_or_h5(&rows, id), "contradicted", "{id}");
    }
    assert_eq!(verdict_table_row(&md, "H2")[2..], ["contradicted"; 3]);
}

fn verdict_of_or_h5(rows: &Rows, id: &str) -> String {
    if id == "H5" {
        let key = (
            "H5".into(),
            "all".into(),
            "spearman(stab_loss_jitter,fr_entropy_t1)".into(),
            "all".into(),
        );
        return rows[&key][10].clone();
    }
    verdict_of(rows, id, "all")
}

#[test]
fn no_effect_is_inconclusive_and_a_broken_run_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("sweep");
    let noise = [0.1, -0.12, 0.05, -0.07, 0.02];
    write_study(&root, &|s| noise[s as usize], &|_, _| 0.02);
    let (rows, md) = report(&root);
    for id in ["H1", "H2", "H3", "H4", "H5", "H6"] {
        assert_eq!(verdict_of_or_h5(&rows, id), "inconclusive", "{id}");
    }
    assert!(md.contains("no rank correlation from 30 run(s)"), "{md}");
    // A config.yaml that is not YAML: that run is left out with a note naming the file and the
    // problem; the other 29 runs keep their verdicts, and the report exits 0.
    let bad_run = root.join("model.kind=gpt,condition=plain/seed-0");
    std::fs::write(bad_run.join("config.yaml"), "seed: [\n").unwrap();
    let (rows, md) = report(&root);
    for id in ["H1", "H2", "H3", "H4", "H5", "H6"] {
        assert_eq!(verdict_of_or_h5(&rows, id), "inconclusive", "{id}");
    }
    let note = format!("{}: left out: ", bad_run.display());
    assert!(
        md.contains(&note) && md.contains("config.yaml: invalid YAML"),
        "{md}"
    );
    assert!(!md.contains("could not be written"), "{md}");
    let (_, runs) = read_csv(&root.join("sweep.csv"));
    assert_eq!(runs.len(), 29, "the damaged run is left out of sweep.csv");
}

/// H2's second piece from real metrics.csv trajectories: entropy falling after the val_loss
/// minimum (supported), rising (contradicted, and H2 with it, though the paired differences
/// still say "lower"), and a minimum at the last evaluation (not reached: inconclusive).
#[test]
fn h2_reads_the_entropy_trajectory_after_the_validation_minimum() {
    let piece = "fr_entropy_t1_falls_after_val_min";
    let cases = [
        (After::Falls, "supported", "5", "5"),
        (After::Rises, "contradicted", "0", "5"),
        (After::EndsAtMin, "inconclusive", "0", "0"),
    ];
    for (after, verdict, fall, reached) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("sweep");
        write_study_with(
            &root,
            &|s| 0.2 + 0.01 * s as f64,
            &calm_when_stabilised,
            after,
        );
        let (rows, md) = report(&root);
        let key = |arch: &str, cond: &str| {
            let k = (
                "H2".to_string(),
                arch.to_string(),
                piece.to_string(),
                cond.to_string(),
            );
            rows.get(&k)
                .unwrap_or_else(|| panic!("no row {k:?}"))
                .clone()
        };
        let plain = key("gpt", "plain");
        assert_eq!(
            (
                plain[4].as_str(),
                plain[8].as_str(),
                plain[9].as_str(),
                plain[10].as_str()
            ),
            ("val_loss_min", fall, reached, verdict)
        );
        if after != After::EndsAtMin {
            let change: f64 = plain[5].parse().unwrap();
            let want = if after == After::Falls { -0.2 } else { 0.2 };
            assert!((change - want).abs() < 1e-9, "{plain:?}");
        }
        assert_eq!(key("all", "all")[10], verdict);
        assert_eq!(
            verdict_of(&rows, "H2", "all"),
            verdict,
            "H2 is the conjunction"
        );
        let paired = key_of(&rows, "H2", "all", "paired_diff");
        assert_eq!(paired[10], "supported");
        let table = verdict_table_row(&md, "H2 · falls after the val_loss minimum");
        assert_eq!(table[2..], [verdict; 3]);
        if after == After::EndsAtMin {
            assert!(md.contains("0 of 5 run(s) reached their val_loss minimum before the last evaluation, 5 not reached"), "{md}");
        }
        // sweep.csv carries each run's numbers.
        let (header, runs) = read_csv(&root.join("sweep.csv"));
        let steps = col(&header, "val_min_step");
        let want = if after == After::EndsAtMin {
            "60"
        } else {
            "40"
        };
        assert!(runs.iter().all(|r| r[steps] == want), "{want}");
    }
}

fn key_of(rows: &Rows, id: &str, arch: &str, metric: &str) -> Vec<String> {
    let k = (
        id.to_string(),
        arch.to_string(),
        metric.to_string(),
        "all".to_string(),
    );
    rows.get(&k)
        .unwrap_or_else(|| panic!("no row {k:?}"))
        .clone()
}
