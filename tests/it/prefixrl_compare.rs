//! prefixrl compare (spec §5.2, §7.9 compare.csv, §7.11): on hand-written eval.csv /
//! metrics.csv / config.yaml files of four fake runs (rl, sft-rl, prefixrl × 2 seeds), the
//! FLOPs to target, speed-up and final ratio equal hand computations under each offline
//! charge, mean ± std rows are right, and the §7.11 criteria pass, fail or are not measurable
//! as the numbers say.
use lab::prefixrl::compare::{acceptance, compare, write_csv};
use lab::prefixrl::config::ChargeOffline;
use std::path::{Path, PathBuf};

const EVAL_HEAD: &str = "run,method,seed,step,flops_total,train_unpref_pass1,heldout_pass1,\
                         heldout_pass8,entropy_eval_unpref";

/// A run dir with eval.csv rows at steps 0, 10, 20, 30 (`flops_total = offline + 100·i`),
/// metrics.csv with `flops_offline` and `frac_groups_all0`, and a config.yaml.
struct Fake<'a> {
    name: &'a str,
    method: &'a str,
    seed: u64,
    alpha: f64,
    offline: f64,
    pass1: [f64; 4],
    heldout8: f64,
    entropy: f64,
    /// traces.source in config.yaml (R8 uses `oracle`).
    source: &'a str,
}

fn write(root: &Path, f: &Fake) -> PathBuf {
    let dir = root.join(f.name);
    std::fs::create_dir_all(&dir).unwrap();
    let mut eval = format!("{EVAL_HEAD}\n");
    let mut metrics = "run,method,seed,step,flops_offline,frac_groups_all0\n".to_string();
    for (i, p) in f.pass1.iter().enumerate() {
        let x = f.offline + 100.0 * i as f64;
        let step = 10 * i;
        eval += &format!(
            "{},{},{},{step},{x},{p},0.1,{},{}\n",
            f.name, f.method, f.seed, f.heldout8, f.entropy
        );
        metrics += &format!(
            "{},{},{},{step},{},0.9\n",
            f.name, f.method, f.seed, f.offline
        );
    }
    std::fs::write(dir.join("eval.csv"), eval).unwrap();
    std::fs::write(dir.join("metrics.csv"), metrics).unwrap();
    let config = format!(
        "seed: {}\nrl:\n  n: 8\n  alpha: {}\ntraces:\n  source: {}\n",
        f.seed, f.alpha, f.source
    );
    std::fs::write(dir.join("config.yaml"), config).unwrap();
    dir
}

pub(super) fn runs(root: &Path) -> Vec<PathBuf> {
    let fakes = [
        Fake {
            name: "a",
            method: "rl",
            seed: 0,
            alpha: 0.0,
            offline: 0.0,
            pass1: [0.0, 0.01, 0.02, 0.03],
            heldout8: 0.1,
            entropy: 1.0,
            source: "base",
        },
        Fake {
            name: "b",
            method: "sft-rl",
            seed: 0,
            alpha: 0.0,
            offline: 50.0,
            pass1: [0.3; 4],
            heldout8: 0.2,
            entropy: 0.5,
            source: "base",
        },
        Fake {
            name: "c",
            method: "prefixrl",
            seed: 0,
            alpha: 0.75,
            offline: 20.0,
            pass1: [0.0, 0.6, 0.6, 0.6],
            heldout8: 0.5,
            entropy: 0.9,
            source: "base",
        },
        Fake {
            name: "c1",
            method: "prefixrl",
            seed: 1,
            alpha: 0.75,
            offline: 20.0,
            pass1: [0.0, 0.4, 0.4, 0.4],
            heldout8: 0.5,
            entropy: 0.9,
            source: "base",
        },
    ];
    fakes.iter().map(|f| write(root, f)).collect()
}

fn close(a: Option<f64>, b: f64) {
    let a = a.expect("a value");
    assert!((a - b).abs() < 1e-9, "{a} != {b}");
}

fn row<'a>(
    c: &'a lab::prefixrl::compare::Comparison,
    method: &str,
    seed: &str,
) -> &'a lab::prefixrl::compare::CompareRow {
    c.rows
        .iter()
        .find(|r| r.method == method && r.seed == seed)
        .unwrap_or_else(|| panic!("no row {method} {seed}"))
}

#[test]
fn speedup_and_final_ratio_match_hand_computations() {
    let tmp = tempfile::tempdir().unwrap();
    let dirs = runs(tmp.path());
    // Target 0.15, EMA span 5 (α = 1/3): sft-rl (0.3 from the start) reaches it at its first
    // eval, x = 50; prefixrl seed 0 (0, 0.6, …): EMA 0, 0.2 → at x = 20 + 100 = 120; seed 1
    // (0, 0.4, 0.4): EMA 0, 0.133, 0.222 → at x = 220; rl never.
    let c = compare(&dirs, "sft-rl", Some(0.15), ChargeOffline::Users).unwrap();
    close(row(&c, "sft-rl", "0").flops_to_target, 50.0);
    close(row(&c, "prefixrl", "0").flops_to_target, 120.0);
    close(row(&c, "prefixrl", "1").flops_to_target, 220.0);
    assert_eq!(row(&c, "rl", "0").flops_to_target, None);
    close(row(&c, "prefixrl", "0").speedup, 50.0 / 120.0);
    // Seed 1 has no sft-rl run of its own: the baseline's mean stands in.
    close(row(&c, "prefixrl", "1").speedup, 50.0 / 220.0);
    close(row(&c, "prefixrl", "0").final_ratio, 0.6 / 0.3);
    close(row(&c, "prefixrl", "1").final_ratio, 0.4 / 0.3);
    close(row(&c, "rl", "0").final_ratio, 0.02 / 0.3);
    close(row(&c, "prefixrl", "mean").final_train_unpref, 0.5);
    close(
        row(&c, "prefixrl", "std").final_train_unpref,
        0.02f64.sqrt(),
    );
    assert_eq!(
        row(&c, "sft-rl", "std").final_train_unpref,
        None,
        "one seed"
    );
    close(row(&c, "prefixrl", "mean").final_heldout_pass1, 0.1);
    close(row(&c, "prefixrl", "mean").final_entropy, 0.9);

    // Without any offline charge every axis loses its own offline FLOPs.
    let c = compare(&dirs, "sft-rl", Some(0.15), ChargeOffline::None).unwrap();
    close(row(&c, "sft-rl", "0").flops_to_target, 0.0);
    close(row(&c, "prefixrl", "0").flops_to_target, 100.0);
    close(row(&c, "prefixrl", "0").speedup, 0.0); // 0 / 100 FLOPs

    // Charging everyone puts the shared trace cost (the smallest charge, 20) on rl too.
    // rl's EMA 0, 0.0033: target 0.003 at its second eval, 20 + 100.
    let c = compare(&dirs, "rl", Some(0.003), ChargeOffline::All).unwrap();
    close(row(&c, "rl", "0").flops_to_target, 120.0);

    // The default target is the baseline's final training reward.
    let c = compare(&dirs, "sft-rl", None, ChargeOffline::Users).unwrap();
    close(c.target, 0.3);
    let csv = tmp.path().join("compare.csv");
    write_csv(&csv, &c).unwrap();
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "method,seed,final_train_unpref,flops_to_target,speedup_vs_sft-rl,\
         final_ratio_vs_sft-rl,final_heldout_pass1,final_entropy"
    );
    assert_eq!(
        lines.count(),
        4 + 3 * 2,
        "4 runs, mean and std of 3 methods"
    );
    let err = compare(&dirs, "luffy", None, ChargeOffline::Users).unwrap_err();
    assert!(format!("{err:#}").contains("luffy"), "{err:#}");
}

#[test]
fn acceptance_reports_each_criterion_passed_failed_or_unmeasured() {
    let tmp = tempfile::tempdir().unwrap();
    let c = compare(&runs(tmp.path()), "sft-rl", None, ChargeOffline::Users).unwrap();
    let k = acceptance(&c);
    assert_eq!(k.len(), 6);
    let verdicts: Vec<Option<bool>> = k.iter().map(|k| k.passed).collect();
    // 1: rl's pass@1 peaks at 0.03 < 0.05, all-zero groups 0.9 > 0.8.
    // 2: at 300 FLOPs (rl's last), prefixrl 0.6/0.4 (mean 0.5) beats rl's 0.03.
    // 3: sft-rl's final 0.3 is reached by sft-rl at 50 FLOPs, by prefixrl at 220 (seed 0;
    //    seed 1 never): ratio 50/220 < 1, failed.
    // 4: no alpha = 1 run. 5: sft-rl's entropy 0.5 < 0.9 at every step.
    // 6: held-out pass@8 0.5 > 0.1 and 0.2.
    assert_eq!(
        verdicts,
        vec![
            Some(true),
            Some(true),
            Some(false),
            None,
            Some(true),
            Some(true)
        ],
        "{k:#?}"
    );
    assert!(
        k[2].measured.contains("ratio R3/R6 0.2273"),
        "{}",
        k[2].measured
    );
    assert!(k[3].measured.contains("no R7 runs"), "{}", k[3].measured);
    let md = lab::prefixrl::compare::markdown(&c);
    assert!(md.contains("| FAILED |"), "{md}");
}

/// A baseline that ends at reward 0 gives a target every run meets at its first evaluation:
/// no FLOPs to target, no speed-up, item 3 not measured (not "passed"), and the headline says
/// why instead of a ratio.
#[test]
fn a_baseline_final_reward_of_zero_is_no_target() {
    let tmp = tempfile::tempdir().unwrap();
    let mut dirs = runs(tmp.path());
    dirs.retain(|d| !d.ends_with("b"));
    dirs.push(write(
        tmp.path(),
        &Fake {
            name: "b0",
            method: "sft-rl",
            seed: 0,
            alpha: 0.0,
            offline: 50.0,
            pass1: [0.2, 0.0, 0.0, 0.0],
            heldout8: 0.2,
            entropy: 0.5,
            source: "base",
        },
    ));
    let c = compare(&dirs, "sft-rl", None, ChargeOffline::Users).unwrap();
    assert_eq!(c.target, Some(0.0));
    for r in &c.rows {
        assert_eq!(r.flops_to_target, None, "{r:?}");
        assert_eq!(r.speedup, None, "{r:?}");
    }
    let k = acceptance(&c);
    assert_eq!(k[2].passed, None, "{:#?}", k[2]);
    assert!(
        k[2].measured.contains("not measurable"),
        "{}",
        k[2].measured
    );
    let h = lab::prefixrl::compare::headline(&c).unwrap();
    assert!(h.contains("training reward n/a (R3's final"), "{h}");
    let md = lab::prefixrl::compare::markdown(&c);
    assert!(md.contains("left empty"), "{md}");
    // A real target keeps its FLOPs, shown in scientific notation.
    let c = compare(&dirs, "sft-rl", Some(0.15), ChargeOffline::Users).unwrap();
    let md = lab::prefixrl::compare::markdown(&c);
    assert!(!md.contains("left empty"), "{md}");
    assert!(md.contains("e2 |"), "{md}");
}

#[test]
fn oracle_trace_runs_are_r8_not_r6_and_the_headline_states_both_ratios() {
    let tmp = tempfile::tempdir().unwrap();
    let mut dirs = runs(tmp.path());
    // R8: prefixrl on oracle traces, far better than R6; it must not count as R6.
    dirs.push(write(
        tmp.path(),
        &Fake {
            name: "r8",
            method: "prefixrl",
            seed: 0,
            alpha: 0.75,
            offline: 0.0,
            pass1: [0.0, 0.9, 0.9, 0.9],
            heldout8: 0.0,
            entropy: 0.1,
            source: "oracle",
        },
    ));
    let c = compare(&dirs, "sft-rl", None, ChargeOffline::Users).unwrap();
    let k = acceptance(&c);
    // As without R8 (previous test): item 3's ratio and item 6's pass (R8's 0.0 left out).
    assert!(
        k[2].measured.contains("ratio R3/R6 0.2273"),
        "{}",
        k[2].measured
    );
    assert_eq!(k[5].passed, Some(true), "{:#?}", k[5]);
    assert!(k[4].measured.contains("of 4 common"), "{}", k[4].measured);
    // R8 has its own compare rows under a label that names the source.
    assert!(
        c.rows.iter().any(|r| r.method.contains("source=oracle")),
        "{:#?}",
        c.rows
    );
    let h = lab::prefixrl::compare::headline(&c).expect("R6 and R3 are there");
    // R3/R6 FLOPs 50/220; final R6 mean(0.6, 0.4) / R3 0.3 = 1.67.
    assert!(h.contains("R6, 2 run(s)"), "{h}");
    assert!(
        h.contains("final training reward 0.23x (paper: about 2x)"),
        "{h}"
    );
    assert!(h.contains("ratio 1.67x (paper: about 3x)"), "{h}");
    let md = lab::prefixrl::compare::markdown(&c);
    assert!(md.contains(&h), "{md}");
}

#[test]
fn reward_vs_flops_plot_has_one_curve_per_method_label_averaged_over_seeds() {
    let tmp = tempfile::tempdir().unwrap();
    let c = compare(&runs(tmp.path()), "sft-rl", None, ChargeOffline::Users).unwrap();
    let fig = lab::prefixrl::compare::plot::figure(&c);
    let labels: Vec<&str> = fig.curves.iter().map(|k| k.label.as_str()).collect();
    assert_eq!(labels, ["rl", "sft-rl", "prefixrl"]);
    // prefixrl's two seeds share their FLOPs axis (20 + 100 i): mean of 0.6 and 0.4.
    let p = &fig.curves[2];
    assert_eq!(p.x, [20.0, 120.0, 220.0, 320.0]);
    close(p.mean.last().copied(), 0.5);
    assert_eq!(p.runs.last(), Some(&2));
    let out = tmp.path().join("report");
    std::fs::create_dir_all(&out).unwrap();
    let (files, md) = lab::prefixrl::compare::plot::write(&c, &out).unwrap();
    assert_eq!(files.len(), 2);
    assert!(
        files.iter().all(|f| f.metadata().unwrap().len() > 1000),
        "{files:?}"
    );
    assert!(md.contains("reward_vs_flops.png"), "{md}");
}

#[test]
fn a_run_without_a_readable_config_yaml_is_named_not_merged_with_other_settings() {
    let tmp = tempfile::tempdir().unwrap();
    let dirs = runs(tmp.path());
    let config = dirs[2].join("config.yaml");
    for (what, damage) in [("gone", None), ("not YAML", Some("rl: [1,\n"))] {
        match damage {
            None => std::fs::remove_file(&config).unwrap(),
            Some(text) => std::fs::write(&config, text).unwrap(),
        }
        // Before, its rl.n / rl.alpha / traces.source were taken as unknown, so its label (and
        // its average) could merge with runs of other settings.
        let e = compare(&dirs, "sft-rl", Some(0.15), ChargeOffline::Users).unwrap_err();
        let err = format!("{e:#}");
        assert!(
            err.contains("c/config.yaml") && err.contains("rl.n"),
            "{what}: {err}"
        );
        assert_eq!(lab::error::exit_code(&e), 2, "{what}: a usage error");
    }
}

/// A cell of eval.csv or metrics.csv that is neither empty nor a number is refused naming the
/// file, line and column (before, it read as empty and that evaluation dropped out of the
/// curves and the final means without a word).
#[test]
fn a_non_numeric_cell_is_named_with_its_file_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    let dirs = runs(tmp.path());
    for (file, column) in [
        ("eval.csv", "train_unpref_pass1"),
        ("metrics.csv", "flops_offline"),
    ] {
        let path = dirs[2].join(file);
        let whole = crate::common::read(&path);
        let mut lines: Vec<String> = whole.lines().map(str::to_string).collect();
        let header: Vec<&str> = lines[0].split(',').collect();
        let i = header.iter().position(|h| *h == column).expect(column);
        let mut cells: Vec<String> = lines[2].split(',').map(str::to_string).collect();
        cells[i] = "0.6x".into();
        lines[2] = cells.join(",");
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        let e = compare(&dirs, "sft-rl", Some(0.15), ChargeOffline::Users).unwrap_err();
        let err = format!("{e:#}");
        let at = format!("c/{file}:3: column `{column}` holds `0.6x`");
        assert!(err.contains(&at), "{file}: {err}");
        assert_eq!(lab::error::exit_code(&e), 2, "{file}: a usage error");
        std::fs::write(&path, whole).unwrap();
    }
    assert!(compare(&dirs, "sft-rl", Some(0.15), ChargeOffline::Users).is_ok());
}
