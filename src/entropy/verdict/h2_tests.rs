//! H2's tests: the trajectory after the validation minimum, and H2's verdict pieces built
//! from it (paired fall, below the reference, hold reported only).
use super::tests::{after, sweep, verdicts};
use super::trajectory::{after_minimum, AfterMinimum};
use super::*;

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
