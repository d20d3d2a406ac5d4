//! The controller's config (spec §3.5, §7.2): per-actuator default gains, one problem per bad
//! key from `problems`, and the YAML block of §7.2.
use lab::entropy::controller::{Actuator, ControllerConfig, Mode, RefWord, Statistic, Target};

fn hold(target: f64) -> ControllerConfig {
    ControllerConfig {
        mode: Mode::Hold,
        target: Target::Value(target),
        actuator: Actuator::EntropyCoef,
        ..ControllerConfig::default()
    }
}

#[test]
fn default_gains_follow_the_actuator_table() {
    let g = |a| {
        ControllerConfig {
            actuator: a,
            ..ControllerConfig::default()
        }
        .gains()
    };
    let lr = g(Actuator::Lr);
    assert_eq!(
        (lr.kp, lr.ki, lr.i_max, lr.u0, lr.u_max),
        (0.2, 0.02, 400.0, 0.0, 0.0)
    );
    assert!((lr.u_min - 1e-3f64.ln()).abs() < 1e-15);
    let ec = g(Actuator::EntropyCoef);
    assert_eq!(
        (ec.kp, ec.ki, ec.i_max, ec.u_min, ec.u_max),
        (0.5, 0.05, 200.0, -5.0, 5.0)
    );
    let clip = g(Actuator::Clip);
    assert_eq!((clip.kp, clip.ki, clip.i_max), (0.2, 0.02, 400.0));
    assert!((clip.u_min - 1e-2f64.ln()).abs() < 1e-15);
    for a in [Actuator::Lr, Actuator::EntropyCoef, Actuator::Clip] {
        let cfg = ControllerConfig {
            actuator: a,
            ..ControllerConfig::default()
        };
        assert_eq!(cfg.problems("controller"), Vec::<String>::new(), "{a:?}");
    }
    let over = ControllerConfig {
        kp: Some(1.5),
        integral_limit: Some(1000.0),
        ..ControllerConfig::default()
    };
    assert_eq!(
        (over.gains().kp, over.gains().i_max, over.gains().ki),
        (1.5, 1000.0, 0.02)
    );
}

/// One problem per bad key, each naming it; anti-windup says why and the smallest value.
#[test]
fn problems_name_each_bad_key() {
    let check = |cfg: ControllerConfig, key: &str, words: &[&str]| {
        let p = cfg.problems("controller");
        assert_eq!(p.len(), 1, "{key}: {p:?}");
        assert!(p[0].starts_with(&format!("controller.{key}: ")), "{p:?}");
        for w in words {
            assert!(p[0].contains(w), "{key}: `{w}` missing from {}", p[0]);
        }
    };
    let d = ControllerConfig::default;
    check(
        ControllerConfig {
            integral_limit: Some(300.0),
            ..d()
        },
        "integral_limit",
        &[
            "(u_max - u_min) / ki",
            "345.387",
            "whole output range",
            "got 300",
        ],
    );
    check(
        ControllerConfig {
            ki: Some(0.01),
            ..d()
        },
        "integral_limit",
        &["690.77"],
    );
    check(ControllerConfig { every: 0, ..d() }, "every", &[">= 1"]);
    let mut p = d();
    p.probe.len = 0;
    check(p, "probe.len", &[">= 1, got 0"]);
    let mut p = d();
    p.probe.prompts = 0;
    check(p, "probe.prompts", &[">= 1"]);
    let mut p = d();
    p.probe.prompt_len = 0;
    check(p, "probe.prompt_len", &[">= 1"]);
    let mut p = d();
    p.probe.temperature = -1.0;
    check(
        p,
        "probe.temperature",
        &["0 (greedy) or at least 0.001", "got -1"],
    );
    check(
        ControllerConfig {
            filter_beta: 1.0,
            ..d()
        },
        "filter_beta",
        &["[0, 1)"],
    );
    check(
        ControllerConfig {
            filter_beta: -0.1,
            ..d()
        },
        "filter_beta",
        &["[0, 1)"],
    );
    check(
        ControllerConfig {
            u0: Some(0.5),
            ..d()
        },
        "u0",
        &["[u_min, u_max]", "got 0.5"],
    );
    check(
        ControllerConfig {
            kp: Some(-0.1),
            ..d()
        },
        "kp",
        &[">= 0"],
    );
    check(
        ControllerConfig {
            kp: Some(f64::NAN),
            ..d()
        },
        "kp",
        &[">= 0"],
    );
    check(
        ControllerConfig {
            ki: Some(0.0),
            ..d()
        },
        "ki",
        &["> 0"],
    );
    check(
        ControllerConfig {
            u_max: Some(f64::INFINITY),
            ..d()
        },
        "u_max",
        &["finite"],
    );
    check(
        ControllerConfig {
            target: Target::Value(0.0),
            ..d()
        },
        "target",
        &["drift", "> 0"],
    );
    let refw = Target::Ref(RefWord::Ref);
    check(
        ControllerConfig {
            target: refw,
            ..d()
        },
        "target",
        &["`hold` only", "`drift`"],
    );
    let track = ControllerConfig {
        mode: Mode::Track,
        target: refw,
        ..d()
    };
    check(track, "target", &["`track` needs a number"]);
    check(
        ControllerConfig {
            clip_c0: 0.0,
            ..d()
        },
        "clip_c0",
        &["> 0"],
    );
    let swapped = ControllerConfig {
        u_min: Some(1.0),
        u_max: Some(-1.0),
        u0: Some(0.0),
        integral_limit: Some(1e9),
        ..d()
    };
    let p = swapped.problems("c");
    assert!(
        p.iter().any(|s| s.starts_with("c.u_max: must be >= u_min")),
        "{p:?}"
    );
    assert!(hold(f64::NAN)
        .problems("c")
        .iter()
        .any(|s| s.starts_with("c.target:")));
    let ok = ControllerConfig {
        target: refw,
        ..hold(0.0)
    };
    assert!(ok.problems("c").is_empty());
}

#[test]
fn the_spec_yaml_block_parses_and_bad_values_are_refused() {
    let yaml = r#"
statistic: fr_entropy
mode: drift
target: 0.005
actuator: lr
every: 10
probe: {prompts: 8, prompt_len: 16, len: 32, temperature: 1.0, seed: 1234}
filter_beta: 0.8
kp: 0.2
ki: 0.02
u0: 0.0
u_min: -6.907755
u_max: 0.0
integral_limit: 400
"#;
    let cfg: ControllerConfig = serde_yaml_ng::from_str(yaml).unwrap();
    let want = ControllerConfig {
        kp: Some(0.2),
        ki: Some(0.02),
        u0: Some(0.0),
        u_min: Some(-6.907755),
        u_max: Some(0.0),
        integral_limit: Some(400.0),
        ..ControllerConfig::default()
    };
    assert_eq!(cfg, want);
    assert!(cfg.problems("controller").is_empty());
    let h: ControllerConfig = serde_yaml_ng::from_str(
        "{mode: hold, target: ref, actuator: entropy_coef, statistic: top1_mass}",
    )
    .unwrap();
    assert_eq!(
        (h.target, h.statistic),
        (Target::Ref(RefWord::Ref), Statistic::Top1Mass)
    );
    assert_eq!(h.gains().kp, 0.5);
    let t: ControllerConfig = serde_yaml_ng::from_str("target: 3").unwrap();
    assert_eq!(t.target, Target::Value(3.0));
    let back: ControllerConfig =
        serde_yaml_ng::from_str(&serde_yaml_ng::to_string(&h).unwrap()).unwrap();
    assert_eq!(back, h);
    let err = serde_yaml_ng::from_str::<ControllerConfig>("target: high").unwrap_err();
    assert!(
        err.to_string().contains("a number or the string \"ref\""),
        "{err}"
    );
    assert!(serde_yaml_ng::from_str::<ControllerConfig>("gain: 1").is_err());
    assert!(serde_yaml_ng::from_str::<ControllerConfig>("probe: {len: 3, x: 1}").is_err());
    assert!(serde_yaml_ng::from_str::<ControllerConfig>("mode: hover").is_err());
}
