use super::trajectory::{after_minimum, AfterMinimum};
use super::*;

/// A run whose fr_entropy_t1 changes by `change` over the 3 evaluations after its val minimum.
fn after(change: f64) -> AfterMinimum {
    AfterMinimum {
        val_min_step: 100.0,
        evals_after: 3,
        change: Some(change),
        slope: Some(change),
        falling: if change < 0.0 { 3 } else { 0 },
    }
}

fn run(arch: &str, condition: &str, seed: u64, metrics: &[(&str, f64)]) -> RunRecord {
    RunRecord {
        arch: arch.into(),
        condition: condition.into(),
        seed,
        metrics: metrics.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
    }
}

/// Every H1–H4 metric for `plain`, `conventional` and `feedback`: the stabilised value is the
/// plain one moved by `shift(seed)` in the predicted direction (negative: against it).
fn sweep(archs: &[&str], seeds: u64, shift: &dyn Fn(u64) -> f64) -> Vec<RunRecord> {
    let mut out = Vec::new();
    for arch in archs {
        for seed in 0..seeds {
            for cond in ["plain", "conventional", "feedback"] {
                let mut m = BTreeMap::new();
                for (i, test) in PAIRED[..4].iter().flat_map(|h| h.tests).enumerate() {
                    let base = 1.0 + 0.01 * ((seed as usize * 7 + i * 3) % 5) as f64;
                    let sign = match test.direction {
                        Direction::Higher => 1.0,
                        Direction::Lower => -1.0,
                    };
                    let v = if cond == "plain" {
                        base
                    } else {
                        base + sign * shift(seed)
                    };
                    m.insert(test.metric.to_string(), v);
                }
                // H2's other pieces hold: entropy falls after the val minimum, ends below h_ref.
                m.insert("h_ref".into(), 5.0);
                m.extend(trajectory::scalars(&after(-0.1 - 0.01 * seed as f64)));
                out.push(RunRecord {
                    arch: arch.to_string(),
                    condition: cond.into(),
                    seed,
                    metrics: m,
                });
            }
        }
    }
    out
}

fn verdicts(a: &Analysis, id: &str) -> Vec<Verdict> {
    let mut v: Vec<Verdict> = a
        .archs
        .iter()
        .map(|x| a.per_arch(id, x).unwrap().verdict)
        .collect();
    v.push(a.overall(id).unwrap().verdict);
    v
}

#[test]
fn a_clear_effect_in_the_predicted_direction_is_supported() {
    let a = analyse(&sweep(&["gpt", "gru"], 5, &|s| 0.3 + 0.01 * s as f64));
    for id in ["H1", "H2", "H3", "H4", "H6"] {
        assert_eq!(verdicts(&a, id), [Verdict::Supported; 3], "{id}");
    }
    let row = a
        .rows
        .iter()
        .find(|r| r.id == "H1" && r.arch == "gpt" && r.condition == "feedback")
        .unwrap();
    assert_eq!(
        (row.metric.as_str(), row.baseline.as_str()),
        ("train_fit_loss", "plain")
    );
    assert!((row.mean_diff.unwrap() + 0.32).abs() < 1e-12, "{row:?}");
    assert_eq!((row.seeds_agree, row.n_seeds), (Some(5), Some(5)));
    assert!(row.ci_high.unwrap() < 0.0);
    let alone = a
        .rows
        .iter()
        .find(|r| r.id == "H3" && r.arch == "all" && r.condition == "conventional")
        .unwrap();
    assert_eq!((alone.verdict, alone.summary), (Verdict::Supported, false));
    let h6 = a.per_arch("H6", "gpt").unwrap();
    assert_eq!((h6.seeds_agree, h6.n_seeds), (Some(26), Some(26)));
}

#[test]
fn a_clear_effect_the_other_way_is_contradicted() {
    let a = analyse(&sweep(&["gpt", "gru", "lstm"], 5, &|s| {
        -0.3 - 0.01 * s as f64
    }));
    for id in ["H1", "H2", "H3", "H4", "H6"] {
        assert_eq!(verdicts(&a, id), [Verdict::Contradicted; 4], "{id}");
    }
}

#[test]
fn no_effect_is_inconclusive() {
    let noise = [0.1, -0.12, 0.05, -0.07, 0.02];
    let a = analyse(&sweep(&["gpt", "gru"], 5, &|s| noise[s as usize]));
    for id in ["H1", "H2", "H3", "H4", "H6"] {
        assert_eq!(verdicts(&a, id), [Verdict::Inconclusive; 3], "{id}");
    }
}

#[test]
fn ci_away_from_zero_needs_enough_seeds_agreeing() {
    let base = |d: &[f64]| {
        decide(
            Row::new("H1", "gpt", "m", "feedback", "plain"),
            d,
            Direction::Higher,
        )
    };
    // Resamples that are all negative have probability (2/5)^5 ≈ 1% < 2.5%: the CI excludes 0,
    // but 3 of 5 seeds agree where 4 are needed.
    let r = base(&[10.0, 10.0, 10.0, -0.1, -0.1]);
    assert!(r.ci_low.unwrap() > 0.0, "{r:?}");
    assert_eq!((r.seeds_agree, r.verdict), (Some(3), Verdict::Inconclusive));
    let r = base(&[10.0, 10.0, 10.0, 10.0, -0.1]);
    assert_eq!(r.verdict, Verdict::Supported);
    let r = base(&[0.5]);
    assert_eq!((r.n_seeds, r.verdict), (Some(1), Verdict::Inconclusive));
    assert!(r
        .note
        .as_deref()
        .unwrap_or_default()
        .contains("only 1 paired seed"));
    assert_eq!(base(&[]).mean_diff, None);
}

#[test]
fn combining_is_a_conjunction() {
    use Verdict::*;
    assert_eq!(combine(&[Supported, Supported]), Supported);
    assert_eq!(combine(&[Supported, Inconclusive]), Inconclusive);
    assert_eq!(combine(&[Supported, Contradicted]), Contradicted);
    assert_eq!(combine(&[]), Inconclusive);
}

#[test]
fn overall_needs_two_neural_architectures() {
    let a = analyse(&sweep(&["gpt", "bigram", "ngram"], 5, &|_| 0.3));
    assert_eq!(
        verdicts(&a, "H1"),
        [
            Verdict::Supported,
            Verdict::Supported,
            Verdict::Supported,
            Verdict::Inconclusive
        ]
    );
    let note = a.overall("H1").unwrap().note.clone().unwrap();
    assert!(note.contains("only 1 neural architecture"), "{note}");
    // One architecture supports, one contradicts: neither side wins.
    let mut mixed = sweep(&["gpt"], 4, &|_| 0.3);
    mixed.extend(sweep(&["gru"], 4, &|_| -0.3));
    let a = analyse(&mixed);
    assert_eq!(
        verdicts(&a, "H1"),
        [
            Verdict::Supported,
            Verdict::Contradicted,
            Verdict::Inconclusive
        ]
    );
}

#[test]
fn one_seed_gives_no_verdict() {
    let a = analyse(&sweep(&["gpt", "gru"], 1, &|_| 0.3));
    assert_eq!(verdicts(&a, "H1"), [Verdict::Inconclusive; 3]);
}

#[test]
fn h5_correlation_over_runs() {
    let runs: Vec<RunRecord> = (0..10)
        .map(|i| {
            let j = i as f64;
            run(
                "gpt",
                "plain",
                i,
                &[
                    ("stab_loss_jitter", 0.1 * j),
                    ("fr_entropy_t1", 2.0 + j * j),
                ],
            )
        })
        .collect();
    let a = analyse(&runs);
    let h5 = a.overall("H5").unwrap();
    assert_eq!(
        (h5.mean_diff, h5.n_seeds, h5.verdict),
        (Some(1.0), Some(10), Verdict::Supported)
    );
    assert!(h5.p_value.unwrap() < 5.0 / 10_001.0);
    let flipped: Vec<RunRecord> = runs
        .iter()
        .map(|r| {
            let mut r = r.clone();
            let h = r.metrics["fr_entropy_t1"];
            r.metrics.insert("fr_entropy_t1".into(), -h);
            r
        })
        .collect();
    let h5 = analyse(&flipped).overall("H5").unwrap().clone();
    assert_eq!(
        (h5.mean_diff, h5.verdict),
        (Some(-1.0), Verdict::Contradicted)
    );
    let few = analyse(&runs[..1]);
    assert_eq!(few.overall("H5").unwrap().verdict, Verdict::Inconclusive);
}

#[test]
fn h7_is_not_run_and_h8_pairs_hold_with_feedback() {
    let mut runs = Vec::new();
    for arch in ["gpt", "gru"] {
        for s in 0..3 {
            runs.push(run(
                arch,
                "feedback",
                s,
                &[("fr_entropy_t1", 1.0), ("distinct_4", 0.5)],
            ));
            runs.push(run(
                arch,
                "feedback_hold",
                s,
                &[("fr_entropy_t1", 1.5), ("distinct_4", 0.4)],
            ));
        }
    }
    let a = analyse(&runs);
    assert_eq!(a.overall("H7").unwrap().verdict, Verdict::NotRun);
    assert_eq!(verdicts(&a, "H8"), [Verdict::Supported; 3]);
    let rep = a
        .rows
        .iter()
        .find(|r| r.id == "H8" && r.metric == "distinct_4")
        .unwrap();
    // Reported against its stated direction (hold: more distinct), not part of the verdict.
    assert_eq!(
        (rep.baseline.as_str(), rep.primary, rep.verdict),
        ("feedback", false, Verdict::Contradicted)
    );
    // H1 has no plain runs here: inconclusive with the reason.
    let h1 = a.per_arch("H1", "gpt").unwrap();
    assert_eq!(h1.verdict, Verdict::Inconclusive);
    assert!(h1
        .note
        .as_deref()
        .unwrap_or_default()
        .contains("feedback − plain"));
}

#[test]
fn repeated_runs_are_counted_once_with_a_note() {
    let mut runs = sweep(&["gpt"], 2, &|_| 0.3);
    runs.push(runs[0].clone());
    let a = analyse(&runs);
    assert!(
        a.notes.iter().any(|n| n.starts_with("1 run(s) repeat")),
        "{:?}",
        a.notes
    );
}

#[test]
fn every_row_has_a_verdict_word_and_overall_rows_for_each_hypothesis() {
    let a = analyse(&sweep(&["gpt", "gru"], 3, &|_| 0.3));
    for id in ["H1", "H2", "H3", "H4", "H5", "H6", "H7", "H8"] {
        assert!(a.overall(id).is_some(), "{id}");
    }
    let words = ["supported", "contradicted", "inconclusive", "not run here"];
    assert!(a.rows.iter().all(|r| words.contains(&r.verdict.as_str())));
}

#[test]
fn the_trajectory_after_the_validation_minimum() {
    // (step, val_loss, fr_entropy_t1), out of order on purpose: the minimum is at step 300.
    let falling = [
        (500.0, 1.7, 2.4),
        (100.0, 3.0, 3.0),
        (200.0, 2.0, 2.8),
        (300.0, 1.5, 2.6),
        (400.0, 1.6, 2.5),
    ];
    let a = after_minimum(&falling).unwrap();
    assert_eq!((a.val_min_step, a.evals_after, a.falling), (300.0, 2, 2));
    assert!((a.change.unwrap() + 0.2).abs() < 1e-12, "{a:?}");
    // Least squares through (300, 2.6), (400, 2.5), (500, 2.4): -0.1 per 100 steps.
    assert!((a.slope.unwrap() + 1.0).abs() < 1e-9, "{a:?}");
    assert_eq!(a.falls(), Some(true));
    let rising: Vec<_> = falling.iter().map(|&(s, v, h)| (s, v, 5.0 - h)).collect();
    let a = after_minimum(&rising).unwrap();
    assert_eq!((a.falls(), a.falling), (Some(false), 0));
    assert!(a.change.unwrap() > 0.0 && a.slope.unwrap() > 0.0);
    // Down then back up past where it was: the slope says "falls", the change does not.
    let bounce = [
        (1.0, 1.0, 2.0),
        (2.0, 2.0, 1.0),
        (3.0, 3.0, 1.0),
        (4.0, 4.0, 2.5),
    ];
    let a = after_minimum(&bounce).unwrap();
    assert_eq!(a.falls(), Some(false), "{a:?}");
    let at_end = [(1.0, 3.0, 3.0), (2.0, 2.0, 2.5), (3.0, 1.0, 2.0)];
    let a = after_minimum(&at_end).unwrap();
    assert_eq!((a.evals_after, a.change, a.falls()), (0, None, None));
    assert!(after_minimum(&[]).is_none());
    let back = trajectory::from_metrics(&trajectory::scalars(&a)).unwrap();
    assert_eq!(back, a);
}

/// gpt and gru × plain/conventional/feedback × 3 seeds with a clear paired effect; every run's
/// entropy after its val minimum follows `after_min(seed)` (None: minimum at the last eval).
fn h2_study(after_min: &dyn Fn(&str, u64) -> Option<f64>) -> Analysis {
    let mut runs = sweep(&["gpt", "gru"], 3, &|_| 0.3);
    for r in &mut runs {
        for k in [trajectory::CHANGE, trajectory::SLOPE] {
            r.metrics.remove(k);
        }
        let a = match after_min(&r.condition, r.seed) {
            Some(change) => after(change),
            None => AfterMinimum {
                evals_after: 0,
                change: None,
                slope: None,
                falling: 0,
                ..after(0.0)
            },
        };
        r.metrics.extend(trajectory::scalars(&a));
    }
    analyse(&runs)
}

fn piece(a: &Analysis, arch: &str, metric: &str, condition: &str) -> Row {
    a.rows
        .iter()
        .find(|r| r.id == "H2" && r.arch == arch && r.metric == metric && r.condition == condition)
        .unwrap_or_else(|| panic!("no H2 row {arch} {metric} {condition}"))
        .clone()
}

#[test]
fn h2_needs_entropy_to_fall_after_the_validation_minimum() {
    use h2::{BELOW, FALLS, PAIRED_PIECE};
    let falls = h2_study(&|_, s| Some(-0.2 - 0.01 * s as f64));
    assert_eq!(verdicts(&falls, "H2"), [Verdict::Supported; 3]);
    let r = piece(&falls, "gpt", FALLS, "plain");
    assert_eq!((r.seeds_agree, r.n_seeds), (Some(3), Some(3)));
    assert!((r.mean_diff.unwrap() + 0.21).abs() < 1e-12, "{r:?}");
    for p in [PAIRED_PIECE, FALLS, BELOW] {
        assert_eq!(
            piece(&falls, "all", p, "all").verdict,
            Verdict::Supported,
            "{p}"
        );
    }
    // The paired differences still say "lower", but entropy rises after the minimum.
    let rises = h2_study(&|_, s| Some(0.2 + 0.01 * s as f64));
    assert_eq!(verdicts(&rises, "H2"), [Verdict::Contradicted; 3]);
    let gpt = piece(&rises, "gpt", FALLS, "all");
    assert_eq!(gpt.verdict, Verdict::Contradicted);
    assert_eq!(
        piece(&rises, "gpt", PAIRED_PIECE, "all").verdict,
        Verdict::Supported
    );
    let note = rises.per_arch("H2", "gpt").unwrap().note.clone().unwrap();
    assert!(
        note.contains("falls after the val_loss minimum contradicted"),
        "{note}"
    );
    // Every minimum at the last evaluation: nothing to judge, said so.
    let at_end = h2_study(&|_, _| None);
    assert_eq!(verdicts(&at_end, "H2"), [Verdict::Inconclusive; 3]);
    let r = piece(&at_end, "gru", FALLS, "feedback");
    assert_eq!((r.n_seeds, r.verdict), (Some(0), Verdict::Inconclusive));
    assert!(r.note.unwrap().contains("0 of 3 run(s) reached"));
    // Only one condition rising is enough to contradict ("in every condition").
    let one = h2_study(&|c, _| Some(if c == "conventional" { 0.2 } else { -0.2 }));
    assert_eq!(verdicts(&one, "H2"), [Verdict::Contradicted; 3]);
    assert_eq!(
        piece(&one, "gpt", FALLS, "plain").verdict,
        Verdict::Supported
    );
}

#[test]
fn h2_below_reference_per_condition_and_hold_is_reported_only() {
    let mut runs = sweep(&["gpt", "gru"], 3, &|_| 0.3);
    for arch in ["gpt", "gru"] {
        for s in 0..3 {
            // Held entropy stays above h_ref and rises: reported, not in H2's verdict.
            let mut m: BTreeMap<String, f64> = runs[0].metrics.clone();
            m.insert("fr_entropy_t1".into(), 9.0);
            m.extend(trajectory::scalars(&after(0.5)));
            runs.push(RunRecord {
                arch: arch.into(),
                condition: "feedback_hold".into(),
                seed: s,
                metrics: m,
            });
        }
    }
    let a = analyse(&runs);
    assert_eq!(verdicts(&a, "H2"), [Verdict::Supported; 3]);
    let hold = piece(&a, "gpt", h2::BELOW, "feedback_hold");
    assert_eq!((hold.primary, hold.verdict), (false, Verdict::Contradicted));
    assert_eq!((hold.seeds_agree, hold.n_seeds), (Some(0), Some(3)));
    let plain = piece(&a, "gpt", h2::BELOW, "plain");
    assert_eq!((plain.primary, plain.verdict), (true, Verdict::Supported));
    // Above h_ref in plain only: the piece fails for that architecture.
    for r in runs
        .iter_mut()
        .filter(|r| r.arch == "gru" && r.condition == "plain")
    {
        r.metrics.insert("h_ref".into(), 0.5);
    }
    let a = analyse(&runs);
    assert_eq!(
        piece(&a, "gru", h2::BELOW, "all").verdict,
        Verdict::Contradicted
    );
    assert_eq!(a.per_arch("H2", "gpt").unwrap().verdict, Verdict::Supported);
    assert_eq!(a.overall("H2").unwrap().verdict, Verdict::Inconclusive);
}
