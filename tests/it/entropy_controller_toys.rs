//! The controller on the categorical SGD toy (spec §3.5 toy validation, §6.5 items 16–18).
//! Measured numbers are printed (`--nocapture`) so that they can be compared with the spec's.
use crate::data_common::kjv_text;
use lab::entropy::controller::toy::{run_categorical, CategoricalToy, ToyTrace};
use lab::entropy::controller::{Actuator, ControllerConfig, Mode, RefWord, Target};
use lab::entropy::toys::entropy;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Dirichlet, Distribution};

/// Dirichlet(1) over 65 symbols, seed 0 (item 16's p̂).
fn dirichlet_65() -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    Dirichlet::new_with_size(1.0, 65).unwrap().sample(&mut rng)
}

/// The character unigram of the KJV training split (first 90 %), over the corpus's symbols:
/// the stand-in for §2.7's Tiny Shakespeare unigram, which does not ship.
fn kjv_unigram() -> Vec<f64> {
    let chars: Vec<char> = kjv_text().chars().collect();
    let mut vocab = chars.clone();
    vocab.sort_unstable();
    vocab.dedup();
    let train = &chars[..chars.len() * 9 / 10];
    let mut counts = vec![0f64; vocab.len()];
    for c in train {
        counts[vocab.binary_search(c).unwrap()] += 1.0;
    }
    counts.iter().map(|n| n / train.len() as f64).collect()
}

fn every_step(cfg: ControllerConfig) -> ControllerConfig {
    ControllerConfig { every: 1, ..cfg }
}

fn hold_cfg(target: Target) -> ControllerConfig {
    every_step(ControllerConfig {
        mode: Mode::Hold,
        target,
        actuator: Actuator::EntropyCoef,
        ..ControllerConfig::default()
    })
}

/// Item 16: hold + entropy_coef holds the entropy within 0.02 of three targets.
#[test]
fn hold_with_entropy_coef_reaches_three_targets() {
    let p = dirichlet_65();
    let h = entropy(&p);
    let toy = CategoricalToy {
        p_hat: p,
        lr: 0.5,
        batch: 64,
        steps: 3000,
        seed: 0,
        warmup: 0,
    };
    let targets = [h - 0.7, h - 0.2, (h + 0.2).min(65f64.ln() - 0.1)];
    for r in targets {
        let trace = run_categorical(&toy, &hold_cfg(Target::Value(r)), true, |_| None);
        let (mean, std) = trace.entropy_tail(500);
        let u = trace.tail(500).map(|m| m.u.unwrap()).sum::<f64>() / 500.0;
        eprintln!("item 16: H(p̂) {h:.4} target {r:.4}: mean {mean:.4} std {std:.4} mean u {u:.3}");
        assert!((mean - r).abs() <= 0.02, "target {r}: mean entropy {mean}");
    }
}

fn drift_run(p: &[f64], target: f64, seed: u64, enabled: bool) -> ToyTrace {
    let toy = CategoricalToy {
        p_hat: p.to_vec(),
        lr: 2.0,
        batch: 16,
        steps: 3000,
        seed,
        warmup: 0,
    };
    let cfg = every_step(ControllerConfig {
        target: Target::Value(target),
        ..Default::default()
    });
    run_categorical(&toy, &cfg, enabled, |_| None)
}

/// Item 17: drift + lr holds the EMA drift at r* and halves the entropy's std; u ≤ u_max.
#[test]
fn drift_with_lr_holds_the_drift_rate_and_damps_the_entropy() {
    let p = kjv_unigram();
    for seed in [0, 1] {
        let plain = drift_run(&p, 1e-3, seed, false);
        let (plain_mean, plain_std) = plain.entropy_tail(500);
        let plain_drift = plain.tail(500).map(|m| m.drift).sum::<f64>() / 500.0;
        eprintln!(
            "item 17 seed {seed}: H(p̂) {:.4}, uncontrolled mean {plain_mean:.4} \
             std {plain_std:.4} drift {plain_drift:.5}",
            entropy(&p)
        );
        for r in [1e-3, 1e-4] {
            let run = drift_run(&p, r, seed, true);
            let (mean, std) = run.entropy_tail(500);
            let drift = run.tail(500).map(|m| m.drift).sum::<f64>() / 500.0;
            let u = run.tail(500).map(|m| m.u.unwrap()).sum::<f64>() / 500.0;
            eprintln!(
                "  r* {r:e}: EMA drift {drift:.3e} ({:+.1} %), entropy mean {mean:.4} \
                 std {std:.4}, mean u {u:.2}",
                100.0 * (drift / r - 1.0)
            );
            assert!((drift - r).abs() <= 0.1 * r, "r* {r}: EMA drift {drift}");
            assert!(
                std <= 0.5 * plain_std,
                "r* {r}: std {std} vs uncontrolled {plain_std}"
            );
            assert!(run.measurements.iter().all(|(_, m)| m.u.unwrap() <= 0.0));
            assert!(run.lr_eff.iter().all(|&lr| lr <= 2.0));
        }
    }
}

/// The first step at or after `from` where the error has the sign opposite to its sign at
/// `from` (or is 0), counted from `from`.
fn steps_to_cross(trace: &ToyTrace, from: usize) -> Option<usize> {
    let errors: Vec<f64> = trace.measurements[from..]
        .iter()
        .map(|(_, m)| m.error.unwrap())
        .collect();
    let sign = errors[0].signum();
    errors.iter().position(|e| e.signum() != sign || *e == 0.0)
}

/// A hold run whose `ref` set-point is `unreachable` until step 1,500 and `reachable` after.
fn switch_run(cfg: &ControllerConfig, unreachable: f64, reachable: f64) -> ToyTrace {
    let toy = CategoricalToy {
        p_hat: dirichlet_65(),
        lr: 0.5,
        batch: 64,
        steps: 3000,
        seed: 0,
        warmup: 0,
    };
    run_categorical(&toy, cfg, true, |t| {
        Some(if t < SWITCH { unreachable } else { reachable })
    })
}

const SWITCH: usize = 1500;

/// Item 18: an unreachable set-point saturates u, but the integral stays within ±I_max and u in
/// range; once the set-point is reachable the statistic gets there (the error crosses zero)
/// within 200 steps. Without the clamp (I_max 1e6) the same recovery takes longer.
#[test]
fn anti_windup_bounds_the_integral_and_recovers_quickly() {
    let h = entropy(&dirichlet_65());
    let cfg = hold_cfg(Target::Ref(RefWord::Ref));
    let g = cfg.gains();
    // Below any reachable entropy: u saturates at u_min (an entropy penalty of 5).
    let trace = switch_run(&cfg, -1.0, h - 0.2);
    for (t, m) in &trace.measurements {
        let (i, u) = (m.integral.unwrap(), m.u.unwrap());
        assert!(
            i.abs() <= g.i_max && (g.u_min..=g.u_max).contains(&u),
            "step {t}: {m:?}"
        );
    }
    let before = &trace.measurements[SWITCH - 1].1;
    assert_eq!(
        (before.integral, before.u),
        (Some(-g.i_max), Some(g.u_min)),
        "saturated"
    );
    let cross = steps_to_cross(&trace, SWITCH);
    let wound = ControllerConfig {
        integral_limit: Some(1e6),
        ..cfg.clone()
    };
    let unclamped = steps_to_cross(&switch_run(&wound, -1.0, h - 0.2), SWITCH);
    eprintln!(
        "item 18: target -1 (H {:.3}) then {:.3}: error crosses zero after {cross:?} steps \
         ({unclamped:?} without the clamp)",
        before.stat,
        h - 0.2
    );
    assert!(
        cross.is_some_and(|n| n <= 200),
        "crossing after {cross:?} steps"
    );
    assert!(
        unclamped.is_none_or(|n| n > cross.unwrap_or(0) + 100),
        "{unclamped:?}"
    );
}

/// The mirror case, above ln|V|: u saturates at u_max with I = +I_max, and the error changes sign
/// at once when the set-point drops below the entropy. The entropy then needs u to fall from
/// +5 to below 0, i.e. I to unwind by about I_max at |e| ≈ 0.5 per step: measured 461 steps, so
/// "reaches the set-point within 200 steps" does not hold in this direction with the §3.5 defaults.
#[test]
fn anti_windup_from_above_flips_the_error_at_once_and_reaches_the_target_later() {
    let h = entropy(&dirichlet_65());
    let cfg = hold_cfg(Target::Ref(RefWord::Ref));
    let g = cfg.gains();
    let trace = switch_run(&cfg, 65f64.ln() + 1.0, h - 0.2);
    assert!(trace
        .measurements
        .iter()
        .all(|(_, m)| m.integral.unwrap().abs() <= g.i_max));
    let (last_high, first_low) = (
        &trace.measurements[SWITCH - 1].1,
        &trace.measurements[SWITCH].1,
    );
    assert_eq!(
        (last_high.integral, last_high.u),
        (Some(g.i_max), Some(g.u_max))
    );
    assert!(last_high.error.unwrap() > 0.0 && first_low.error.unwrap() < 0.0);
    let cross = steps_to_cross(&trace, SWITCH);
    eprintln!(
        "item 18 (from above): the entropy reaches {:.3} after {cross:?} steps",
        h - 0.2
    );
    assert!(
        cross.is_some_and(|n| n <= 600),
        "reaching the set-point took {cross:?} steps"
    );
}
