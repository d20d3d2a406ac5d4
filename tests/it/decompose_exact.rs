//! Exact small cases of spec §7.1, the degenerate example of §1.5 and the bad inputs of §7.4.
use crate::decompose_common::*;
use lab::decompose::config::{Method, SubspaceSpec};
use lab::decompose::nondegen::{self, Certificate};
use lab::decompose::structures::{self, Subspace};
use lab::decompose::subspace::Basis;
use lab::error::exit_code;
use ndarray::{array, Array2};

fn assert_close(x: &Array2<f64>, y: &Array2<f64>, tol: f64, what: &str) {
    let e = rel(x, y);
    assert!(e <= tol, "{what}: relative error {e:e}\ngot {x}\nwant {y}");
}

#[test]
fn l_zero_gives_the_inverse_with_zero_iterations() {
    let a = random_a(5, &mut rng(1));
    let sub = Subspace::from_pairs(5, &[], true).unwrap();
    for method in [Method::Auto, Method::Newton, Method::NewtonCg] {
        let out = run(&a, &sub, method).unwrap();
        assert_close(&out.b, &inv(&a), 1e-12, "B = A^-1");
        assert_eq!(fro(&out.c), 0.0);
        assert_eq!(out.iterations, 0);
    }
}

#[test]
fn one_by_one() {
    let a = array![[4.0]];
    let out = run(
        &a,
        &Subspace::from_pairs(1, &[], true).unwrap(),
        Method::Auto,
    )
    .unwrap();
    assert!((out.b[[0, 0]] - 0.25).abs() < 1e-15);
    let whole = Subspace::from_elements(1, vec![vec![(0, 0, 1.0)]], true);
    let err = run(&a, &whole, Method::Newton).unwrap_err();
    assert!(format!("{err}").contains("nondegeneracy violated"), "{err}");
    assert_eq!(exit_code(&err), 2);
}

#[test]
fn two_by_two_closed_form_every_solver() {
    let a = array![[3.0, 1.0], [1.0, 2.0]];
    let sub = Subspace::from_elements(2, vec![vec![(0, 0, 1.0), (1, 1, -1.0)]], true);
    let b_want = array![[10.0, -4.0], [-4.0, 10.0]] / 21.0;
    let c_want = array![[0.5, 0.0], [0.0, -0.5]];
    for method in ITERATIVE {
        let out = run(&a, &sub, method).unwrap();
        assert_close(&out.b, &b_want, 1e-10, &format!("{method:?} B"));
        assert_close(&out.c, &c_want, 1e-10, &format!("{method:?} C"));
    }
}

/// §7.1.4: the 3×3 worked example of §1.2.
#[test]
fn three_by_three_worked_example_every_solver() {
    let a = array![[4.0, 1.0, 1.0], [1.0, 3.0, 1.0], [1.0, 1.0, 2.0]];
    let sub = Subspace::from_pairs(3, &[[0, 2]], true).unwrap();
    let b_want = array![
        [3.0 / 11.0, -1.0 / 11.0, 0.0],
        [-1.0 / 11.0, 71.0 / 165.0, -0.2],
        [0.0, -0.2, 0.6]
    ];
    let c_want = pair_matrix(3, 0, 2) * (2.0 / 3.0);
    for method in ITERATIVE {
        let out = run(&a, &sub, method).unwrap();
        assert_close(&out.b, &b_want, 1e-10, &format!("{method:?} B"));
        assert_close(&out.c, &c_want, 1e-10, &format!("{method:?} C"));
        let m = inv(&out.b);
        assert!((m[[0, 2]] - 1.0 / 3.0).abs() < 1e-10, "(B^-1)_13 = 1/3");
        assert!(
            (ln_det(&m) - (55.0f64 / 3.0).ln()).abs() < 1e-10,
            "det B^-1 = 55/3"
        );
    }
}

#[test]
fn trace_zero_and_zero_diagonal_closed_forms() {
    let a = array![[4.0, 1.0, 1.0], [1.0, 3.0, 1.0], [1.0, 1.0, 2.0]];
    let mut r = rng(0);
    for method in [Method::ClosedForm, Method::Newton, Method::DualNewton] {
        let tz = structures::build(&SubspaceSpec::TraceZero {}, 3, true, &mut r).unwrap();
        let out = run(&a, &tz, method).unwrap();
        assert_close(&out.b, &(Array2::eye(3) / 3.0), 1e-10, "trace-zero B = I/3");
        assert_close(
            &out.c,
            &(&a - &(Array2::<f64>::eye(3) * 3.0)),
            1e-10,
            "C = A - 3I",
        );
        let od = structures::build(&SubspaceSpec::Offdiag {}, 3, true, &mut r).unwrap();
        let out = run(&a, &od, method).unwrap();
        let want = Array2::from_diag(&array![0.25, 1.0 / 3.0, 0.5]);
        assert_close(&out.b, &want, 1e-10, "zero-diagonal B = diag(1/A_ii)");
    }
}

/// §7.1.6: every closed form equals primal Newton from x = 0 (n = 7..12).
#[test]
fn closed_forms_match_newton() {
    let specs = vec![
        (7, SubspaceSpec::Offdiag {}),
        (
            7,
            SubspaceSpec::BlockOffdiag {
                sizes: vec![3, 2, 2],
            },
        ),
        (9, SubspaceSpec::BandComplement { bandwidth: 1 }),
        (12, SubspaceSpec::BandComplement { bandwidth: 2 }),
        (8, SubspaceSpec::TraceZero {}),
    ];
    for (seed, (n, spec)) in specs.into_iter().enumerate() {
        let mut r = rng(seed as u64);
        let a = random_a(n, &mut r);
        let sub = structures::build(&spec, n, true, &mut r).unwrap();
        let exact = run(&a, &sub, Method::ClosedForm).unwrap();
        let newton = run(&a, &sub, Method::Newton).unwrap();
        assert_close(&newton.b, &exact.b, 1e-9, &format!("{spec:?} B"));
        assert_close(&newton.c, &exact.c, 1e-9, &format!("{spec:?} C"));
    }
}

/// §3.9.3: L^⊥ = span{E₀} with E₀ random SPD.
#[test]
fn span_of_one_pd_matrix() {
    let mut r = rng(5);
    let a = random_a(6, &mut r);
    let e0 = random_a(6, &mut r);
    let sub = Subspace::from_perp(6, vec![sparse(&e0)], true);
    let exact = run(&a, &sub, Method::ClosedForm).unwrap();
    let want = &e0 * (6.0 / (&a * &e0).sum());
    assert_close(&exact.b, &want, 1e-12, "B = n E0 / tr(A E0)");
    for method in ITERATIVE {
        let out = run(&a, &sub, method).unwrap();
        assert_close(&out.b, &want, 1e-9, &format!("{method:?}"));
    }
}

/// A valid degeneracy certificate: unit norm, PSD, inside span(ds).
fn assert_psd_in_l(psd: &Array2<f64>, min: f64, ds: &[Array2<f64>]) {
    assert!((fro(psd) - 1.0).abs() < 1e-9, "unit norm: {psd}");
    assert!(min > -1e-6 && min_eig(psd) > -1e-6, "PSD: {psd}");
    assert!(in_span(psd, ds) < 1e-9, "in L: {psd}");
}

/// §1.5's example: L = span{diag(1, −1, 0), diag(0, 2, 0)}. (The spec calls both generators
/// indefinite, but diag(0, 2, 0) is PSD, so stage 3 already catches it.)
#[test]
fn degenerate_example_of_the_spec_is_caught() {
    let elems = vec![vec![(0, 0, 1.0), (1, 1, -1.0)], vec![(1, 1, 2.0)]];
    let ds: Vec<Array2<f64>> = vec![
        Array2::from_diag(&array![1.0, -1.0, 0.0]),
        Array2::from_diag(&array![0.0, 2.0, 0.0]),
    ];
    let basis = Basis::new(3, elems.clone(), true).unwrap();
    match nondegen::check(&basis, None, &opts(Method::Newton)).unwrap() {
        Certificate::Degenerate { psd, min_eig, .. } => assert_psd_in_l(&psd, min_eig, &ds),
        other => panic!("expected a degeneracy certificate, got {other:?}"),
    }
    let a = random_a(3, &mut rng(2));
    let sub = Subspace::from_elements(3, elems, true);
    let err = run(&a, &sub, Method::Newton).unwrap_err();
    let msg = format!("{err}");
    assert!(
        msg.contains("nondegeneracy violated") && msg.contains("1.0000"),
        "{msg}"
    );
    assert_eq!(exit_code(&err), 2);
}

/// Both generators indefinite, their sum diag(1, 1, 0) PSD: only the exact stage (phase-I
/// divergence) or the runtime divergence test can see it (§1.5 stages 4–5).
#[test]
fn degeneracy_missed_by_the_element_test_is_caught() {
    let elems = vec![
        vec![(0, 0, 2.0), (1, 1, -1.0)],
        vec![(0, 0, -1.0), (1, 1, 2.0)],
    ];
    let ds: Vec<Array2<f64>> = vec![
        Array2::from_diag(&array![2.0, -1.0, 0.0]),
        Array2::from_diag(&array![-1.0, 2.0, 0.0]),
    ];
    let basis = Basis::new(3, elems.clone(), true).unwrap();
    match nondegen::check(&basis, None, &opts(Method::Newton)).unwrap() {
        Certificate::Degenerate {
            psd,
            min_eig,
            stage,
            ..
        } => {
            assert_eq!(stage, "phase-I divergence");
            assert_psd_in_l(&psd, min_eig, &ds);
        }
        other => panic!("expected a degeneracy certificate, got {other:?}"),
    }
    let a = random_a(3, &mut rng(2));
    let err = run(&a, &Subspace::from_elements(3, elems, true), Method::Newton).unwrap_err();
    assert!(format!("{err}").contains("nondegeneracy violated"), "{err}");
}

#[test]
fn nondegenerate_certificate_is_pd_and_orthogonal() {
    // Not trace-free, so stage 1 does not apply.
    let elems = vec![vec![(0, 0, 2.0), (1, 1, -1.0)], vec![(0, 1, 1.0)]];
    let basis = Basis::new(3, elems, true).unwrap();
    match nondegen::check(&basis, None, &opts(Method::Newton)).unwrap() {
        Certificate::Nondegenerate { b0, margin, .. } => {
            assert!(min_eig(&b0) > 0.0 && margin > 0.0);
            for k in 0..basis.len() {
                assert!((&b0 * &basis.dense(k)).sum().abs() < 1e-12);
            }
        }
        other => panic!("expected (ND) to hold, got {other:?}"),
    }
}

#[test]
fn psd_elements_in_l_are_rejected() {
    let a = random_a(3, &mut rng(3));
    let cases = vec![
        vec![vec![(1, 1, 1.0)]],                                       // E_22
        vec![vec![(0, 0, 1.0), (1, 1, 1.0), (2, 2, 1.0)]],             // span{I}
        vec![vec![(0, 0, 1.0)], vec![(0, 1, 1.0)], vec![(1, 1, 1.0)]], // all of S^2 (padded)
    ];
    for elems in cases {
        let sub = Subspace::from_elements(3, elems.clone(), true);
        let err = run(&a, &sub, Method::Newton).unwrap_err();
        assert!(
            format!("{err}").contains("nondegeneracy violated"),
            "{elems:?}: {err}"
        );
    }
    let err = Subspace::from_pairs(3, &[[1, 1]], true)
        .err()
        .expect("diagonal pair");
    assert!(format!("{err}").contains("degenerate"));
}

#[test]
fn dependent_basis_is_reduced_or_rejected() {
    let d1 = vec![(0, 1, 1.0)];
    let d2 = vec![(1, 2, 1.0)];
    let d3 = vec![(0, 1, 2.0), (1, 2, -1.0)];
    let elems = vec![d1, d2, d3];
    let b = Basis::new(3, elems.clone(), false).unwrap();
    assert_eq!((b.len(), b.dropped.clone()), (2, vec![2]));
    let err = Basis::new(3, elems.clone(), true).err().expect("strict");
    assert!(format!("{err}").contains("linearly dependent"));
    let a = random_a(3, &mut rng(4));
    let full = run(
        &a,
        &Subspace::from_elements(3, elems, false),
        Method::Newton,
    )
    .unwrap();
    let pairs = run(
        &a,
        &Subspace::from_pairs(3, &[[0, 1], [1, 2]], true).unwrap(),
        Method::Newton,
    )
    .unwrap();
    assert_close(
        &full.b,
        &pairs.b,
        1e-10,
        "reduced basis gives the same answer",
    );
}

#[test]
fn size_mismatch_and_bad_structures_are_usage_errors() {
    let a = random_a(4, &mut rng(6));
    let sub = Subspace::from_pairs(3, &[[0, 1]], true).unwrap();
    let err = run(&a, &sub, Method::Newton).unwrap_err();
    assert!(format!("{err}").contains("size mismatch") && exit_code(&err) == 2);
    let err = Subspace::from_pairs(3, &[[0, 5]], true)
        .err()
        .expect("out of range");
    assert!(format!("{err}").contains("out of range"));
    let bad = SubspaceSpec::BlockOffdiag { sizes: vec![2, 1] };
    let err = structures::build(&bad, 4, true, &mut rng(0))
        .err()
        .expect("sizes that do not sum to n");
    assert!(
        format!("{err}").contains("must be positive and sum to n = 4 (they sum to 3)"),
        "{err}"
    );
    let err = run(
        &a,
        &Subspace::from_pairs(4, &[[0, 1]], true).unwrap(),
        Method::BlockReduced,
    )
    .unwrap_err();
    assert!(format!("{err}").contains("declared symmetry") && exit_code(&err) == 2);
}

#[test]
fn iteration_limit_reports_not_converged() {
    let a = random_a(8, &mut rng(7));
    let sub = Subspace::from_pairs(8, &random_pairs(8, 0.5, &mut rng(8)), true).unwrap();
    let mut o = opts(Method::Newton);
    o.max_iter = 1;
    let out = lab::decompose::solve::decompose(&a, &sub, &o, &mut |_| Ok(())).unwrap();
    assert!(!out.converged && out.iterations == 1);
    assert!(min_eig(&out.b) > 0.0, "the saved iterate is still feasible");
}

/// §7.1.7: the block-reduced solve equals the unreduced primal (n = 30, r = 3, unequal blocks).
#[test]
fn block_reduced_matches_full_primal() {
    let sizes = vec![12, 10, 8];
    let a = lab::decompose::matrix::block_exchangeable(&sizes, &[1.0, 1.3, 0.9], 0.05, 0.02);
    let spec = SubspaceSpec::BlockPattern {
        sizes: sizes.clone(),
        within_excluded: vec![1],
        cross_excluded: vec![[0, 2]],
    };
    let sub = structures::build(&spec, 30, true, &mut rng(0)).unwrap();
    let reduced = run(&a, &sub, Method::Auto).unwrap();
    assert_eq!(reduced.method, Method::BlockReduced);
    assert_eq!(reduced.dim, 2 + 2, "within blocks 0, 2; cross (0,1), (1,2)");
    let full = run(&a, &sub, Method::Newton).unwrap();
    assert_close(&reduced.b, &full.b, 1e-9, "B");
    assert_close(&reduced.c, &full.c, 1e-9, "C");
    let mut bumped = a.clone();
    bumped[[0, 1]] += 1e-3;
    bumped[[1, 0]] += 1e-3;
    let err = run(&bumped, &sub, Method::BlockReduced).unwrap_err();
    assert!(
        format!("{err}").contains("not invariant") && exit_code(&err) == 2,
        "{err}"
    );
    // The diagonal is checked against the block's diagonal value, not its off-diagonal one:
    // ‖A‖_F ≈ 5.8, so a 1e-8 bump is a 2e-9 deviation (rejected), 1e-12 is 2e-13 (accepted).
    for (bump, ok) in [(1e-8, false), (1e-12, true)] {
        let mut bumped = a.clone();
        bumped[[3, 3]] += bump;
        match run(&bumped, &sub, Method::BlockReduced) {
            Ok(out) => assert!(ok && out.converged, "{bump}: accepted"),
            Err(err) => assert!(
                !ok && format!("{err}").contains("not invariant"),
                "{bump}: {err}"
            ),
        }
    }
}
