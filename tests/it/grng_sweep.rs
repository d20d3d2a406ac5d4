//! The equal-budget sweep (spec §6.2, issue 13): configs/grng/sweep.yaml gives every optimizer
//! the same number of settings, and `lab grng`'s report part picks each optimizer's best cell
//! by mean final test accuracy and writes the paper grid at those settings, which validates.
use crate::common::*;
use lab::results::runs::{CellRuns, Collection, RunInfo};
use std::collections::BTreeMap;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_sweep_config_gives_every_optimizer_the_same_number_of_settings() {
    let text = read(&root().join("configs/grng/sweep.yaml"));
    let cfg: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    let cases = cfg["study"]["cases"]["setting"].as_mapping().unwrap();
    let mut per_kind: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (_, case) in cases {
        let kind = case["optimizer.kind"].as_str().unwrap().to_string();
        per_kind
            .entry(kind)
            .or_default()
            .push(case["optimizer.lr"].as_f64().unwrap());
    }
    let kinds: Vec<&str> = per_kind.keys().map(String::as_str).collect();
    assert_eq!(
        kinds,
        ["adamw", "kfac", "reng", "ring", "rkalman", "sgd", "sophia"]
    );
    for (kind, lrs) in &per_kind {
        assert_eq!(
            lrs.len(),
            8,
            "{kind}: 4 learning rates x 2 values of its second knob"
        );
        let mut distinct = lrs.clone();
        distinct.sort_by(f64::total_cmp);
        distinct.dedup();
        assert_eq!(distinct.len(), 4, "{kind}: {lrs:?}");
    }
}

/// A fake run dir with `config.yaml` = `task` + `optimizer`, and its summary metric.
fn run(dir: &Path, name: &str, task: &str, optimizer: &str, acc: f64, status: &str) -> RunInfo {
    let d = dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(
        d.join("config.yaml"),
        format!("task: {task}\noptimizer: {optimizer}\n"),
    )
    .unwrap();
    RunInfo {
        dir: d,
        status: status.into(),
        error: None,
        subcommand: Some("grng".into()),
        summary: vec![("final_test_acc".into(), acc)],
        non_finite: Vec::new(),
        texts: Vec::new(),
    }
}

fn cell(name: &str, runs: Vec<RunInfo>) -> CellRuns {
    CellRuns {
        name: name.into(),
        settings: vec![("setting".into(), name.into())],
        runs,
        missing: Vec::new(),
    }
}

#[test]
fn the_report_picks_each_optimizers_best_mean_and_writes_a_valid_tuned_grid() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sgd = |lr: f64| format!("{{kind: sgd, lr: {lr}, momentum: 0.9, weight_decay: 0.0005}}");
    let kfac = |damping: f64| format!("{{kind: kfac, lr: 0.05, damping: {damping}}}");
    let t = "mlp-digits";
    let cells = vec![
        // sgd: means 0.80 and 0.90 (the second cell's failed run does not count).
        cell("sgd-a", vec![run(d, "1", t, &sgd(0.05), 0.8, "completed")]),
        cell(
            "sgd-b",
            vec![
                run(d, "2", t, &sgd(0.15), 0.85, "completed"),
                run(d, "3", t, &sgd(0.15), 0.95, "completed"),
                run(d, "4", t, &sgd(0.15), 0.10, "failed"),
            ],
        ),
        cell(
            "kfac-a",
            vec![run(d, "5", t, &kfac(0.001), 0.93, "completed")],
        ),
        cell(
            "kfac-b",
            vec![run(d, "6", t, &kfac(0.01), 0.70, "completed")],
        ),
    ];
    let c = Collection {
        root: d.to_path_buf(),
        study: None,
        cells,
        notes: Vec::new(),
    };
    let extra = lab::grng::sweep::report(&c, d).unwrap();
    let md = &extra.markdown;
    assert!(md.contains("every optimizer tried 2 settings"), "{md}");
    assert!(md.contains("| sgd | 2 | sgd-b | 0.9000 | 2 |"), "{md}");
    assert!(md.contains("| kfac | 2 | kfac-a | 0.9300 | 1 |"), "{md}");
    // Means over 1 and 2 seeds are ranked side by side: the report says so.
    let note =
        "different numbers of completed seeds (2 at most; fewer in kfac-a 1, kfac-b 1, sgd-a 1)";
    assert!(md.contains(note), "{md}");
    let best: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&read(&d.join("best-settings.yaml"))).unwrap();
    assert_eq!(best["sgd"]["lr"].as_f64(), Some(0.15));
    assert_eq!(best["kfac"]["damping"].as_f64(), Some(0.001));

    let tuned_path = d.join("paper-tuned.yaml");
    let tuned: serde_yaml_ng::Value = serde_yaml_ng::from_str(&read(&tuned_path)).unwrap();
    assert_eq!(tuned["study"]["name"].as_str(), Some("paper-tuned"));
    assert!(tuned["study"]["grid"].get("optimizer.kind").is_none());
    assert_eq!(
        tuned["study"]["grid"]["task"].as_sequence().unwrap().len(),
        4
    );
    let case = &tuned["study"]["cases"]["optimizer"]["sgd"]["optimizer"];
    assert_eq!(case["lr"].as_f64(), Some(0.15));
    // Every cell of the tuned grid validates (`--print-config` plans and checks each).
    let o = lab(
        d,
        &[
            "grng",
            "--config",
            tuned_path.to_str().unwrap(),
            "--print-config",
        ],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));

    // One completed seed in every cell: no note.
    let c1 = Collection {
        root: d.to_path_buf(),
        study: None,
        cells: vec![
            cell("s1", vec![run(d, "9", t, &sgd(0.05), 0.8, "completed")]),
            cell("s2", vec![run(d, "10", t, &sgd(0.1), 0.85, "completed")]),
        ],
        notes: Vec::new(),
    };
    let equal = tempfile::tempdir().unwrap();
    let md = lab::grng::sweep::report(&c1, equal.path())
        .unwrap()
        .markdown;
    assert!(md.contains("| sgd | 2 | s2 | 0.8500 | 1 |"), "{md}");
    assert!(!md.contains("completed seeds ("), "{md}");

    // Not a sweep (two tasks): no section, no files.
    let c2 = Collection {
        root: d.to_path_buf(),
        study: None,
        cells: vec![
            cell(
                "a",
                vec![run(d, "7", "mlp-digits", &sgd(0.05), 0.8, "completed")],
            ),
            cell(
                "b",
                vec![run(d, "8", "cnn-digits", &sgd(0.05), 0.8, "completed")],
            ),
        ],
        notes: Vec::new(),
    };
    let other = tempfile::tempdir().unwrap();
    let extra = lab::grng::sweep::report(&c2, other.path()).unwrap();
    assert!(extra.markdown.is_empty() && extra.files.is_empty());
}

/// A run whose config.yaml lacks a text `optimizer.kind` or `task`, or is missing, fails the
/// section naming the file (before, its cell was left out of the sweep without a word); a
/// study of the two-layer toy (its `optimizer:` section unused) is not a sweep.
#[test]
fn the_sweep_names_a_config_without_an_optimizer_kind_and_skips_toy_studies() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sgd = "{kind: sgd, lr: 0.1}";
    let collection = |cells| Collection {
        root: d.to_path_buf(),
        study: None,
        cells,
        notes: Vec::new(),
    };
    let t = "mlp-digits";
    for (name, task, optimizer, key) in [("x", t, "5", "optimizer.kind"), ("y", "7", sgd, "task")] {
        let c = collection(vec![
            cell(
                "a",
                vec![run(d, &format!("{name}1"), t, sgd, 0.8, "completed")],
            ),
            cell(
                "b",
                vec![run(
                    d,
                    &format!("{name}2"),
                    task,
                    optimizer,
                    0.9,
                    "completed",
                )],
            ),
        ]);
        let err = format!(
            "{:#}",
            lab::grng::sweep::report(&c, d).err().expect("refused")
        );
        assert!(
            err.contains(&format!("{name}2/config.yaml")) && err.contains(key),
            "{err}"
        );
    }
    let gone = run(d, "z2", t, sgd, 0.9, "completed");
    std::fs::remove_file(gone.dir.join("config.yaml")).unwrap();
    let c = collection(vec![
        cell("a", vec![run(d, "z1", t, sgd, 0.8, "completed")]),
        cell("b", vec![gone]),
    ]);
    let err = format!(
        "{:#}",
        lab::grng::sweep::report(&c, d).err().expect("refused")
    );
    assert!(err.contains("z2/config.yaml"), "{err}");

    let toy = "twolayer-toy";
    let c = collection(vec![
        cell(
            "ngd",
            vec![run(d, "t1", toy, "{kind: adamw}", 0.0, "completed")],
        ),
        cell(
            "gd",
            vec![run(d, "t2", toy, "{kind: adamw}", 0.0, "completed")],
        ),
    ]);
    let extra = lab::grng::sweep::report(&c, d).unwrap();
    assert!(
        extra.markdown.is_empty() && extra.files.is_empty(),
        "{}",
        extra.markdown
    );
}
