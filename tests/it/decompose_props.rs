//! Property tests of spec §7.2 over random A and L, and the stability bounds of §4.
use crate::decompose_common::*;
use lab::decompose::config::Method;
use lab::decompose::newton::{self, Direction, Problem};
use lab::decompose::structures::Subspace;
use lab::decompose::subspace::Basis;
use ndarray::{Array1, Array2};
use rand::Rng;

const SIZES: [usize; 4] = [3, 5, 8, 20];

/// A random nondegenerate L: trace-free dense elements or a coordinate pattern.
fn random_l(n: usize, seed: u64, r: &mut impl Rng) -> (Subspace, Vec<Array2<f64>>) {
    if seed.is_multiple_of(2) {
        let m = r.gen_range(1..=(n * (n + 1) / 2 - 1).min(12));
        let ds = random_trace_free(n, m, r);
        let sub = Subspace::from_elements(n, ds.iter().map(sparse).collect(), true);
        (sub, ds)
    } else {
        let mut pairs = random_pairs(n, 0.4, r);
        if pairs.is_empty() {
            pairs.push([0, n - 1]);
        }
        let ds = pairs.iter().map(|p| pair_matrix(n, p[0], p[1])).collect();
        (Subspace::from_pairs(n, &pairs, true).unwrap(), ds)
    }
}

fn seeds(n: usize) -> u64 {
    if n >= 20 {
        10
    } else {
        50
    }
}

#[test]
fn invariants_and_uniqueness_across_solvers() {
    for n in SIZES {
        for seed in 0..seeds(n) {
            let mut r = rng(1000 * n as u64 + seed);
            let a = random_a(n, &mut r);
            let (sub, ds) = random_l(n, seed, &mut r);
            let reference = run(&a, &sub, Method::Newton).unwrap();
            let what = format!("n={n} seed={seed}");
            check_invariants(&a, &ds, &reference, &what);
            assert!(reference.iterations <= 50 && reference.decrement <= 1e-7);
            let gap =
                lab::decompose::duality_gap(&a, &reference.b, &reference.c, &reference.b).unwrap();
            assert!(gap.abs() <= 1e-9, "{what}: gap {gap:e}");
            for method in [Method::NewtonCg, Method::DualNewton, Method::DualNewtonCg] {
                let out = run(&a, &sub, method).unwrap();
                check_invariants(&a, &ds, &out, &format!("{what} {method:?}"));
                let e = rel(&out.b, &reference.b);
                assert!(e <= 1e-9, "{what} {method:?}: B differs by {e:e}");
            }
        }
    }
}

/// Primal Newton from random feasible starts reaches the same B (uniqueness, §1.4).
#[test]
fn same_answer_from_random_starting_points() {
    for n in SIZES {
        for seed in 0..seeds(n) / 2 {
            let mut r = rng(7000 + 100 * n as u64 + seed);
            let a = random_a(n, &mut r);
            let (sub, _) = random_l(n, seed, &mut r);
            let basis = sub.basis().unwrap();
            let p = Problem::primal(&a, &basis);
            let o = opts(Method::Newton);
            let base = newton::solve(&p, None, Direction::Explicit, &o, &mut |_| Ok(())).unwrap();
            for _ in 0..3 {
                let x0 = Array1::from_shape_fn(basis.len(), |_| r.gen_range(-3.0..3.0));
                let sol =
                    newton::solve(&p, Some(&x0), Direction::Explicit, &o, &mut |_| Ok(())).unwrap();
                assert!(sol.converged);
                assert!(rel(&sol.w, &base.w) <= 1e-9, "n={n} seed={seed}");
            }
        }
    }
}

#[test]
fn scaling_and_permutation_covariance() {
    for n in SIZES {
        for seed in 0..seeds(n) / 2 {
            let mut r = rng(3000 + 100 * n as u64 + seed);
            let a = random_a(n, &mut r);
            let (_, ds) = random_l(n, seed, &mut r);
            let sub = |ds: &[Array2<f64>]| {
                Subspace::from_elements(n, ds.iter().map(sparse).collect(), true)
            };
            let base = run(&a, &sub(&ds), Method::Newton).unwrap();
            let scaled = run(&(&a * 7.0), &sub(&ds), Method::Newton).unwrap();
            assert!(rel(&scaled.b, &(&base.b / 7.0)) <= 1e-9, "scaling B");
            assert!(rel(&scaled.c, &(&base.c * 7.0)) <= 1e-9 || fro(&base.c) < 1e-12);
            let perm = permutation(n, &mut r);
            let pt = |x: &Array2<f64>| perm.dot(x).dot(&perm.t());
            let pds: Vec<Array2<f64>> = ds.iter().map(pt).collect();
            let moved = run(&pt(&a), &sub(&pds), Method::Newton).unwrap();
            assert!(rel(&moved.b, &pt(&base.b)) <= 1e-9, "permutation B");
        }
    }
}

fn permutation(n: usize, r: &mut impl Rng) -> Array2<f64> {
    let mut idx: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        idx.swap(i, r.gen_range(0..=i));
    }
    Array2::from_shape_fn((n, n), |(i, j)| if idx[i] == j { 1.0 } else { 0.0 })
}

/// L₁ ⊆ L₂ ⇒ log det B₂⁻¹ ≥ log det B₁⁻¹ (§1.4).
#[test]
fn monotone_in_l() {
    for n in [5, 8] {
        for seed in 0..20 {
            let mut r = rng(5000 + 100 * n as u64 + seed);
            let a = random_a(n, &mut r);
            let pairs = random_pairs(n, 0.6, &mut r);
            let half = &pairs[..pairs.len() / 2];
            let big = run(
                &a,
                &Subspace::from_pairs(n, &pairs, true).unwrap(),
                Method::Newton,
            )
            .unwrap();
            let small = run(
                &a,
                &Subspace::from_pairs(n, half, true).unwrap(),
                Method::Newton,
            )
            .unwrap();
            assert!(-ln_det(&big.b) >= -ln_det(&small.b) - 1e-12);
        }
    }
}

/// Decrements of the last Newton steps roughly square (quadratic tail, §3.5).
#[test]
fn quadratic_tail() {
    let mut r = rng(42);
    let a = random_a(20, &mut r);
    let pairs = random_pairs(20, 0.3, &mut r);
    let sub = Subspace::from_pairs(20, &pairs, true).unwrap();
    let mut decs = Vec::new();
    lab::decompose::solve::decompose(&a, &sub, &opts(Method::Newton), &mut |row| {
        decs.push(row.decrement);
        Ok(())
    })
    .unwrap();
    let tail: Vec<f64> = decs
        .iter()
        .cloned()
        .filter(|&d| d < 1e-2 && d > 1e-28)
        .collect();
    assert!(tail.len() >= 2, "{decs:?}");
    for w in tail.windows(2) {
        assert!(
            w[1] <= 10.0 * w[0] * w[0].sqrt(),
            "not superlinear: {decs:?}"
        );
    }
}

/// §4 (S1)–(S3): monotonicity identity and Lipschitz bounds; (S4) first-order sensitivity.
#[test]
fn stability_bounds() {
    for seed in 0..20 {
        let n = 6;
        let mut r = rng(9000 + seed);
        let a1 = random_a(n, &mut r);
        let (sub, _) = random_l(n, seed, &mut r);
        let e = random_trace_free(n, 1, &mut r).remove(0) * 0.1;
        let a2 = &a1 + &e;
        let o1 = run(&a1, &sub, Method::Newton).unwrap();
        let o2 = run(&a2, &sub, Method::Newton).unwrap();
        let (da, db) = (&a1 - &a2, &o1.b - &o2.b);
        let s1 = (&da * &db).sum();
        assert!(s1 <= 1e-12 * fro(&da) * fro(&db), "(S1) <dA, dB> = {s1:e}");
        let lmax = |x: &Array2<f64>| -min_eig(&-x);
        let bound = lmax(&o1.b) * lmax(&o2.b) * fro(&da);
        assert!(fro(&db) <= bound * (1.0 + 1e-9), "(S2)");
        let kappa = |x: &Array2<f64>| lmax(x) / min_eig(x);
        let kk = kappa(&o1.b) * kappa(&o2.b);
        assert!(
            fro(&(&inv(&o1.b) - &inv(&o2.b))) <= kk * fro(&da) * (1.0 + 1e-9),
            "(S3)"
        );
        assert!(
            fro(&(&o1.c - &o2.c)) <= (1.0 + kk) * fro(&da) * (1.0 + 1e-9),
            "(S3) C"
        );
    }
}

/// (S4): dB = −B(dA − dC)B with H dx = (⟨B dA B, D_k⟩)_k matches central differences to O(ε²).
#[test]
fn first_order_sensitivity() {
    let n = 6;
    let mut r = rng(77);
    let a = random_a(n, &mut r);
    let (sub, _) = random_l(n, 1, &mut r);
    let basis: Basis = sub.basis().unwrap();
    let da = random_trace_free(n, 1, &mut r).remove(0);
    let out = run(&a, &sub, Method::Newton).unwrap();
    let b = &out.b;
    let h = basis.hessian(b);
    let rhs = basis.inner_products(&b.dot(&da).dot(b));
    let dx = inv(&h).dot(&rhs);
    let dc = basis.combine(&dx);
    let db = -b.dot(&(&da - &dc)).dot(b);
    let errs: Vec<f64> = [1e-3, 1e-4]
        .iter()
        .map(|&eps| {
            let plus = run(&(&a + &(&da * eps)), &sub, Method::Newton).unwrap();
            let minus = run(&(&a - &(&da * eps)), &sub, Method::Newton).unwrap();
            fro(&(&((&plus.b - &minus.b) / (2.0 * eps)) - &db))
        })
        .collect();
    let ratio = errs[0] / errs[1];
    assert!(
        ratio > 30.0 && ratio < 300.0,
        "errors {errs:?}, ratio {ratio}"
    );
}

/// n ≥ 64 with few touched indices takes the sparse-pattern kernel (only W_JJ per step).
#[test]
fn sparse_pattern_kernel_satisfies_the_invariants() {
    let n = 96;
    let mut r = rng(11);
    let a = random_a(n, &mut r);
    let pairs = [[0, 1], [1, 2], [2, 3], [0, 3], [5, 7], [40, 90]];
    let ds: Vec<Array2<f64>> = pairs.iter().map(|p| pair_matrix(n, p[0], p[1])).collect();
    let sub = Subspace::from_pairs(n, &pairs, true).unwrap();
    for method in [Method::Newton, Method::NewtonCg] {
        let out = run(&a, &sub, method).unwrap();
        check_invariants(&a, &ds, &out, &format!("{method:?}"));
        assert!(out.iterations >= 1);
    }
}

/// The rank-2 Hessian kernel (tied elements sym(u e_tᵀ)) equals the entry formula.
#[test]
fn rank2_hessian_matches_the_entry_formula() {
    let n = 40;
    let elems = lab::decompose::finance::markovian_basis(n / 2);
    let basis = Basis::new(n, elems.clone(), true).unwrap();
    let w = random_a(n, &mut rng(3));
    let h = basis.hessian(&w);
    let ds: Vec<Array2<f64>> = (0..basis.len()).map(|k| basis.dense(k)).collect();
    for k in [0, 3, basis.len() - 1] {
        for l in [0, 1, 7, basis.len() - 1] {
            let want = (&w.dot(&ds[k]).dot(&w) * &ds[l]).sum();
            assert!(
                (h[[k, l]] - want).abs() <= 1e-10 * want.abs().max(1.0),
                "H[{k},{l}]"
            );
        }
    }
}

/// The banded kernels: selected inverse equals the band of the dense inverse, the dual-number
/// Hessian-vector product equals the dense ⟨Dₖ, W C(v) W⟩, and the banded Newton-CG path
/// (taken for n ≥ 64, banded A, band-offdiag L) satisfies the invariants.
#[test]
fn banded_kernels_match_dense_algebra() {
    use lab::decompose::banded::{Band, Dual};
    let (n, b) = (70, 2);
    let a = lab::decompose::matrix::banded(n, b, 8.0 * (b as f64 + 1.0), &mut rng(5));
    let mut band = Band {
        n,
        b,
        v: vec![0.0; n * (b + 1)],
    };
    for i in 0..n {
        for j in i.saturating_sub(b)..=i {
            band.v[i * (b + 1) + i - j] = a[[i, j]];
        }
    }
    let z = band.cholesky().unwrap().selected_inverse();
    let w = inv(&a);
    for i in 0..n {
        for j in i.saturating_sub(b)..=i {
            assert!(
                (z.v[i * (b + 1) + i - j] - w[[i, j]]).abs() < 1e-14,
                "Z[{i},{j}]"
            );
        }
    }
    // Directional derivative along E = sym(e_3 e_4ᵀ): d/dt band((A − tE)⁻¹) = band(W E W).
    let mut dual = Band {
        n,
        b,
        v: band.v.iter().map(|&x| Dual(x, 0.0)).collect(),
    };
    dual.v[4 * (b + 1) + 1] = Dual(a[[4, 3]], -1.0);
    let dz = dual.cholesky().unwrap().selected_inverse();
    let e = pair_matrix(n, 3, 4);
    let wew = w.dot(&e).dot(&w);
    for i in 0..n {
        for j in i.saturating_sub(b)..=i {
            assert!(
                (dz.v[i * (b + 1) + i - j].1 - wew[[i, j]]).abs() < 1e-13,
                "dZ[{i},{j}]"
            );
        }
    }
    let sub = lab::decompose::structures::build(
        &lab::decompose::config::SubspaceSpec::BandOffdiag { bandwidth: b },
        n,
        true,
        &mut rng(0),
    )
    .unwrap();
    let pairs: Vec<Array2<f64>> = (0..n)
        .flat_map(|i| (i + 1..n.min(i + b + 1)).map(move |j| (i, j)))
        .map(|(i, j)| pair_matrix(n, i, j))
        .collect();
    let cg = run(&a, &sub, Method::NewtonCg).unwrap();
    check_invariants(&a, &pairs, &cg, "banded Newton-CG");
    let dense = run(&a, &sub, Method::Newton).unwrap();
    assert!(rel(&cg.b, &dense.b) < 1e-9);
}

#[test]
fn banded_dense_inverse_is_the_inverse() {
    use lab::decompose::banded::Band;
    let (n, b) = (30, 3);
    let a = lab::decompose::matrix::banded(n, b, 20.0, &mut rng(6));
    let mut band = Band {
        n,
        b,
        v: vec![0.0; n * (b + 1)],
    };
    for i in 0..n {
        for j in i.saturating_sub(b)..=i {
            band.v[i * (b + 1) + i - j] = a[[i, j]];
        }
    }
    let w = band.cholesky().unwrap().dense_inverse();
    assert!(rel(&w, &inv(&a)) < 1e-13);
}

/// Dual Newton-CG on a banded L^⊥ (n ≥ 64) takes the banded kernels; it must match the
/// chordal closed form of §3.9.5 (with and without the scaled start).
#[test]
fn banded_dual_matches_the_band_closed_form() {
    for (n, bw) in [(70, 1), (96, 2)] {
        let a = random_a(n, &mut rng(n as u64));
        let spec = lab::decompose::config::SubspaceSpec::BandComplement { bandwidth: bw };
        let sub = lab::decompose::structures::build(&spec, n, true, &mut rng(0)).unwrap();
        let exact = run(&a, &sub, Method::ClosedForm).unwrap();
        for scale in [false, true] {
            let mut o = opts(Method::DualNewtonCg);
            o.dual_start_scale = scale;
            let out = lab::decompose::solve::decompose(&a, &sub, &o, &mut |_| Ok(())).unwrap();
            assert!(out.converged);
            assert!(
                rel(&out.b, &exact.b) < 1e-9,
                "n={n} b={bw}: {:e}",
                rel(&out.b, &exact.b)
            );
            assert!(rel(&out.c, &exact.c) < 1e-9);
        }
    }
}
