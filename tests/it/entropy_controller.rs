//! The feedback controller of spec §3.5: every sign convention (§6.5 item 19), and the filter,
//! drift and PI law with anti-windup step by step.
use lab::entropy::controller::{Actuator, Controller, ControllerConfig, Mode, RefWord, Target};

fn hold(target: f64) -> ControllerConfig {
    ControllerConfig {
        mode: Mode::Hold,
        target: Target::Value(target),
        actuator: Actuator::EntropyCoef,
        ..ControllerConfig::default()
    }
}

/// Statistic below target ⇒ e > 0 ⇒ u rises ⇒ the entropy bonus rises (and the reverse).
#[test]
fn hold_with_entropy_coef_raises_the_bonus_when_the_statistic_is_below_target() {
    let mut c = Controller::new(&hold(3.0), true);
    assert_eq!(c.entropy_coef(), 0.0);
    let mut last = c.u();
    for k in 0..5 {
        let m = c.measure(2.5, true, None);
        let e = m.error.unwrap();
        assert!((e - 0.5).abs() < 1e-12, "e = r − s̃ = 0.5, got {e}");
        let u = m.u.unwrap();
        assert!(u > last, "measurement {k}: u {u} did not rise from {last}");
        assert_eq!(c.entropy_coef(), u);
        last = u;
    }
    assert_eq!(c.lr_factor(), 1.0);
    assert_eq!(c.clip_threshold(), None);
    let mut above = Controller::new(&hold(3.0), true);
    let m = above.measure(3.4, true, None);
    assert!(m.error.unwrap() < 0.0 && m.u.unwrap() < 0.0 && above.entropy_coef() < 0.0);
}

/// Moving too fast ⇒ e < 0 ⇒ u falls ⇒ lr falls; the lr never exceeds the base.
#[test]
fn drift_with_lr_lowers_the_lr_when_the_statistic_moves_too_fast() {
    let cfg = ControllerConfig::default();
    assert_eq!((cfg.mode, cfg.actuator), (Mode::Drift, Actuator::Lr));
    let mut fast = Controller::new(&cfg, true);
    let mut slow = Controller::new(&cfg, true);
    let mut last = 0.0;
    for k in 0..30 {
        // 0.1 nats per measurement against r* = 0.005; the slow one does not move.
        let m = fast.measure(4.0 - 0.1 * k as f64, true, None);
        if k > 0 {
            assert!(m.drift > 0.005 && m.error.unwrap() < 0.0, "k {k}: {m:?}");
            assert!(m.u.unwrap() <= last, "k {k}: u {:?} rose", m.u);
            assert!(k > 1 || m.u.unwrap() < 0.0, "the first drift lowers u");
            last = m.u.unwrap();
        }
        assert!(fast.lr_factor() <= 1.0);
        let s = slow.measure(4.0, true, None);
        assert!(k == 0 || s.error.unwrap() > 0.0);
        assert!(s.u == Some(0.0) && slow.lr_factor() == 1.0);
    }
    assert!((fast.lr_factor() - last.exp()).abs() < 1e-15 && fast.lr_factor() < 1.0);
}

/// During warm-up s̃ and d̄ update but not I, and u = u0; afterwards the law runs.
#[test]
fn the_controller_is_inactive_during_warm_up() {
    let cfg = ControllerConfig {
        u0: Some(-0.5),
        ..ControllerConfig::default()
    };
    let mut c = Controller::new(&cfg, true);
    let stats = [4.0, 3.0, 2.0, 1.0];
    let mut filt = stats[0];
    let mut drift = 0.0;
    for (k, &s) in stats.iter().enumerate() {
        let m = c.measure(s, false, None);
        if k > 0 {
            let next = 0.8 * filt + 0.2 * s;
            let d = (next - filt).abs();
            // d̄_1 = d_1, then the 0.9 average.
            drift = if k == 1 { d } else { 0.9 * drift + 0.1 * d };
            filt = next;
        }
        assert!((m.stat_filt - filt).abs() < 1e-15 && (m.drift - drift).abs() < 1e-15);
        assert_eq!((m.integral, m.u), (Some(0.0), Some(-0.5)), "k {k}");
        // No drift exists at k = 0; afterwards the error is logged (and negative: too fast).
        assert_eq!(m.error.is_none(), k == 0);
        assert!(k == 0 || m.error.unwrap() < 0.0);
        assert!((c.lr_factor() - (-0.5f64).exp()).abs() < 1e-15);
    }
    let m = c.measure(0.0, true, None);
    let e = m.error.unwrap();
    assert_eq!(m.integral, Some(e));
    assert!(m.u.unwrap() < -0.5);
}

/// A disabled controller still logs s, s̃ and d̄ at every measurement; its actuator is neutral.
#[test]
fn every_measurement_is_logged_and_a_disabled_controller_only_monitors() {
    let cfg = ControllerConfig {
        actuator: Actuator::Clip,
        u0: Some(-1.0),
        clip_c0: 2.0,
        ..ControllerConfig::default()
    };
    let mut off = Controller::new(&cfg, false);
    let mut on = Controller::new(&cfg, true);
    assert!(!off.enabled() && on.enabled() && off.actuator() == Actuator::Clip);
    assert_eq!(off.clip_threshold(), None);
    assert!((on.clip_threshold().unwrap() - 2.0 * (-1.0f64).exp()).abs() < 1e-15);
    for (k, s) in [1.0, 1.5, 0.5].into_iter().enumerate() {
        let a = off.measure(s, true, None);
        let b = on.measure(s, true, None);
        assert_eq!(
            (a.stat, a.stat_filt, a.drift),
            (b.stat, b.stat_filt, b.drift)
        );
        assert_eq!(
            (a.setpoint, a.error, a.integral, a.u),
            (None, None, None, None)
        );
        assert!(b.setpoint.is_some() && b.u.is_some());
        assert_eq!(
            b.error.is_some(),
            k > 0,
            "drift mode: no error before a drift exists"
        );
    }
    assert_eq!(
        (off.u(), off.lr_factor(), off.entropy_coef()),
        (-1.0, 1.0, 0.0)
    );
    assert_eq!(off.clip_threshold(), None);
}

/// E12 step by step: I is clipped to ±I_max, then u to [u_min, u_max].
#[test]
fn the_pi_law_clips_the_integral_and_the_output() {
    let cfg = ControllerConfig {
        kp: Some(1.0),
        ki: Some(0.1),
        u_min: Some(-2.0),
        u_max: Some(2.0),
        integral_limit: Some(40.0),
        ..hold(10.0)
    };
    let mut c = Controller::new(&cfg, true);
    let m = c.measure(9.0, true, None); // e = 1, I = 1, u = 1 + 0.1
    assert_eq!((m.error, m.integral), (Some(1.0), Some(1.0)));
    assert!((m.u.unwrap() - 1.1).abs() < 1e-12);
    for _ in 0..200 {
        c.measure(0.0, true, None); // e ≈ +10 each time
    }
    assert_eq!((c.integral(), c.u()), (40.0, 2.0));
    // Far above target: e ≈ −20 takes I down by about 20 per measurement, never below −40.
    let mut seen_min = f64::INFINITY;
    for _ in 0..50 {
        let m = c.measure(100.0, true, None);
        seen_min = seen_min.min(m.integral.unwrap());
        assert!((-2.0..=2.0).contains(&m.u.unwrap()));
    }
    assert_eq!((seen_min, c.u()), (-40.0, -2.0));
}

/// Track: r_0 = s̃_0, r_k = 0.98 r_{k−1} + 0.02 s̃_k; a falling statistic leaves r above it.
#[test]
fn track_follows_the_filtered_statistic_slowly() {
    let cfg = ControllerConfig {
        mode: Mode::Track,
        actuator: Actuator::EntropyCoef,
        ..ControllerConfig::default()
    };
    let mut c = Controller::new(&cfg, true);
    let m0 = c.measure(3.0, true, None);
    assert_eq!((m0.setpoint, m0.error), (Some(3.0), Some(0.0)));
    let m1 = c.measure(2.0, true, None);
    let filt = 0.8 * 3.0 + 0.2 * 2.0;
    let r = 0.98 * 3.0 + 0.02 * filt;
    assert!((m1.setpoint.unwrap() - r).abs() < 1e-15);
    assert!((m1.error.unwrap() - (r - filt)).abs() < 1e-15);
    assert!(m1.error.unwrap() > 0.0 && c.entropy_coef() > 0.0);
}

/// Target `ref`: the set-point is h_ref; without one the law waits (error None, u = u0).
#[test]
fn hold_with_ref_uses_h_ref_and_waits_without_it() {
    let cfg = ControllerConfig {
        target: Target::Ref(RefWord::Ref),
        ..hold(0.0)
    };
    let mut c = Controller::new(&cfg, true);
    let m = c.measure(2.0, true, None);
    assert_eq!(
        (m.setpoint, m.error, m.integral, m.u),
        (None, None, Some(0.0), Some(0.0))
    );
    let m = c.measure(2.0, true, Some(2.5));
    assert_eq!(m.setpoint, Some(2.5));
    assert!((m.error.unwrap() - 0.5).abs() < 1e-12 && m.u.unwrap() > 0.0);
}

/// A NaN statistic is logged but moves nothing.
#[test]
fn a_non_finite_statistic_changes_no_state() {
    let mut c = Controller::new(&hold(3.0), true);
    let a = c.measure(2.0, true, None);
    let b = c.measure(f64::NAN, true, None);
    assert!(b.stat.is_nan() && b.error.is_none());
    assert_eq!(
        (b.stat_filt, b.integral, b.u),
        (a.stat_filt, a.integral, a.u)
    );
    let mut fresh = Controller::new(&hold(3.0), true);
    let m = fresh.measure(f64::INFINITY, true, None);
    assert!(m.stat_filt.is_nan() && m.setpoint.is_none() && m.u == Some(0.0));
}
