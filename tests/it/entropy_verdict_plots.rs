//! `lab report` on entropy-probe sweeps (fake run trees of `entropy_verdict`), its files and
//! plots: the report hook on a run collection leaves out unfinished runs and lists the files it
//! writes, and §7.3's stability_vs_entropy draws one dot per run with H5's ρ in its title.
use super::entropy_verdict::{calm_when_stabilised, report, write_study, ARCHS};
use crate::common::*;
use lab::entropy::verdict::{self, Verdict};

#[test]
fn the_hook_works_on_a_collection_and_leaves_out_unfinished_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("sweep");
    write_study(&root, &|_| 0.2, &calm_when_stabilised);
    let meta = root.join("model.kind=gru,condition=feedback/seed-4/meta.json");
    std::fs::write(
        &meta,
        r#"{"subcommand": "entropy-probe", "status": "failed", "error": "NaN at step 7"}"#,
    )
    .unwrap();
    let collection = lab::results::runs::collect(&root).unwrap();
    let (records, notes) = verdict::records_from(&collection).unwrap();
    assert_eq!(records.len(), 29);
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("1 run(s) did not complete")),
        "{notes:?}"
    );
    let extra = verdict::report(&collection, &root).unwrap();
    let mut names = vec!["sweep.csv".to_string(), "hypotheses.csv".into()];
    for plot in ["stability_vs_entropy", "loss", "entropy", "repetition"] {
        names.extend(["csv", "png", "svg"].map(|e| format!("{plot}.{e}")));
    }
    // No run's controller acts (ctrl_active_frac is null): its data file only, no picture.
    names.push("controller.csv".into());
    let want: Vec<_> = names.iter().map(|n| root.join(n)).collect();
    assert_eq!(extra.files, want);
    let (_, points) = read_csv(&root.join("stability_vs_entropy.csv"));
    assert_eq!(points.len(), 29, "the unfinished run is not drawn");
    let analysis = verdict::analyse(&records);
    let row = analysis
        .rows
        .iter()
        .find(|r| {
            r.id == "H1"
                && r.arch == "gru"
                && r.condition == "feedback"
                && r.metric == "train_fit_loss"
        })
        .unwrap();
    assert_eq!((row.n_seeds, row.verdict), (Some(4), Verdict::Supported));
    assert!(extra.markdown.contains("1 run(s) did not complete"));
}

/// §7.3's stability_vs_entropy: one dot per run, the data as CSV, ρ in the title equal to H5's.
#[test]
fn the_report_draws_stability_against_entropy_with_h5s_rho() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("sweep");
    write_study(&root, &|s| 0.2 + 0.01 * s as f64, &calm_when_stabilised);
    let (rows, md) = report(&root);
    let (header, points) = read_csv(&root.join("stability_vs_entropy.csv"));
    assert_eq!(
        header,
        [
            "arch",
            "condition",
            "seed",
            "stab_loss_jitter",
            "fr_entropy_t1"
        ]
    );
    assert_eq!(points.len(), 30, "one point per run");
    let (sh, sweep) = read_csv(&root.join("sweep.csv"));
    for p in &points {
        let run = sweep
            .iter()
            .find(|r| r[..3] == p[..3])
            .unwrap_or_else(|| panic!("{p:?} is not a run of sweep.csv"));
        assert_eq!(p[3], run[col(&sh, "stab_loss_jitter")], "{p:?}");
        assert_eq!(p[4], run[col(&sh, "fr_entropy_t1")], "{p:?}");
    }
    let svg = read(&root.join("stability_vs_entropy.svg"));
    // gpt's dots are circles, gru's squares: 15 gpt runs and 3 gpt legend entries.
    assert_eq!(
        svg.matches("<circle").count(),
        15 + 3,
        "one dot per gpt run"
    );
    for condition in ["plain", "conventional", "feedback"] {
        for arch in ARCHS {
            let label = format!("{condition}, {arch}");
            assert!(svg.contains(&label), "legend names {label}");
        }
    }
    assert!(root.join("stability_vs_entropy.png").is_file());
    let h5 = &rows[&(
        "H5".into(),
        "all".into(),
        "spearman(stab_loss_jitter,fr_entropy_t1)".into(),
        "all".into(),
    )];
    let rho: f64 = h5[5].parse().unwrap();
    let title = format!("Spearman ρ = {rho:.3} (n = 30)");
    assert!(svg.contains(&title), "the title has H5's ρ: {title}");
    assert!(
        md.contains("![") && md.contains("(stability_vs_entropy.png)"),
        "report.md links the plot: {md}"
    );
}
