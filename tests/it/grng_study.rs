//! `lab grng` across optimizers and tasks: every optimizer of the registry through the
//! smoke-all study (spec §6.4), the twolayer-toy task from the command line (§6.10), and the
//! registry's own checks (kinds.yaml defaults = the library's constructors, refused keys).
use crate::common::*;
use lab::optim::kfac::KfacConfig;
use std::path::Path;

const KINDS: [&str; 7] = ["sgd", "adamw", "sophia", "kfac", "reng", "ring", "rkalman"];

fn config(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("configs/grng")
        .join(name);
    p.to_str().unwrap().to_string()
}

#[test]
fn every_optimizer_trains_the_smoke_task_with_finite_logged_values() {
    let _t = torch_lock();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config("smoke-all.yaml");
    let o = lab(
        dir.path(),
        &["grng", "--quiet", "--config", &cfg, "--out", "all"],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    for kind in KINDS {
        let run = dir.path().join(format!("all/optimizer.kind={kind}/seed-0"));
        let (h, rows) = read_csv(&run.join("steps.csv"));
        assert_eq!(rows.len(), 30, "{kind}: one steps.csv row per step");
        let loss: Vec<f64> = rows
            .iter()
            .map(|r| r[col(&h, "batch_loss")].parse().unwrap())
            .collect();
        assert!(
            loss.iter().all(|l| l.is_finite() && *l > 0.0),
            "{kind}: {loss:?}"
        );
        assert!(rows.iter().all(|r| r[col(&h, "optimizer")] == kind));
        let first: f64 = loss[..5].iter().sum();
        let last: f64 = loss[25..].iter().sum();
        assert!(
            last < first,
            "{kind}: loss did not fall ({first} -> {last})"
        );
        let summary = json(&run.join("summary.json"));
        assert_eq!(summary["diverged"], false, "{kind}");
    }
    // The K-FAC family reports its damping and KL-clip scale; first-order ones leave them empty.
    for (kind, filled) in [("kfac", true), ("ring", true), ("sgd", false)] {
        let run = dir.path().join(format!("all/optimizer.kind={kind}/seed-0"));
        let (h, rows) = read_csv(&run.join("steps.csv"));
        let cell = &rows[0][col(&h, "damping_eff")];
        assert_eq!(!cell.is_empty(), filled, "{kind}: damping_eff `{cell}`");
    }
    // `lab report` draws test accuracy against steps and against wall time (issue 13, item 4).
    let study = dir.path().join("all");
    let o = lab(dir.path(), &["report", study.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let report = read(&study.join("report.md"));
    for (stem, x) in [
        ("test_acc_vs_step", "step"),
        ("test_acc_vs_wall_s", "wall_s"),
        ("train_loss_vs_step", "step"),
    ] {
        assert!(report.contains(&format!("(plots/{stem}.png)")), "{report}");
        let svg = read(&study.join(format!("plots/{stem}.svg")));
        let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
        let texts: Vec<&str> = doc
            .descendants()
            .filter_map(|n| n.text())
            .map(str::trim)
            .collect();
        assert!(texts.contains(&x), "{stem}: no x label `{x}` in {texts:?}");
        for kind in KINDS {
            let label = format!("optimizer.kind={kind}");
            assert!(
                texts.iter().any(|t| t.contains(&label)),
                "{stem}: no curve of {kind}"
            );
        }
    }
}

#[test]
fn the_twolayer_toy_runs_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, sets: &[&str]| {
        let mut args = vec![
            "grng",
            "--quiet",
            "--set",
            "task=twolayer-toy",
            "--out",
            name,
        ];
        for s in sets {
            args.extend(["--set", s]);
        }
        let o = lab(dir.path(), &args);
        assert_eq!(code(&o), 0, "{}", text(&o));
        json(&dir.path().join(name).join("summary.json"))
    };
    let ngd = run("ngd", &["toy.method=ngd"]);
    let gd = run("gd", &["toy.method=gd"]);
    let n_ngd = ngd["steps_to_stop"].as_u64().expect("ngd reaches 1e-8");
    let n_gd = gd["steps_to_stop"].as_u64().expect("gd reaches 1e-8");
    assert!(n_ngd <= 6 && n_gd >= 5 * n_ngd, "ngd {n_ngd} gd {n_gd}");
    let (h, rows) = read_csv(&dir.path().join("ngd/toy.csv"));
    assert_eq!(rows.len() as u64, n_ngd);
    assert_eq!(h[..3], ["step", "loss", "loss_next"]);
    // The run's seed draws the data: another seed, another κ.
    let other = run("seed1", &["toy.method=ngd", "seed=1"]);
    assert_ne!(other["kappa_init"], ngd["kappa_init"]);
}

#[test]
fn the_registry_refuses_keys_that_would_be_ignored() {
    let dir = tempfile::tempdir().unwrap();
    for (sets, key) in [
        (
            &["optimizer.kind=ring", "optimizer.gr=none"][..],
            "optimizer.gr",
        ),
        (
            &["optimizer.kind=sophia", "optimizer.seed=3"][..],
            "optimizer.seed",
        ),
        (&["task=twolayer-toy", "toy.seed=3"][..], "toy.seed"),
        (&["task=twolayer-toy", "toy.width=0"][..], "toy.width"),
    ] {
        let mut args = vec!["grng", "--quiet", "--out", "x"];
        for s in sets {
            args.extend(["--set", s]);
        }
        let o = lab(dir.path(), &args);
        assert_eq!(code(&o), 2, "{sets:?}: {}", text(&o));
        assert!(stderr(&o).contains(key), "{sets:?}: {}", stderr(&o));
        assert!(!dir.path().join("x").exists(), "{sets:?} wrote a run");
    }
}

#[test]
fn kinds_yaml_holds_the_libraries_defaults_for_the_kfac_family() {
    let text = std::fs::read_to_string(config("kinds.yaml")).unwrap();
    let kinds: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    for name in ["kfac", "reng", "ring"] {
        let from_file: KfacConfig =
            serde_yaml_ng::from_value(kinds["optimizer"][name].clone()).unwrap();
        let lib = KfacConfig::variant(name).unwrap();
        assert_eq!(
            serde_json::to_value(&from_file).unwrap(),
            serde_json::to_value(&lib).unwrap(),
            "{name}: configs/grng/kinds.yaml differs from KfacConfig::{name}()"
        );
    }
}
