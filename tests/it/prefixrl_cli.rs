//! `lab prefixrl`'s spine (issue 12): the resolved config, errors that name their key, the
//! `inputs.*` checks between stages, stages not implemented yet leaving nothing behind, and the
//! §7.9 headers.
use crate::common::*;
use lab::prefixrl::{columns, inputs, PrefixrlConfig};
use std::path::{Path, PathBuf};

fn smoke_cfg() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/prefixrl/smoke.yaml")
}

/// `lab prefixrl --print-config --config smoke.yaml --set …`: (exit code, stdout, stderr).
fn dry(dir: &Path, sets: &[&str]) -> (i32, String, String) {
    let cfg = smoke_cfg();
    let mut args = vec![
        "prefixrl",
        "--print-config",
        "--config",
        cfg.to_str().unwrap(),
    ];
    for s in sets {
        args.extend(["--set", s]);
    }
    let o = lab(dir, &args);
    (code(&o), stdout(&o), stderr(&o))
}

/// A dry run that must fail with exit 2, naming `key` (and each of `also`).
fn assert_refused(sets: &[&str], key: &str, also: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let (rc, _, err) = dry(dir.path(), sets);
    assert_eq!(rc, 2, "{sets:?}: {err}");
    assert!(err.contains(key), "{sets:?} must name {key}: {err}");
    for a in also {
        assert!(err.contains(a), "{sets:?} must say {a:?}: {err}");
    }
}

#[test]
fn print_config_resolves_the_smoke_config_over_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let (rc, out, err) = dry(dir.path(), &["rl.method=rl"]);
    assert_eq!(rc, 0, "{err}");
    let cfg: PrefixrlConfig =
        serde_yaml_ng::from_str(&out).expect("the printed config parses back");
    // The smoke preset's sizes (§7.3), untied head and explicit attention.
    let m = &cfg.model;
    assert_eq!(
        (m.d_model, m.n_layer, m.n_head, m.d_ff, m.block_size),
        (32, 1, 2, 128, 64)
    );
    assert!(!m.tied_head);
    assert_eq!(m.attention, lab::nn::config::Attention::Explicit);
    assert_eq!(m.dropout, 0.0);
    // smoke.yaml over default.yaml, and the --set.
    assert_eq!(cfg.rl.method, lab::prefixrl::config::Method::Rl);
    assert_eq!((cfg.rl.steps, cfg.rl.batch_problems, cfg.rl.n), (3, 4, 4));
    assert_eq!(cfg.data.hard_level, 4);
    assert_eq!(cfg.rl.alpha, 0.75); // from default.yaml
                                    // The task section's kind defaults come from kinds.yaml.
    match &cfg.task {
        lab::prefixrl::task::TaskConfig::Countdown(c) => assert_eq!(c.max_tries, 10000),
        other => panic!("expected the countdown task, got {other:?}"),
    }
    // Printed again, the resolved config is a fixed point.
    let path = dir.path().join("printed.yaml");
    std::fs::write(&path, &out).unwrap();
    let o = lab(
        dir.path(),
        &[
            "prefixrl",
            "--print-config",
            "--config",
            path.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(stdout(&o), out);
}

#[test]
fn the_medium_preset_and_an_override_of_its_width() {
    let dir = tempfile::tempdir().unwrap();
    let (rc, out, err) = dry(dir.path(), &["model.preset=medium"]);
    assert_eq!(rc, 0, "{err}");
    let cfg: PrefixrlConfig = serde_yaml_ng::from_str(&out).unwrap();
    assert_eq!(
        (cfg.model.d_model, cfg.model.d_ff, cfg.model.block_size),
        (128, 512, 96)
    );
    let (rc, out, err) = dry(dir.path(), &["model.preset=small", "model.d_model=32"]);
    assert_eq!(rc, 0, "{err}");
    let cfg: PrefixrlConfig = serde_yaml_ng::from_str(&out).unwrap();
    // d_model without d_ff: d_ff = 4 d_model, as nn's presets do.
    assert_eq!(
        (cfg.model.d_model, cfg.model.d_ff, cfg.model.n_layer),
        (32, 128, 4)
    );
    // A model section that names its kind but no preset starts from `small` (kinds.yaml), not
    // from nn's gpt defaults (gpt-tiny: 2 layers, block 64, tied head, fused attention).
    let (rc, out, err) = dry(dir.path(), &["model={kind: gpt, d_model: 96}"]);
    assert_eq!(rc, 0, "{err}");
    let cfg: PrefixrlConfig = serde_yaml_ng::from_str(&out).unwrap();
    let m = &cfg.model;
    assert_eq!((m.d_model, m.n_layer, m.block_size), (96, 4, 96), "{out}");
    assert!(!m.tied_head, "{out}");
}

#[test]
fn bad_values_are_refused_naming_their_key() {
    assert_refused(&["rl.n=1"], "rl.n", &[">= 2"]);
    assert_refused(&["rl.alpha=1.5"], "rl.alpha", &["[0, 1]"]);
    assert_refused(&["prefix.frac_lo=0.9"], "prefix.frac_lo", &["frac_hi"]);
    assert_refused(&["prefix.frac_hi=1.0"], "prefix.frac_lo", &["frac_hi"]);
    assert_refused(
        &["data.easy_mix=[0.5, 0.6]"],
        "data.easy_mix",
        &["sum to 1"],
    );
    assert_refused(&["data.easy_mix=[1.0]"], "data.easy_mix", &["easy levels"]);
    assert_refused(&["prefix.band=[0.9, 0.1]"], "prefix.band", &[]);
    assert_refused(&["eval.pass_k=[8, 1]"], "eval.pass_k", &[]);
    assert_refused(&["rl.batch_problems=0"], "rl.batch_problems", &[]);
    assert_refused(&["train.n_problems=25"], "train.n_problems", &["pool_size"]);
    assert_refused(
        &["rl.method=sft-rl", "sft.epochs=0"],
        "sft.epochs",
        &["sft-rl"],
    );
    assert_refused(
        &["traces.source=modle:x"],
        "traces.source",
        &["model:<run dir>"],
    );
    assert_refused(
        &["model.preset=huge"],
        "model.preset",
        &["smoke, small, medium"],
    );
    assert_refused(
        &["offpolicy.is_clip=max:x"],
        "offpolicy.is_clip",
        &["max:<c>"],
    );
    assert_refused(&["stage=finetune"], "stage", &["make-prefixes"]);
}

#[test]
fn an_unknown_key_is_named_with_a_suggestion() {
    assert_refused(&["rl.alhpa=0.5"], "rl.alhpa", &["alpha"]);
}

#[test]
fn a_stage_without_its_inputs_says_what_to_run_first() {
    assert_refused(
        &["stage=train"],
        "inputs.base",
        &[
            "--set stage=pretrain",
            "inputs.data",
            "--set stage=gen-data",
            "inputs.prefixes",
        ],
    );
    // The method decides whether train reads prefixes.
    let dir = tempfile::tempdir().unwrap();
    let (_, _, err) = dry(dir.path(), &["stage=train", "rl.method=sft-rl"]);
    assert!(
        err.contains("inputs.traces") && !err.contains("inputs.prefixes"),
        "{err}"
    );
    // Standard RL trains on D too, the problems with a trace (§2.6), so it reads traces.jsonl.
    let (_, _, err) = dry(dir.path(), &["stage=train", "rl.method=rl"]);
    assert!(
        err.contains("inputs.traces") && !err.contains("inputs.prefixes"),
        "{err}"
    );
    // Oracle traces need no base model.
    let (_, _, err) = dry(dir.path(), &["stage=collect", "traces.source=oracle"]);
    assert!(
        err.contains("inputs.data") && !err.contains("inputs.base"),
        "{err}"
    );
}

/// A real (not dry) run; returns (exit code, stderr).
fn run(dir: &Path, sets: &[&str]) -> (i32, String) {
    let cfg = smoke_cfg();
    let mut args = vec![
        "prefixrl",
        "--quiet",
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        "r",
    ];
    for s in sets {
        args.extend(["--set", s]);
    }
    let o = lab(dir, &args);
    (code(&o), stderr(&o))
}

/// A fake completed (or not) prefixrl run holding `files`.
fn fake_run(root: &Path, name: &str, sub: &str, status: &str, files: &[&str]) -> PathBuf {
    let d = root.join(name);
    std::fs::create_dir_all(&d).unwrap();
    let meta = serde_json::json!({"subcommand": sub, "status": status});
    std::fs::write(d.join("meta.json"), meta.to_string()).unwrap();
    for f in files {
        std::fs::write(d.join(f), "").unwrap();
    }
    d
}

#[test]
fn input_runs_are_checked_like_resume() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let key = |d: &Path| format!("inputs.data={}", d.display());
    let cases = [
        (r.join("nowhere"), "not a directory"),
        (
            fake_run(r, "grng", "grng", "completed", &["problems.jsonl"]),
            "`lab grng` run",
        ),
        (
            fake_run(r, "failed", "prefixrl", "failed", &["problems.jsonl"]),
            "did not complete",
        ),
        (
            fake_run(r, "empty", "prefixrl", "completed", &[]),
            "has no problems.jsonl",
        ),
    ];
    for (dir, why) in &cases {
        let (rc, err) = run(r, &["stage=pretrain", &key(dir)]);
        assert_eq!(rc, 2, "{why}: {err}");
        assert!(
            err.contains("inputs.data") && err.contains(why),
            "{why}: {err}"
        );
        assert!(!r.join("r").exists());
    }
    // A good input passes the check and reaches the stage, which reads the run's files (this
    // fake one lacks pretrain.jsonl).
    let good = fake_run(r, "good", "prefixrl", "completed", &["problems.jsonl"]);
    let (rc, err) = run(r, &["stage=pretrain", &key(&good)]);
    assert_eq!(rc, 2);
    assert!(err.contains("pretrain.jsonl"), "{err}");
    // The library call answers the same and names the file it found.
    let cfg = lab::prefixrl::config::InputsSection {
        data: Some(good.clone()),
        ..Default::default()
    };
    let path = inputs::resolve(&cfg, inputs::Artifact::Problems).unwrap();
    assert_eq!(path, good.join("problems.jsonl"));
}

#[test]
fn csv_headers_are_the_spec_columns() {
    assert_eq!(columns::METRICS.len(), 39);
    assert_eq!(columns::METRICS[8], "flops_total");
    assert_eq!(columns::METRICS.last(), Some(&"checker_errors"));
    let fracs: Vec<f64> = (0..10).map(|i| i as f64 / 10.0).collect();
    let eval = columns::eval(&fracs);
    let panel: Vec<&str> = eval
        .iter()
        .filter(|c| c.starts_with("panel_frac_"))
        .map(String::as_str)
        .collect();
    assert_eq!(panel.first(), Some(&"panel_frac_0.0"));
    assert_eq!(panel.last(), Some(&"panel_frac_0.9"));
    assert_eq!(panel.len(), 10);
    assert_eq!(eval.len(), 13 + 10 + 5);
    assert_eq!(eval[13], "panel_frac_0.0");
    assert_eq!(eval.last().map(String::as_str), Some("easy_pass1"));
    assert_eq!(columns::compare("sft-rl")[4], "speedup_vs_sft-rl");
}

#[test]
fn the_toy_stage_runs_the_tests_it_is_given_and_refuses_unknown_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (rc, err) = run(dir.path(), &["stage=toy", "toy.tests=[T3, t5]"]);
    assert_eq!(rc, 0, "{err}");
    let csv = std::fs::read_to_string(dir.path().join("r/toy.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("test,quantity,value,expected,passed"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!(!rows.is_empty());
    for r in &rows {
        assert_eq!(r.len(), 5, "{r:?}");
        assert!(r[0] == "T3" || r[0] == "T5", "{r:?}");
        assert_eq!(r[4], "true", "{r:?}");
    }
    assert!(rows.iter().any(|r| r[0] == "T3") && rows.iter().any(|r| r[0] == "T5"));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("r/summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["passed"], true);

    let dir = tempfile::tempdir().unwrap();
    let (rc, err) = run(dir.path(), &["stage=toy", "toy.tests=[T9]"]);
    assert_eq!(rc, 2, "{err}");
    assert!(err.contains("toy.tests") && err.contains("T9"), "{err}");
    assert!(!dir.path().join("r").exists());
}
