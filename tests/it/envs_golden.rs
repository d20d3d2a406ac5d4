//! Spec §6.7 golden steps (f64 arithmetic, tolerance 1e-12), boundary flags, time limits and
//! reset ranges of the classic environments.
use lab::rl::classic::{Acrobot, CartPole, MountainCar, MountainCarContinuous, Pendulum};
use lab::rl::{make, make_raw as raw, Action, Env, EnvOptions, Precision, ENV_IDS};

const TOL: f64 = 1e-12;

fn close(got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= TOL * w.abs().max(1.0),
            "{got:?} vs {want:?}"
        );
    }
}

fn step_from(env: &mut dyn Env, state: &[f64], action: Action) -> (Vec<f64>, f64, bool) {
    let mut obs = vec![0.0f32; env.obs_dim()];
    env.set_state(state, &mut obs).expect("state");
    let t = env.step(action, &mut obs);
    (env.state(), t.reward, t.terminated)
}

#[test]
fn cartpole_golden_steps() {
    let mut env = CartPole::default();
    let (s, r, term) = step_from(&mut env, &[0.0, 0.0, 0.05, 0.0], Action::Discrete(1));
    close(&s, &[0.0, 0.194370546605301, 0.05, -0.2764975752871551]);
    assert_eq!((r, term), (1.0, false));
    let (s, _, _) = step_from(&mut env, &[0.01, -0.02, 0.03, 0.04], Action::Discrete(0));
    close(
        &s,
        &[0.0096, -0.21553901710278936, 0.0308, 0.34199522377603914],
    );
}

#[test]
fn cartpole_terminates_past_the_bounds_and_still_pays() {
    let mut env = CartPole::default();
    let (_, r, term) = step_from(&mut env, &[2.39, 1.0, 0.0, 0.0], Action::Discrete(1));
    assert!(term && r == 1.0);
    let (_, _, term) = step_from(&mut env, &[0.0, 0.0, 0.209, 0.1], Action::Discrete(1));
    assert!(term, "θ = 0.211 > 12° ≈ 0.20944");
    let (_, _, term) = step_from(&mut env, &[0.0, 0.0, 0.2, 0.0], Action::Discrete(1));
    assert!(!term, "θ = 0.2 < 12°");
}

#[test]
fn pendulum_golden_steps() {
    let mut env = Pendulum::new(Precision::F64);
    let mut obs = [0.0f32; 3];
    env.set_state(&[1.0, 0.5], &mut obs).expect("state");
    let t = env.step(Action::Continuous(&[1.5]), &mut obs);
    close(&env.state(), &[1.0678051619302962, 1.3561032386059226]);
    close(&[t.reward], &[-1.02725]);
    let want = [0.48204838409011624, 0.8761445973103457, 1.3561032386059226];
    assert_eq!(obs, want.map(|w| w as f32));
    let (s, r, term) = step_from(&mut env, &[4.0, -7.9], Action::Continuous(&[-3.0]));
    close(&s, &[3.6, -8.0]);
    close(&[r], &[-11.457935146920741]);
    assert!(!term);
}

#[test]
fn acrobot_golden_steps() {
    let mut env = Acrobot::new(Precision::F64);
    let (s, r, term) = step_from(&mut env, &[0.1, -0.1, 0.0, 0.0], Action::Discrete(2));
    close(
        &s,
        &[
            0.07280634729926802,
            -0.04632044590829747,
            -0.2645150525108054,
            0.5229768692223342,
        ],
    );
    assert_eq!((r, term), (-1.0, false));
    let (s, _, _) = step_from(&mut env, &[0.05, 0.02, -0.03, 0.04], Action::Discrete(0));
    close(
        &s,
        &[
            0.051861812023033256,
            -0.004220749794200739,
            0.04734690602983235,
            -0.27744505837321215,
        ],
    );
}

#[test]
fn acrobot_terminal_step_pays_zero_and_velocities_are_clamped() {
    let mut env = Acrobot::new(Precision::F64);
    // Both links nearly up: -cos θ1 - cos(θ1+θ2) ≈ 2 > 1.
    let (_, r, term) = step_from(&mut env, &[3.1, 0.0, 0.0, 0.0], Action::Discrete(1));
    assert!(term && r == 0.0);
    let (s, _, _) = step_from(&mut env, &[0.0, 0.0, 50.0, -50.0], Action::Discrete(1));
    assert!(s[2].abs() <= 4.0 * std::f64::consts::PI && s[3].abs() <= 9.0 * std::f64::consts::PI);
    assert!(s[0].abs() <= std::f64::consts::PI && s[1].abs() <= std::f64::consts::PI);
}

#[test]
fn mountain_car_golden_steps() {
    let mut env = MountainCar::default();
    let (s, r, _) = step_from(&mut env, &[-0.5, 0.0], Action::Discrete(2));
    close(&s, &[-0.49917684300416926, 0.0008231569958307428]);
    assert_eq!(r, -1.0);
    let (s, _, _) = step_from(&mut env, &[-1.19, -0.02], Action::Discrete(0));
    assert_eq!(s, vec![-1.2, 0.0], "wall rule");
    let (_, _, term) = step_from(&mut env, &[0.49, 0.02], Action::Discrete(1));
    assert!(term);
}

#[test]
fn mountain_car_continuous_golden_steps() {
    let mut env = MountainCarContinuous::new(Precision::F64);
    let (s, r, term) = step_from(&mut env, &[-0.5, 0.0], Action::Continuous(&[0.7]));
    close(&s, &[-0.49912684300416926, 0.0008731569958307427]);
    close(&[r], &[-0.049]);
    assert!(!term);
    let (s, r, term) = step_from(&mut env, &[0.44, 0.02], Action::Continuous(&[2.0]));
    close(&s, &[0.46087956137086905, 0.02087956137086907]);
    close(&[r], &[99.6]);
    assert!(term);
}

#[test]
fn time_limits_truncate_at_the_cap_and_can_coincide_with_termination() {
    for (id, cap) in ENV_IDS {
        let env = make(id, &EnvOptions::default()).expect("make");
        assert_eq!(env.max_episode_steps(), cap, "{id}");
    }
    let opts = EnvOptions {
        max_episode_steps: Some(3),
        precision: Precision::Gymnasium,
        ..EnvOptions::default()
    };
    let mut env = make("Pendulum-v1", &opts).expect("make");
    let mut obs = [0.0f32; 3];
    env.reset(Some(1), &mut obs);
    let flags: Vec<bool> = (0..3)
        .map(|_| env.step(Action::Continuous(&[0.0]), &mut obs).truncated)
        .collect();
    assert_eq!(flags, [false, false, true]);
    // A terminating step at the cap reports both flags.
    let mut env = make(
        "CartPole-v1",
        &EnvOptions {
            max_episode_steps: Some(1),
            ..opts
        },
    )
    .expect("make");
    let mut obs = [0.0f32; 4];
    env.set_state(&[2.39, 1.0, 0.0, 0.0], &mut obs)
        .expect("state");
    let t = env.step(Action::Discrete(1), &mut obs);
    assert!(t.terminated && t.truncated);
}

#[test]
fn unknown_env_ids_and_zero_caps_are_usage_errors() {
    let err = make("CartPole-v9", &EnvOptions::default())
        .err()
        .expect("unknown id");
    assert!(
        format!("{err}").contains("CartPole-v1"),
        "lists known ids: {err}"
    );
    assert_eq!(lab::error::exit_code(&err), 2);
    let zero = EnvOptions {
        max_episode_steps: Some(0),
        ..EnvOptions::default()
    };
    let err = make("CartPole-v1", &zero).err().expect("zero cap");
    assert!(
        format!("{err}").contains("max_episode_steps must be at least 1"),
        "{err}"
    );
    assert_eq!(lab::error::exit_code(&err), 2);
}

/// 10⁴ resets stay inside Gymnasium's intervals (spec §6.7).
#[test]
fn resets_stay_in_range() {
    let ranges: [(&str, &[(f64, f64)]); 5] = [
        ("CartPole-v1", &[(-0.05, 0.05); 4]),
        ("Acrobot-v1", &[(-0.1, 0.1); 4]),
        (
            "Pendulum-v1",
            &[(-std::f64::consts::PI, std::f64::consts::PI), (-1.0, 1.0)],
        ),
        ("MountainCar-v0", &[(-0.6, -0.4), (0.0, 0.0)]),
        ("MountainCarContinuous-v0", &[(-0.6, -0.4), (0.0, 0.0)]),
    ];
    for (id, bounds) in ranges {
        let mut env = raw(id, Precision::Gymnasium).expect("make");
        let mut obs = vec![0.0f32; env.obs_dim()];
        env.reset(Some(7), &mut obs);
        let first = env.state();
        for _ in 0..10_000 {
            env.reset(None, &mut obs);
            assert_eq!(env.state().len(), bounds.len(), "{id}: state length");
            for (x, (lo, hi)) in env.state().iter().zip(bounds) {
                assert!(lo <= x && x <= hi, "{id}: {x} outside [{lo}, {hi}]");
            }
        }
        env.reset(Some(7), &mut obs);
        assert_eq!(env.state(), first, "{id}: reset(seed) is reproducible");
    }
}
