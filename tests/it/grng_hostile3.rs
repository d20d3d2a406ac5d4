//! Hostile optimizer settings for `lab grng`: keys that the optimizer kind (or its other
//! settings) never reads, and parameter groups that take no parameter, are exit-2 usage errors
//! naming the key, with no run folder left. Before, each trained as if the key were absent and
//! exited 0.
use crate::common::*;
use std::path::Path;

/// `sets` (plus a 2-step budget) on configs/grng/smoke.yaml: exit 2, each of `needles` in
/// stderr, no `out` folder.
fn refused(dir: &Path, sets: &[&str], needles: &[&str]) {
    let all = [sets, &["train.steps=2", "assert=null"]].concat();
    let o = grng_smoke(dir, "out", &all);
    assert_refused(&o, &format!("{sets:?}"), needles, &dir.join("out"));
}

/// `sets` (plus a 2-step budget) on configs/grng/smoke.yaml run and exit 0.
fn runs(dir: &Path, out: &str, sets: &[&str]) {
    let all = [sets, &["train.steps=2", "assert=null"]].concat();
    let o = grng_smoke(dir, out, &all);
    assert_eq!(code(&o), 0, "{sets:?}: {}", text(&o));
}

#[test]
fn grng_optimizer_keys_the_kind_does_not_read_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: [(&str, &[&str]); 7] = [
        // Plain K-FAC has no gradient regularization: rho 0.5 trained plain K-FAC.
        (
            "optimizer={kind: kfac, rho: 0.5}",
            &["optimizer.rho", "kind kfac has no gradient regularization"],
        ),
        (
            "optimizer={kind: reng, gr_norm: per_layer}",
            &["optimizer.gr_norm", "only kind ring reads it"],
        ),
        (
            "optimizer={kind: kfac, newton_cold: 80}",
            &["optimizer.newton_cold", "inverse is eigen"],
        ),
        (
            "optimizer={kind: ring, inverse: eigen, newton_warm: 9}",
            &["optimizer.newton_warm", "set inverse: newton"],
        ),
        (
            "optimizer={kind: rkalman, cov: dense, fallback_lr: 0.1}",
            &["optimizer.fallback_lr", "cov: kron only"],
        ),
        (
            "optimizer={kind: sgd, momentum: 0, dampening: 0.5}",
            &["optimizer.dampening", "momentum is 0"],
        ),
        (
            "optimizer={kind: adamw, groups: [{name: h, patterns: [fc2], flags: {kfac: true}}]}",
            &["optimizer.groups", "group `h` sets flags.kfac"],
        ),
    ];
    for (set, needles) in cases {
        refused(tmp.path(), &[set], needles);
    }
    // The same keys where they are read still run.
    runs(
        tmp.path(),
        "ring",
        &["optimizer={kind: ring, gr_norm: per_layer, newton_warm: 9}"],
    );
    runs(
        tmp.path(),
        "sgd",
        &["optimizer={kind: sgd, momentum: 0.5, dampening: 0.5}"],
    );
}

#[test]
fn grng_an_optimizer_group_that_takes_no_parameter_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    // A typo in a pattern, and a group shadowed by an earlier one (first match wins): the
    // group was dropped and the run trained without its lr_mult.
    for set in [
        "optimizer={kind: adamw, groups: [{name: head, patterns: [fc_2], lr_mult: 0.1}]}",
        "optimizer={kind: sgd, groups: [{name: a, patterns: [fc]}, {name: b, patterns: [fc2]}]}",
        "optimizer={kind: sophia, groups: [{name: head, patterns: [head], lr_mult: 0.1}]}",
    ] {
        refused(
            tmp.path(),
            &[set],
            &["optimizer.groups", "match no parameter", "\"fc2.weight\""],
        );
    }
    runs(
        tmp.path(),
        "head",
        &["optimizer={kind: adamw, groups: [{name: head, patterns: [fc2], lr_mult: 0.1}]}"],
    );
}

/// A study whose second cell has a group that takes no parameter (logreg-digits has only
/// `fc1`) stops before any cell runs, naming the cell and the group, and leaves no study
/// folder. Before, the check ran when the bad cell's run started: the first cell trained and
/// wrote its metrics, then the study failed.
#[test]
fn grng_a_study_cell_with_an_unused_group_stops_the_study_before_it_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let study = "torch_threads: 1\ntask: shapes-smoke\noptimizer: {kind: adamw, groups: \
                 [{name: head, patterns: [fc2], lr_mult: 0.1}]}\n\
                 train: {steps: 4, batch: 32, diag_every: 2}\nstudy:\n  name: g\n  \
                 seeds: [0]\n  grid:\n    task: [shapes-smoke, logreg-digits]\n";
    std::fs::write(tmp.path().join("g.yaml"), study).unwrap();
    let o = lab(
        tmp.path(),
        &["grng", "--quiet", "--config", "g.yaml", "--out", "g"],
    );
    let needles = [
        "study cell",
        "logreg-digits",
        "optimizer.groups",
        "group `head`",
        "match no parameter",
        "\"fc1.weight\"",
    ];
    assert_refused(&o, "study", &needles, &tmp.path().join("g"));
}

/// A sweep study (one task, several cells per optimizer kind) that also varies a key outside
/// `optimizer:`: `lab report` still ranks the cells, but writes no best-settings.yaml or
/// paper-tuned.yaml, naming the key. Before, it wrote them from the winners' optimizer
/// sections alone, so the "tuned" grid ran each optimizer at paper.yaml's value of the key
/// (here: SGD's winner was a cosine cell, the tuned grid ran it with a constant schedule).
#[test]
fn grng_a_sweep_that_varies_keys_outside_the_optimizer_writes_no_tuned_grid() {
    let tmp = tempfile::tempdir().unwrap();
    let study = "torch_threads: 1\ntask: shapes-smoke\noptimizer: {kind: sgd}\n\
                 train: {steps: 4, batch: 32, diag_every: 2}\nstudy:\n  name: sw\n  \
                 seeds: [0]\n  grid:\n    train.schedule: [constant, cosine]\n    \
                 optimizer.kind: [sgd, adamw]\n";
    std::fs::write(tmp.path().join("sw.yaml"), study).unwrap();
    let o = lab(
        tmp.path(),
        &["grng", "--quiet", "--config", "sw.yaml", "--out", "sw"],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    // An earlier report's tuned grid (here a stand-in) must not pass for this report's.
    let earlier = tmp.path().join("sw/paper-tuned.yaml");
    std::fs::write(&earlier, "# an earlier report's grid\n").unwrap();
    let o = lab(tmp.path(), &["report", "sw"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let report = read(&tmp.path().join("sw/report.md"));
    let moved: Vec<_> = std::fs::read_dir(tmp.path().join("sw"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("paper-tuned.yaml.replaced-"))
        .collect();
    assert_eq!(moved.len(), 1, "{moved:?}");
    let kept = read(&tmp.path().join("sw").join(&moved[0]));
    assert_eq!(kept, "# an earlier report's grid\n");
    assert!(
        report
            .contains("an earlier report's `paper-tuned.yaml` does not hold this report's result"),
        "{report}"
    );
    assert!(report.contains("## Best setting per optimizer"), "{report}");
    assert!(
        report.contains("The cells also differ in `train.schedule`"),
        "{report}"
    );
    for file in ["best-settings.yaml", "paper-tuned.yaml"] {
        assert!(!tmp.path().join("sw").join(file).exists(), "{file} written");
    }
}
