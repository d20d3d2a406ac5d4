//! PrefixRL toy theory tests T1–T6 (spec §4.2, §7.10 item 11), plus finite-difference checks of
//! the lock's exact gradients and the enumeration against closed forms.
use lab::prefixrl::toy::lock::{Cuts, Lock};
use lab::prefixrl::toy::{run, toy_rows, ToyResult, ToyTest, INFO, TOY_COLUMNS};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn results(test: ToyTest, quick: bool) -> Vec<ToyResult> {
    run(test, quick).unwrap_or_else(|e| panic!("{test:?} runs: {e:#}"))
}

fn value(rows: &[ToyResult], quantity: &str) -> f64 {
    rows.iter()
        .find(|r| r.quantity == quantity)
        .unwrap_or_else(|| panic!("no row {quantity} in {rows:#?}"))
        .value
}

/// Every checked row passed (and there is at least one).
fn assert_checks_pass(rows: &[ToyResult]) {
    let checked: Vec<_> = rows.iter().filter(|r| r.expected != INFO).collect();
    assert!(!checked.is_empty(), "no checked rows in {rows:#?}");
    for r in checked {
        assert!(
            r.passed,
            "{:?} {} = {} (expected {})\nall rows: {rows:#?}",
            r.test, r.quantity, r.value, r.expected
        );
    }
}

#[test]
fn t1_consistency_every_alpha_below_one_reaches_j_099() {
    let rows = results(ToyTest::T1, true);
    assert_checks_pass(&rows);
    for alpha in ["0.25", "0.5", "0.75"] {
        assert!(value(&rows, &format!("j_final_alpha_{alpha}")) >= 0.99);
    }
}

#[test]
fn t2_alpha_one_never_moves_the_root_and_j_stays_below_one_over_b() {
    let rows = results(ToyTest::T2, true);
    assert_checks_pass(&rows);
    assert_eq!(value(&rows, "max_root_logit_change"), 0.0);
    assert!(value(&rows, "max_j") <= 0.5 + 1e-12);
    // The prefixed objective itself was learned: the test is not vacuous.
    assert!(value(&rows, "j_pre_final") > 0.9, "{rows:#?}");
}

#[test]
fn t3_kl_of_rejection_sampling_is_log_inverse_pass_rate() {
    let rows = results(ToyTest::T3, true);
    assert_checks_pass(&rows);
    assert!((value(&rows, "kl_b2_h6") - 6.0 * 2f64.ln()).abs() <= 1e-9);
}

#[test]
fn t3_kl_identity_holds_for_a_random_policy_and_a_larger_correct_set() {
    let lock = Lock::new(3, 4).unwrap();
    let logits = random_logits(&lock, 11);
    let correct = |leaf: &[usize]| leaf[0] == 1 || leaf[3] == 2 && leaf[1] != 0;
    let mut p_c = 0.0;
    lock.walk(&logits, &[], &mut |leaf| {
        if correct(leaf.actions) {
            p_c += leaf.prob;
        }
    });
    let kl = lock.kl_conditioned(&logits, &correct).unwrap();
    assert!(p_c > 0.0 && p_c < 1.0);
    assert!(
        (kl - (1.0 / p_c).ln()).abs() < 1e-12,
        "kl {kl} vs log 1/p {}",
        (1.0 / p_c).ln()
    );
}

/// The full T4 (H ∈ {4..7}, 5 seeds; about 1 s in release).
#[test]
fn t4_prefixrl_separates_from_standard_rl() {
    let rows = results(ToyTest::T4, false);
    assert_checks_pass(&rows);
    let count = |kind: &str| -> Vec<f64> {
        (4..=7)
            .map(|h| value(&rows, &format!("{kind}_episodes_h{h}")))
            .collect()
    };
    let (standard, prefix) = (count("standard"), count("prefixrl"));
    assert!(
        standard[3] / standard[0] > prefix[3] / prefix[0],
        "{standard:?} vs {prefix:?}"
    );
    assert!(
        standard.windows(2).all(|w| w[1] > w[0]),
        "standard RL gets harder with H: {standard:?}"
    );
    assert!(value(&rows, "ratio_h7") >= 5.0, "{rows:#?}");
}

/// The quick variant's own check (ratio ≥ 3 at H = 6) holds too.
#[test]
fn t4_quick_variant_passes() {
    let rows = results(ToyTest::T4, true);
    assert_checks_pass(&rows);
    assert!(value(&rows, "ratio_h6") >= 3.0, "{rows:#?}");
}

#[test]
fn t4_is_deterministic() {
    let a = toy_rows(&results(ToyTest::T4, true));
    let b = toy_rows(&results(ToyTest::T4, true));
    assert_eq!(a, b);
}

#[test]
fn t5_mixture_maximizer_trades_j_away_without_realizability() {
    let rows = results(ToyTest::T5, true);
    assert_checks_pass(&rows);
    assert!(value(&rows, "j_at_argmax_l_half") < 0.05);
    assert!(value(&rows, "theta_argmax_l_half") < -5.0);
}

#[test]
fn t5_closed_forms_match_the_enumeration() {
    use lab::prefixrl::toy::counter::{j, j_pre, l_alpha, sigmoid};
    for theta in [-3.0, -0.4, 0.0, 1.7] {
        let s = sigmoid(theta);
        assert!((j(theta) - s * (1.0 - s)).abs() < 1e-15);
        assert!((j_pre(theta) - (1.0 - s)).abs() < 1e-15);
        assert!((2.0 * l_alpha(theta, 0.5) - (1.0 - s * s)).abs() < 1e-15);
    }
}

#[test]
fn t6_back_generalization_needs_the_shared_weight() {
    let rows = results(ToyTest::T6, true);
    assert_checks_pass(&rows);
    assert!(value(&rows, "steps_to_fresh_j_above_half") <= 105.0);
    assert!(value(&rows, "control_max_abs_fresh_j_minus_b^-h") <= 1e-15);
}

fn random_logits(lock: &Lock, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..lock.n_logits())
        .map(|_| rng.gen_range(-1.5..1.5))
        .collect()
}

/// Central differences of `f` at `x`, step 1e-6.
fn fd_grad(x: &[f64], f: &dyn Fn(&[f64]) -> f64) -> Vec<f64> {
    let eps = 1e-6;
    (0..x.len())
        .map(|i| {
            let (mut up, mut down) = (x.to_vec(), x.to_vec());
            up[i] += eps;
            down[i] -= eps;
            (f(&up) - f(&down)) / (2.0 * eps)
        })
        .collect()
}

fn assert_close(exact: &[f64], fd: &[f64], what: &str) {
    assert_eq!(exact.len(), fd.len());
    for (i, (e, f)) in exact.iter().zip(fd).enumerate() {
        assert!(
            (e - f).abs() < 1e-8,
            "{what}: d/dlogit[{i}] exact {e} vs finite difference {f}"
        );
    }
}

#[test]
fn exact_gradients_of_j_and_j_pre_match_finite_differences() {
    let lock = Lock::with_target(vec![1, 0, 1], 2).unwrap();
    for seed in 0..3 {
        let x = random_logits(&lock, seed);
        let j = lock.j(&x);
        assert!(j.grad.iter().any(|g| g.abs() > 1e-3));
        assert_close(&j.grad, &fd_grad(&x, &|l| lock.j(l).value), "J");
        for h in 1..3 {
            let e = lock.j_cut(&x, h);
            assert_close(
                &e.grad,
                &fd_grad(&x, &|l| lock.j_cut(l, h).value),
                &format!("J_{h}"),
            );
        }
        let cuts = Cuts::all(3).unwrap();
        let pre = lock.j_pre(&x, &cuts);
        assert_close(
            &pre.grad,
            &fd_grad(&x, &|l| lock.j_pre(l, &cuts).value),
            "J_pre",
        );
        let (_, _, g) = lock.l_alpha(&x, 0.3, &cuts);
        let l = |l: &[f64]| 0.3 * lock.j_pre(l, &cuts).value + 0.7 * lock.j(l).value;
        assert_close(&g, &fd_grad(&x, &l), "L_0.3");
    }
}

#[test]
fn enumerated_j_equals_the_product_along_the_target() {
    let lock = Lock::new(3, 5).unwrap();
    let x = random_logits(&lock, 5);
    let mut total = 0.0;
    lock.walk(&x, &[], &mut |leaf| total += leaf.prob);
    assert!(
        (total - 1.0).abs() < 1e-12,
        "leaf probabilities sum to {total}"
    );
    assert!((lock.j(&x).value - lock.j_along_target(&x)).abs() < 1e-15);
}

#[test]
fn bad_lock_shapes_and_cuts_are_usage_errors() {
    let err = Lock::new(4, 8).unwrap_err();
    assert!(
        lab::error::exit_code(&err) == 2 && err.to_string().contains("2^14"),
        "{err}"
    );
    assert!(Lock::new(4, 7).is_ok());
    assert!(Lock::new(1, 3).is_err());
    assert!(Cuts::uniform(&[0, 1], 3)
        .unwrap_err()
        .to_string()
        .contains("cut point 0"));
    assert!(Cuts::uniform(&[3], 3).is_err());
    assert!(Cuts::uniform(&[], 3).is_err());
    let t: Result<ToyTest, _> = "t9".parse();
    assert!(t.is_err());
    assert_eq!("t4".parse::<ToyTest>().unwrap(), ToyTest::T4);
}

#[test]
fn toy_rows_have_the_csv_columns() {
    let rows = toy_rows(&results(ToyTest::T5, true));
    assert_eq!(TOY_COLUMNS.len(), 5);
    assert_eq!(rows.len(), 3);
    assert!(rows
        .iter()
        .all(|r| r[0] == "T5" && (r[4] == "true" || r[4] == "false")));
    assert!(rows.iter().all(|r| r[2].parse::<f64>().is_ok()));
}
