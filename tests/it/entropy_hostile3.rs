//! Hostile input to `lab entropy-probe`, third round: a run's own config.yaml read back as a
//! config (the documented way to probe or re-run it), a probe of a run whose corpus file changed
//! since training, and `lab report` on a folder that mixes corpora or holds a metrics.csv that
//! names a column twice.
use crate::common::*;
use crate::entropy_train::{lab_config, lab_single, run_single};
use crate::entropy_verdict::{calm_when_stabilised, report, write_study};
use std::path::Path;

/// `lab entropy-probe --config CFG --print-config` with `sets`.
fn print_config(dir: &Path, cfg: &Path, sets: &[&str]) -> std::process::Output {
    let mut args = vec!["entropy-probe", "--config", cfg.to_str().unwrap()];
    for s in sets {
        args.extend(["--set", s]);
    }
    args.push("--print-config");
    lab(dir, &args)
}

/// The resolved config of a GRU, LSTM or bigram run names `model.kind` but no preset; laid over
/// the defaults' `model: {preset: gpt-tiny}` it used to be refused ("model preset `gpt-tiny` is
/// kind Gpt, but kind Bigram was given"), so such a run could not be probed with its own
/// config.yaml, nor re-run from it, nor `--set model.kind=gru` be given. And a run's config.yaml
/// with `--set model.preset=gpt-small` kept the run's sizes without a word.
#[test]
fn entropy_a_runs_own_config_yaml_reads_back_for_every_model_kind() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let single = crate::entropy_train::single(dir);
    for preset in ["gru", "lstm", "bigram", "gpt-nano"] {
        let o = print_config(dir, &single, &[&format!("model.preset={preset}")]);
        assert_eq!(code(&o), 0, "{preset}: {}", text(&o));
        let resolved = dir.join(format!("{preset}.yaml"));
        std::fs::write(&resolved, &o.stdout).unwrap();
        let again = print_config(dir, &resolved, &[]);
        assert_eq!(code(&again), 0, "{preset} read back: {}", text(&again));
        assert_eq!(stdout(&again), stdout(&o), "{preset}: the same config");
    }
    let o = print_config(dir, &single, &["model.kind=gru"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(stdout(&o).contains("kind: gru"), "{}", stdout(&o));
    // Another preset over a resolved gpt-nano config: gpt-small's sizes, and a note.
    let o = print_config(dir, &dir.join("gpt-nano.yaml"), &["model.preset=gpt-small"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(stdout(&o).contains("d_model: 128"), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("switches `model` from kind gpt to another preset"),
        "{}",
        text(&o)
    );
    // The documented probe: the very config the run was trained with.
    let run = run_single(dir, &["model.preset=bigram"], "run");
    let path = format!("checkpoint.path={}", run.display());
    let o = lab_config(
        dir,
        &run.join("config.yaml"),
        &["task=probe", &path],
        Some("probed"),
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    let (_, rows) = read_csv(&dir.join("probed/metrics.csv"));
    assert_eq!(rows.len(), 1, "{rows:?}");
}

/// A `file` corpus edited after training, with the same characters (so the same tokenizer),
/// was probed on the new text without a word: a row that does not repeat the run's evaluation,
/// against the h_ref of the old text. A train run now records the SHA-256 of its tokens beside
/// the weights, and a probe on other tokens is refused naming the run and the corpus.
#[test]
fn entropy_probe_of_a_run_whose_corpus_changed_since_training_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let corpus = dir.join("ab.txt");
    std::fs::write(&corpus, "ab".repeat(3000)).unwrap();
    let data = "data.corpus={kind: file, path: ab.txt}";
    let run = run_single(dir, &["model.preset=bigram", data], "run");
    let sets = [
        "task=probe",
        "checkpoint.path=run",
        "model.preset=bigram",
        data,
    ];
    let o = lab_single(dir, &sets, Some("same"));
    assert_eq!(code(&o), 0, "{}", text(&o));
    let (header, rows) = read_csv(&dir.join("same/metrics.csv"));
    let (_, trained) = read_csv(&run.join("metrics.csv"));
    let v = col(&header, "val_loss");
    let probed: f64 = rows[0][v].parse().unwrap();
    let at_training: f64 = trained.last().unwrap()[v].parse().unwrap();
    assert!(
        (probed - at_training).abs() <= 1e-7 * at_training.abs(),
        "the run's evaluation: {probed} vs {at_training}"
    );
    // The same two characters, other text.
    std::fs::write(&corpus, "aab".repeat(2000)).unwrap();
    let o = lab_single(dir, &sets, Some("changed"));
    assert_refused(
        &o,
        "edited corpus",
        &[
            "run: the run was trained on other text than data.corpus (file ab.txt)",
            "edited or replaced since training",
            "trained_with.json",
        ],
        &dir.join("changed"),
    );
}

/// `lab report` on a folder whose feedback runs were trained on another corpus than its plain
/// runs paired them across the two corpora and gave verdicts on differences between datasets.
/// Runs on other data than most of the folder's runs are now left out with a note naming the
/// keys.
#[test]
fn entropy_report_does_not_pair_runs_trained_on_different_data() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("sweep");
    write_study(&root, &|s| 0.2 + 0.01 * s as f64, &calm_when_stabilised);
    for arch in ["gpt", "gru"] {
        for seed in 0..5 {
            let run = root.join(format!("model.kind={arch},condition=feedback/seed-{seed}"));
            let path = run.join("config.yaml");
            let config = read(&path) + "data:\n  corpus: {kind: file, path: other.txt}\n";
            std::fs::write(&path, config).unwrap();
        }
    }
    let (rows, md) = report(&root);
    let feedback = root.join("model.kind=gpt,condition=feedback/seed-0");
    let note = md
        .lines()
        .find(|l| l.contains(&format!("{}: left out: ", feedback.display())))
        .unwrap_or_else(|| panic!("no note on the feedback run: {md}"));
    assert!(
        note.contains("trained on other data than the 20 run(s) analysed")
            && note.contains("`data.corpus.kind` is file here, (absent) in those"),
        "{note}"
    );
    let paired: Vec<_> = rows
        .values()
        .filter(|r| r[3] == "feedback" && r[4] == "plain")
        .collect();
    assert!(paired.is_empty(), "feedback paired with plain: {paired:?}");
    let (_, sweep) = read_csv(&root.join("sweep.csv"));
    assert_eq!(sweep.len(), 20, "plain and conventional only");
}

/// A metrics.csv that names a column twice (a hand merge of two files): the final metrics took
/// the last copy and the H2 trajectory and plots the first, each without a word. The run is now
/// left out with a note naming the file and both columns.
#[test]
fn entropy_report_leaves_out_a_metrics_csv_naming_a_column_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("sweep");
    write_study(&root, &|s| 0.2 + 0.01 * s as f64, &calm_when_stabilised);
    let run = root.join("model.kind=gpt,condition=plain/seed-0");
    let csv = run.join("metrics.csv");
    let doubled: Vec<String> = read(&csv)
        .lines()
        .enumerate()
        .map(|(i, l)| match i {
            0 => format!("{l},fr_entropy_t1"),
            _ => format!("{l},9.5"),
        })
        .collect();
    std::fs::write(&csv, doubled.join("\n") + "\n").unwrap();
    let (_, md) = report(&root);
    let note = md
        .lines()
        .find(|l| l.contains(&format!("{}: left out: ", run.display())))
        .unwrap_or_else(|| panic!("no note on the run: {md}"));
    assert!(
        note.contains("names column `fr_entropy_t1` twice (columns 13 and 67)"),
        "{note}"
    );
    let (_, sweep) = read_csv(&root.join("sweep.csv"));
    assert_eq!(sweep.len(), 29, "the run is left out");
}

/// A `hold` set-point outside the range of the statistic it holds (an entropy above ln |V| or
/// below 0, a fraction above 1) ran to the end as a controlled run: the controller sat at a
/// bound of its output from the first measurement (`ctrl_active_frac` 0 at target 100) and the
/// run was paired with `plain` as `feedback`. It is now refused before the run, naming the key.
#[test]
fn entropy_a_hold_set_point_the_statistic_cannot_reach_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let hold = ["condition=feedback", "controller.mode=hold"];
    let refused = |sets: &[&str], needles: &[&str]| {
        let sets: Vec<&str> = hold.iter().chain(sets).copied().collect();
        let o = lab_single(dir, &sets, Some("out"));
        assert_refused(&o, &format!("{sets:?}"), needles, &dir.join("out"));
    };
    // The smoke corpus has 16 symbols: entropies lie in [0, ln 16].
    let never = "can never be met";
    refused(
        &["controller.target=100"],
        &[
            "controller.target is 100",
            "`fr_entropy`",
            "ln |V| = ln 16",
            never,
        ],
    );
    refused(&["controller.target=-0.5"], &["is -0.5", never]);
    refused(
        &["controller.statistic=top1_mass", "controller.target=1.5"],
        &["`top1_mass` lies in [0, 1", never],
    );
    // In range: runs; a plain run's controller only measures, so its target is not a goal.
    run_single(
        dir,
        &[hold[0], hold[1], "controller.target=2.5"],
        "in_range",
    );
    run_single(
        dir,
        &["controller.mode=hold", "controller.target=100"],
        "plain",
    );
}
