//! The one Newton driver against traces recorded from the four hand-written loops it replaced
//! (dense, banded, block, circulant; commit 0b9e3f3): on fixed seeds every path must take the same
//! steps, so the logged rows (iteration, objective, decrement, step, backtracks, CG iterations)
//! and the final report agree exactly in counts and to 1e-12 in values. A 2×2 problem with a
//! closed form pins the first Newton step to its hand-computed value.
use crate::decompose_common::*;
use lab::decompose::config::{Method, SubspaceSpec};
use lab::decompose::matrix;
use lab::decompose::solve::{self, Outcome};
use lab::decompose::structures::{self, Subspace};
use ndarray::{array, Array2};

/// One solve: the logged rows (all columns but wall_s) and the outcome.
struct Trace {
    rows: Vec<Vec<f64>>,
    out: Outcome,
}

fn trace(a: &Array2<f64>, sub: &Subspace, method: Method, max_iter: usize) -> Trace {
    let mut o = opts(method);
    o.max_iter = max_iter;
    let mut rows = Vec::new();
    let out = solve::decompose(a, sub, &o, &mut |row| {
        assert_eq!(row.len(), 10, "one value per metrics.csv column");
        rows.push(row[..9].to_vec());
        Ok(())
    })
    .expect("solves");
    Trace { rows, out }
}

fn build(spec: SubspaceSpec, n: usize) -> Subspace {
    structures::build(&spec, n, true, &mut rng(0)).expect("valid subspace")
}

/// (name, A, L, method): one case per Newton path of `solve::decompose`.
fn cases() -> Vec<(&'static str, Array2<f64>, Subspace, Method)> {
    let dense_a = random_a(8, &mut rng(1));
    let pairs = random_pairs(8, 0.3, &mut rng(2));
    let pattern = || Subspace::from_pairs(8, &pairs, true).expect("pairs");
    let band_perp = || build(SubspaceSpec::BandComplement { bandwidth: 1 }, 10);
    let sizes = vec![3, 4, 2];
    let block_a = matrix::block_exchangeable(&sizes, &[1.0, 1.2, 0.9], 0.05, 0.08);
    let block_spec = SubspaceSpec::BlockPattern {
        sizes: sizes.clone(),
        within_excluded: vec![],
        cross_excluded: vec![[0, 2]],
    };
    let circ = SubspaceSpec::Circulant {
        lags: vec![1, 3],
        columns: vec![],
    };
    vec![
        ("dense primal", dense_a.clone(), pattern(), Method::Newton),
        (
            "dense primal CG",
            dense_a.clone(),
            pattern(),
            Method::NewtonCg,
        ),
        (
            "dense dual",
            random_a(10, &mut rng(3)),
            band_perp(),
            Method::DualNewton,
        ),
        (
            "dense dual CG",
            random_a(10, &mut rng(3)),
            band_perp(),
            Method::DualNewtonCg,
        ),
        (
            "banded primal",
            matrix::banded(64, 2, 8.0, &mut rng(4)),
            build(SubspaceSpec::BandOffdiag { bandwidth: 2 }, 64),
            Method::NewtonCg,
        ),
        (
            "banded dual",
            random_a(64, &mut rng(5)),
            build(SubspaceSpec::BandComplement { bandwidth: 1 }, 64),
            Method::DualNewtonCg,
        ),
        ("block", block_a, build(block_spec, 9), Method::BlockReduced),
        (
            "circulant",
            circulant_a(12, 6),
            build(circ, 12),
            Method::Circulant,
        ),
    ]
}

/// Per case: rows as (objective, decrement, step, backtracks, cg_iters); the final report as
/// (iterations, converged, cg_iters, backtracks, decrement, residual, grad_max, ‖B‖_F, ‖C‖_F).
type Row = (f64, f64, f64, usize, usize);
type Report = (usize, bool, usize, usize, f64, f64, f64, f64, f64);

fn same(got: f64, want: f64, what: &str) {
    let tol = 1e-12 * want.abs().max(1.0);
    assert!(
        (got - want).abs() <= tol,
        "{what}: got {got:e}, recorded {want:e}"
    );
}

fn check(name: &str, t: &Trace, rows: &[Row], report: Report) {
    assert_eq!(t.rows.len(), rows.len(), "{name}: number of iterations");
    for (k, (got, want)) in t.rows.iter().zip(rows).enumerate() {
        let what = format!("{name} row {k}");
        assert_eq!(got[0], (k + 1) as f64, "{what}: iteration number");
        same(got[1], want.0, &format!("{what} objective"));
        same(got[2], want.1, &format!("{what} decrement"));
        same(got[7], want.2, &format!("{what} step"));
        assert_eq!(got[8], want.3 as f64, "{what}: backtracks");
        assert_eq!(got[6], want.4 as f64, "{what}: CG iterations");
    }
    let o = &t.out;
    assert_eq!(o.iterations, report.0, "{name}: iterations");
    assert_eq!(o.converged, report.1, "{name}: converged");
    assert_eq!(o.cg_iters, report.2, "{name}: CG iterations");
    assert_eq!(o.backtracks, report.3, "{name}: backtracks");
    same(o.decrement, report.4, &format!("{name} decrement"));
    same(o.residual, report.5, &format!("{name} residual"));
    same(o.grad_max, report.6, &format!("{name} grad_max"));
    same(fro(&o.b), report.7, &format!("{name} |B|"));
    same(fro(&o.c), report.8, &format!("{name} |C|"));
}

/// Every Newton path takes the recorded steps, to convergence and when cut off after two
/// iterations (where the paths report the unconverged state differently, see `RECORDED`).
#[test]
fn every_newton_path_takes_the_recorded_steps() {
    let mut seen = 0;
    for max_iter in [100, 2] {
        for (name, a, sub, method) in cases() {
            let t = trace(&a, &sub, method, max_iter);
            let (_, _, rows, report) = RECORDED
                .iter()
                .find(|r| r.0 == name && r.1 == max_iter)
                .unwrap_or_else(|| panic!("no recorded trace for {name}, max_iter {max_iter}"));
            check(&format!("{name} (max_iter {max_iter})"), &t, rows, *report);
            seen += 1;
        }
    }
    assert_eq!(seen, RECORDED.len(), "every recorded trace is checked");
}

/// Prints the recorded tables from the current code (to re-record deliberately changed steps):
/// `cargo test --release --test it decompose_driver::print -- --ignored --nocapture`.
#[test]
#[ignore]
fn print_traces() {
    for max_iter in [100, 2] {
        for (name, a, sub, method) in cases() {
            let t = trace(&a, &sub, method, max_iter);
            println!("// {name}, max_iter {max_iter}");
            println!("&[");
            for r in &t.rows {
                println!("({:e}, {:e}, {:e}, {}, {}),", r[1], r[2], r[7], r[8], r[6]);
            }
            let o = &t.out;
            println!(
                "], ({}, {}, {}, {}, {:e}, {:e}, {:e}, {:e}, {:e}),",
                o.iterations,
                o.converged,
                o.cg_iters,
                o.backtracks,
                o.decrement,
                o.residual,
                o.grad_max,
                fro(&o.b),
                fro(&o.c)
            );
        }
    }
}

/// L = span{e₁e₂ᵀ + e₂e₁ᵀ} in 2×2: B = diag(1/a₁₁, 1/a₂₂), C = the off-diagonal of A. From
/// x = 0, f(x) = −log(a₁₁a₂₂ − (a₁₂ − x)²) has g = −2a₁₂/det A and
/// H = 2(det A + 2a₁₂²)/det A², so the first logged decrement is g²/(2H).
#[test]
fn two_by_two_first_step_is_the_hand_computed_newton_step() {
    let a = array![[2.0, 0.5], [0.5, 1.0]];
    let sub = Subspace::from_pairs(2, &[[0, 1]], true).expect("pair");
    let t = trace(&a, &sub, Method::Newton, 100);
    let det: f64 = 2.0 - 0.25;
    let g = -2.0 * 0.5 / det;
    let h = 2.0 * (det + 2.0 * 0.25) / (det * det);
    same(t.rows[0][1], -det.ln(), "f(0)");
    // The direction solves (H + δI)d = −g with δ = 1e-10·mean(diag H) (newton_direction).
    let want = g * g / (2.0 * h);
    let got = t.rows[0][2];
    assert!(
        (got - want).abs() <= 1e-9 * want,
        "first decrement {got:e}, by hand {want:e}"
    );
    assert!(t.out.converged);
    same(t.out.b[[0, 0]], 0.5, "B11");
    same(t.out.b[[1, 1]], 1.0, "B22");
    assert!(t.out.b[[0, 1]].abs() <= 1e-12, "B12 = {}", t.out.b[[0, 1]]);
    same(t.out.c[[0, 1]], 0.5, "C12");
}

/// Recorded at 0b9e3f3 by [`print_traces`]: (case, max_iter, rows, report).
const RECORDED: &[(&str, usize, &[Row], Report)] = &[
    (
        "dense primal",
        100,
        &[
            (-4.899359469549002e0, 1.8990172351139076e-1, 1e0, 0, 0),
            (-5.117144454265376e0, 1.6306186057924964e-2, 1e0, 0, 0),
            (-5.133913522884194e0, 3.9244364255358826e-5, 1e0, 0, 0),
            (-5.133952816534208e0, 2.4559774290784883e-10, 1e0, 0, 0),
            (-5.133952816779805e0, 1.2428203258076985e-20, 0e0, 0, 0),
        ],
        (
            4,
            true,
            0,
            0,
            1.2428203258076985e-20,
            4.552986782647699e-11,
            8.689048917486419e-11,
            1.7353256948024536e0,
            1.451245489276419e0,
        ),
    ),
    (
        "dense primal CG",
        100,
        &[
            (-4.899359469549002e0, 1.8817551502354296e-1, 1e0, 0, 1),
            (-5.116886965357773e0, 1.6357663583446175e-2, 1e0, 0, 1),
            (-5.133559701262952e0, 3.9026494257880144e-4, 1e0, 0, 2),
            (-5.1339504567337615e0, 2.3595479293240453e-6, 1e0, 0, 3),
            (-5.133952816192458e0, 5.87342682472031e-10, 1e0, 0, 4),
            (-5.133952816779803e0, 4.2780027640880405e-15, 1e0, 0, 6),
            (-5.133952816779806e0, 9.192753509646137e-24, 0e0, 0, 8),
        ],
        (
            6,
            true,
            25,
            0,
            9.192753509646137e-24,
            1.180628475128942e-12,
            1.8188343569949976e-12,
            1.7353256948073434e0,
            1.451245489525166e0,
        ),
    ),
    (
        "dense dual",
        100,
        &[
            (1.997801291282766e1, 7.382945971441237e0, 2.5e-1, 2, 0),
            (1.6984773108826992e1, 7.933064007660395e-1, 1e0, 0, 0),
            (1.6563252283247053e1, 1.6398080847219274e-1, 1e0, 0, 0),
            (1.6377637698645724e1, 9.78784496592604e-3, 1e0, 0, 0),
            (1.636739261102803e1, 5.9748469946626865e-5, 1e0, 0, 0),
            (1.6367332563019822e1, 3.6269903846763785e-9, 1e0, 0, 0),
            (1.6367332559392665e1, 1.822622266445444e-17, 1e0, 0, 0),
            (1.6367332559392665e1, 5.20643564618861e-31, 0e0, 0, 0),
        ],
        (
            7,
            true,
            0,
            2,
            5.20643564618861e-31,
            3.4850207862573864e-16,
            1.3322676295501878e-15,
            1.836293296120744e0,
            2.42000142233441e0,
        ),
    ),
    (
        "dense dual CG",
        100,
        &[
            (1.997801291282766e1, 7.382945972444161e0, 2.5e-1, 2, 1),
            (1.698477310856426e1, 7.051944441879208e-1, 1e0, 0, 1),
            (1.667615447656447e1, 2.106431438089501e-1, 1e0, 0, 1),
            (1.6422685625811447e1, 3.806242678711976e-2, 1e0, 0, 1),
            (1.6381020348779852e1, 1.417632679988234e-2, 1e0, 0, 2),
            (1.6367920232894146e1, 5.752765448823001e-4, 1e0, 0, 2),
            (1.636733649085206e1, 3.928325733354e-6, 1e0, 0, 4),
            (1.6367332562616376e1, 3.223690609845258e-9, 1e0, 0, 5),
            (1.6367332559392715e1, 5.204770595048171e-14, 1e0, 0, 7),
            (1.6367332559392665e1, 9.966991241868783e-22, 0e0, 0, 9),
        ],
        (
            9,
            true,
            33,
            2,
            9.966991241868783e-22,
            1.2751171023515456e-11,
            5.6447319041197375e-11,
            1.8362932961087062e0,
            2.4200014223356527e0,
        ),
    ),
    (
        "banded primal",
        100,
        &[
            (-1.302997980470727e2, 1.5449145202481875e0, 1e0, 0, 1),
            (-1.321662950261316e2, 2.658028274416299e-1, 1e0, 0, 1),
            (-1.324385585269464e2, 9.4201593733202e-4, 1e0, 0, 1),
            (-1.3243949651485858e2, 6.624530317808866e-8, 1e0, 0, 1),
            (-1.3243949658110304e2, 1.2035234168197313e-16, 1e0, 0, 1),
            (-1.3243949658110304e2, 2.4367400207399917e-34, 0e0, 0, 1),
        ],
        (
            5,
            true,
            6,
            0,
            2.4367400207399917e-34,
            2.8359354780065627e-18,
            2.5267500849773575e-18,
            1.0276731607711926e0,
            1.5553118149922165e1,
        ),
    ),
    (
        "banded dual",
        100,
        &[
            (1.266606545174943e2, 3.282242707645898e1, 5e-1, 1, 1),
            (1.079805201196757e2, 6.143925831597109e-1, 1e0, 0, 1),
            (1.0726251760700994e2, 9.955150617275504e-2, 1e0, 0, 1),
            (1.0715545582134804e2, 4.342737489252209e-3, 1e0, 0, 2),
            (1.0715105571379357e2, 5.620492050703086e-6, 1e0, 0, 3),
            (1.071510500934875e2, 2.2888467143332278e-10, 1e0, 0, 4),
            (1.071510500932586e2, 1.5474663354988107e-16, 1e0, 0, 6),
            (1.0715105009325859e2, 5.088975389177773e-26, 0e0, 0, 9),
        ],
        (
            7,
            true,
            27,
            1,
            5.088975389177773e-26,
            4.3017101838546616e-14,
            3.065325770990057e-13,
            4.1429674033679555e0,
            7.76094062981837e0,
        ),
    ),
    (
        "block",
        100,
        &[
            (-3.806830118939491e-1, 1.0195614419484442e-1, 1e0, 0, 0),
            (-4.7152803445452873e-1, 4.351849761394451e-3, 1e0, 0, 0),
            (-4.760273072282646e-1, 1.3937325262976416e-5, 1e0, 0, 0),
            (-4.7604127913326744e-1, 1.9678945967836927e-10, 1e0, 0, 0),
            (-4.76041279330058e-1, 4.1518102125777397e-20, 0e0, 0, 0),
        ],
        (
            4,
            true,
            0,
            0,
            4.1518102125777397e-20,
            8.623114402925551e-11,
            8.778670735271883e-10,
            2.92089974295607e0,
            5.438445580846063e-1,
        ),
    ),
    (
        "circulant",
        100,
        &[
            (-7.205511716927449e0, 3.889268967053632e-1, 1e0, 0, 0),
            (-7.672168144951733e0, 7.441424032202622e-2, 1e0, 0, 0),
            (-7.754671466322371e0, 2.301650827860515e-3, 1e0, 0, 0),
            (-7.756999041700793e0, 6.464019868903335e-7, 1e0, 0, 0),
            (-7.756999688202968e0, 3.4921649409546597e-14, 1e0, 0, 0),
            (-7.756999688203005e0, 1.0259244539738784e-28, 0e0, 0, 0),
        ],
        (
            5,
            true,
            0,
            0,
            1.0259244539738784e-28,
            5.028769829326479e-15,
            3.515374988560119e-14,
            1.9625945515417136e0,
            1.4108639530182603e0,
        ),
    ),
    (
        "dense primal",
        2,
        &[
            (-4.899359469549002e0, 1.8990172351139076e-1, 1e0, 0, 0),
            (-5.117144454265376e0, 1.6306186057924964e-2, 1e0, 0, 0),
        ],
        (
            2,
            false,
            0,
            0,
            1.6306186057924964e-2,
            4.545823589791509e-2,
            9.327408426626178e-2,
            1.7350485724371736e0,
            1.4347189316642197e0,
        ),
    ),
    (
        "dense primal CG",
        2,
        &[
            (-4.899359469549002e0, 1.8817551502354296e-1, 1e0, 0, 1),
            (-5.116886965357773e0, 1.6357663583446175e-2, 1e0, 0, 1),
        ],
        (
            2,
            false,
            2,
            0,
            1.6357663583446175e-2,
            4.704792389338427e-2,
            9.59696630410151e-2,
            1.7353647280797408e0,
            1.4338995845884916e0,
        ),
    ),
    (
        "dense dual",
        2,
        &[
            (1.997801291282766e1, 7.382945971441237e0, 2.5e-1, 2, 0),
            (1.6984773108826992e1, 7.933064007660395e-1, 1e0, 0, 0),
        ],
        (
            2,
            false,
            0,
            2,
            7.933064007660395e-1,
            4.2344794987383494e-1,
            8.707911864721458e-1,
            1.6254781892337242e0,
            2.415671476603025e0,
        ),
    ),
    (
        "dense dual CG",
        2,
        &[
            (1.997801291282766e1, 7.382945972444161e0, 2.5e-1, 2, 1),
            (1.698477310856426e1, 7.051944441879208e-1, 1e0, 0, 1),
        ],
        (
            2,
            false,
            2,
            2,
            7.051944441879208e-1,
            4.2344794973734695e-1,
            8.707911862214186e-1,
            1.8135636986576829e0,
            2.422144429949179e0,
        ),
    ),
    (
        "banded primal",
        2,
        &[
            (-1.302997980470727e2, 1.5449145202481875e0, 1e0, 0, 1),
            (-1.321662950261316e2, 2.658028274416299e-1, 1e0, 0, 1),
        ],
        (
            1,
            false,
            2,
            0,
            2.658028274416299e-1,
            9.143409655486112e-2,
            5.2807174812884675e-2,
            1.027717577600815e0,
            1.5423839966542188e1,
        ),
    ),
    (
        "banded dual",
        2,
        &[
            (1.266606545174943e2, 3.282242707645898e1, 5e-1, 1, 1),
            (1.079805201196757e2, 6.143925831597109e-1, 1e0, 0, 1),
        ],
        (
            1,
            false,
            2,
            1,
            6.143925831597109e-1,
            2.2596840310016236e-1,
            1.9750392024417618e0,
            4.196530756627766e0,
            7.762968171965189e0,
        ),
    ),
    (
        "block",
        2,
        &[
            (-3.806830118939491e-1, 1.0195614419484442e-1, 1e0, 0, 0),
            (-4.7152803445452873e-1, 4.351849761394451e-3, 1e0, 0, 0),
        ],
        (
            1,
            false,
            0,
            0,
            4.351849761394451e-3,
            2.958507809307066e-2,
            2.3604818919806192e-1,
            2.920950577278437e0,
            5.487295637701156e-1,
        ),
    ),
    (
        "circulant",
        2,
        &[
            (-7.205511716927449e0, 3.889268967053632e-1, 1e0, 0, 0),
            (-7.672168144951733e0, 7.441424032202622e-2, 1e0, 0, 0),
        ],
        (
            1,
            false,
            0,
            0,
            7.441424032202622e-2,
            1.511019959687224e-1,
            1.1959674347299314e0,
            1.9704686146522004e0,
            1.3375498986138525e0,
        ),
    ),
];
