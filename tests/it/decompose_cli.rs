//! The `lab decompose` binary on bad inputs (spec §7.4): clear message, exit 2 for input errors,
//! exit 1 (with the best iterate saved) when the iteration limit is hit.
use crate::common::*;
use std::path::Path;

/// A from `a.csv` in the run's folder, L spanned by the (0, 2) pair.
const A_CSV_PAIR_02: [&str; 8] = [
    "--set",
    "matrix.kind=file",
    "--set",
    "matrix.path=a.csv",
    "--set",
    "subspace.kind=pattern",
    "--set",
    "subspace.pairs=[[0,2]]",
];

/// `lab decompose --quiet --force --out run ARGS` in `dir`: the exit code and the output.
fn decompose(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = decompose_with_env(dir, args, &[]);
    (code(&out), text(&out))
}

/// [`decompose`] with the environment variables `env` set for lab, its whole output.
fn decompose_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let all = [&["decompose", "--quiet", "--force", "--out", "run"], args].concat();
    std::process::Command::new(LAB)
        .args(&all)
        .envs(env.iter().copied())
        .current_dir(dir)
        .output()
        .expect("the lab binary runs")
}

fn with_matrix(csv: &str, extra: &[&str]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.csv"), csv).unwrap();
    decompose(dir.path(), &[&A_CSV_PAIR_02[..], extra].concat())
}

#[test]
fn the_worked_example_from_a_csv_file() {
    let dir = tempfile::tempdir().unwrap();
    // (0, 2) differs from (2, 0) by 1e-13: below tolerance, symmetrized and recorded.
    std::fs::write(
        dir.path().join("a.csv"),
        "4,1,1.0000000000001\n1,3,1\n1,1,2\n",
    )
    .unwrap();
    let args = [&A_CSV_PAIR_02[..], &["--set", "output.csv=true"]].concat();
    let (code, text) = decompose(dir.path(), &args);
    assert_eq!(code, 0, "{text}");
    let run = dir.path().join("run");
    let asym = json(&run.join("summary.json"))["input_asymmetry"]
        .as_f64()
        .expect("input_asymmetry recorded");
    assert!(asym > 1e-15 && asym < 1e-12, "{asym}");
    let b = read(&run.join("B.csv"));
    let first_row: Vec<f64> = b
        .lines()
        .next()
        .expect("B.csv has rows")
        .split(',')
        .map(|x| x.parse().expect("a number"))
        .collect();
    assert_eq!(first_row.len(), 3, "B is 3x3: {b}");
    let b02 = first_row[2];
    assert!(
        b02.abs() < 1e-12,
        "B[0,2] = {b02} must vanish (B in L^perp)"
    );
}

#[test]
fn bad_matrices_are_usage_errors() {
    let cases = [
        ("4,1\n1,3\n1,1\n", "must be square"),
        ("4,1,1\n1,3,1\n1.5,1,2\n", "not symmetric"),
        ("1,2,0\n2,1,0\n0,0,1\n", "not positive definite"),
        ("4,1,nan\n1,3,1\nnan,1,2\n", "not finite"),
        ("4,1\n1,3\n", "out of range for n = 2"),
    ];
    for (csv, want) in cases {
        let (code, text) = with_matrix(csv, &[]);
        assert_eq!(code, 2, "{want}: {text}");
        assert!(text.contains(want), "expected `{want}` in: {text}");
    }
    let (_, text) = with_matrix("1,2,0\n2,1,0\n0,0,1\n", &[]);
    assert!(text.contains("lambda_min(A) = -1"), "{text}");
}

#[test]
fn iteration_limit_exits_1_and_keeps_the_iterate() {
    let dir = tempfile::tempdir().unwrap();
    let (code, text) = decompose(
        dir.path(),
        &[
            "--set",
            "solver.max_iter=1",
            "--set",
            "solver.method=newton",
        ],
    );
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("not converged"), "{text}");
    let run = dir.path().join("run");
    assert!(run.join("B.npy").exists() && run.join("C.npy").exists());
    let summary = json(&run.join("summary.json"));
    assert_eq!(summary["converged"], false, "{summary}");
    assert_eq!(status(&run), "failed");
}

#[test]
fn degenerate_subspaces_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let (code, text) = decompose(dir.path(), &["--set", "subspace.kind=circulant"]);
    assert_eq!(code, 0, "circulant L runs: {text}");
    let circulant_with_identity = [
        "--set",
        "subspace.kind=circulant",
        "--set",
        "subspace.lags=[0,1]",
    ];
    let (code, text) = decompose(dir.path(), &circulant_with_identity);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("nondegeneracy violated"), "{text}");
    let (code, text) = decompose(
        dir.path(),
        &[
            "--set",
            "subspace.kind=pattern",
            "--set",
            "subspace.pairs=[[3,3]]",
        ],
    );
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("degenerate"), "{text}");
}

#[test]
fn finance_mode_writes_values_and_strategies() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/decompose/finance.yaml");
    let (code, text) = decompose(
        dir.path(),
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--set",
            "mode.periods=10",
        ],
    );
    assert_eq!(code, 0, "{text}");
    let run = dir.path().join("run");
    for f in [
        "finance.csv",
        "strategy_sum.csv",
        "strategy_markovian.csv",
        "strategy_full.csv",
    ] {
        let lines = read(&run.join(f)).lines().count();
        assert!(lines >= 2, "{f}: a header and rows, got {lines} lines");
    }
}

/// Several H values: Figure 1 (CE vs H, one curve per structure) through the shared renderer.
#[test]
fn finance_mode_over_several_h_draws_figure_1() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/decompose/finance.yaml");
    let args = [
        "--config",
        cfg.to_str().unwrap(),
        "--set",
        "mode.periods=8",
        "--set",
        "mode.hurst=[0.5,0.7]",
    ];
    let (code, text) = decompose(dir.path(), &args);
    assert_eq!(code, 0, "{text}");
    let svg = std::fs::read_to_string(dir.path().join("run/figure1.svg")).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(200)]);
    for label in [
        "Certainty equivalent vs Hurst index",
        "Sum",
        "Markovian",
        "Full",
    ] {
        assert!(svg.contains(label), "figure1.svg lacks {label}");
    }
}

#[test]
fn basis_file_of_the_wrong_size_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let basis = ndarray::Array3::<f64>::zeros((2, 3, 3));
    ndarray_npy::write_npy(dir.path().join("basis.npy"), &basis).unwrap();
    let args = [
        "--set",
        "subspace.kind=basis-file",
        "--set",
        "subspace.path=basis.npy",
    ];
    let (code, text) = decompose(dir.path(), &args);
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("basis matrices are 3x3 but A is 60x60"),
        "{text}"
    );
}

fn hilbert_csv(n: usize) -> String {
    (0..n)
        .map(|i| {
            let row: Vec<String> = (0..n)
                .map(|j| format!("{:e}", 1.0 / (i + j + 1) as f64))
                .collect();
            row.join(",") + "\n"
        })
        .collect()
}

/// §7.4: Hilbert matrices, cond(H₈) = 1.5258e10 (no warning) and cond(H₁₀) = 1.6025e13 (warning);
/// both are certified, H₁₀ within the 1 % cap of the certificate tolerance.
#[test]
fn ill_conditioned_a_warns_on_stderr_and_in_the_summary() {
    for (n, cond, warns) in [(8, 1.5258e10, false), (10, 1.6025e13, true)] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.csv"), hilbert_csv(n)).unwrap();
        let (code, text) = decompose(dir.path(), &A_CSV_PAIR_02);
        assert_eq!(code, 0, "{text}");
        assert_eq!(text.contains("warning: cond(A)"), warns, "n = {n}: {text}");
        let summary = json(&dir.path().join("run/summary.json"));
        let got = summary["cond_a"]["estimate"]
            .as_f64()
            .expect("cond_a.estimate");
        assert!((got / cond - 1.0).abs() < 1e-3, "n = {n}: cond {got:e}");
        let warnings = summary["warnings"].as_array().expect("warnings list");
        let ill = warnings
            .iter()
            .any(|w| w.as_str().is_some_and(|w| w.contains("ill-conditioned")));
        assert_eq!(ill, warns, "{summary}");
        // τ_cert = min(1e-2, max(1e-8, 10·n·ε·cond)): H₈ 2.7e-4; H₁₀'s 0.36 capped at 1 %.
        let tau = summary["certificate_tolerance"]
            .as_f64()
            .expect("tolerance");
        let want = (10.0 * n as f64 * f64::EPSILON * got).clamp(1e-8, 1e-2);
        assert!(
            (tau / want - 1.0).abs() < 1e-9,
            "n = {n}: τ {tau:e}, want {want:e}"
        );
        assert_eq!(summary["converged"], true, "n = {n}: {summary}");
    }
}

/// H₁₀ and H₁₁ converge whichever kernels OpenBLAS runs (those this CPU has, forced by
/// `OPENBLAS_CORETYPE`). Their B − P_L(B) is B moved by rounding of at least λ_min(B): on one
/// kernel set it was not positive definite (no gap), on another it was, with a gap of 0.3 that
/// failed the run (H₁₀ on Sandybridge's, H₁₁ on Haswell's). Such a gap is now a warning.
#[test]
fn hilbert_runs_converge_under_every_blas_kernel_set_the_cpu_has() {
    let flags = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let has = |f: &str| flags.split_whitespace().any(|w| w == f);
    let mut cores = vec![None];
    if has("avx") {
        cores.push(Some("Sandybridge"));
    }
    if has("avx2") && has("fma") {
        cores.push(Some("Haswell"));
    }
    for n in [10, 11] {
        for core in &cores {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("a.csv"), hilbert_csv(n)).unwrap();
            let env: Vec<(&str, &str)> = core.iter().map(|c| ("OPENBLAS_CORETYPE", *c)).collect();
            let o = decompose_with_env(dir.path(), &A_CSV_PAIR_02, &env);
            assert_eq!(code(&o), 0, "H{n} on {core:?}: {}", text(&o));
            let summary = json(&dir.path().join("run/summary.json"));
            assert_eq!(summary["converged"], true, "H{n} on {core:?}: {summary}");
            let gap_warned = crate::decompose_common::gap_not_held(&summary);
            assert!(gap_warned, "H{n} on {core:?}: {summary}");
        }
    }
}

/// Above n = 500 the estimate is the Cholesky-diagonal bound, exact for a diagonal A.
#[test]
fn cholesky_bound_is_a_lower_bound_and_exact_for_diagonal_a() {
    use lab::decompose::matrix::{check_spd, condition};
    let n = 501;
    let d = ndarray::Array1::from_shape_fn(n, |i| 10f64.powf(13.0 * i as f64 / (n - 1) as f64));
    let cond = check_spd(&ndarray::Array2::from_diag(&d)).unwrap();
    assert!((cond.estimate / 1e13 - 1.0).abs() < 1e-9, "{cond:?}");
    assert!(cond.method.contains("Cholesky") && cond.warning().is_some());
    // A 2×2 with cond 3 whose Cholesky diagonal is (√2, √1.5): the bound 4/3 ≤ 3.
    let a = ndarray::array![[2.0, 1.0], [1.0, 2.0]];
    let diag = ndarray::array![2f64.sqrt(), 1.5f64.sqrt()];
    let exact = condition(&a, &diag).unwrap();
    assert!((exact.estimate - 3.0).abs() < 1e-12);
}

#[test]
fn mixed_fbm_generator_gives_the_spec_covariance() {
    use ndarray::Array2;
    use ndarray_linalg::Inverse;
    let dir = tempfile::tempdir().unwrap();
    let gen = [
        "--set",
        "matrix={kind: mixed-fbm, periods: 5, hurst: 0.7, alpha: 1.5}",
        "--set",
        "subspace.kind=offdiag",
    ];
    let (code, text) = decompose(dir.path(), &gen);
    assert_eq!(code, 0, "{text}");
    let run = dir.path().join("run");
    let b: Array2<f64> = ndarray_npy::read_npy(run.join("B.npy")).unwrap();
    let c: Array2<f64> = ndarray_npy::read_npy(run.join("C.npy")).unwrap();
    let a = lab::decompose::market::covariance(5, 0.7, 1.5);
    assert_eq!(b.dim(), (10, 10));
    let rebuilt = b.inv().unwrap() + &c;
    let err = (&rebuilt - &a).iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(
        err < 1e-10,
        "B⁻¹ + C differs from the §5.4 covariance by {err}"
    );
    let (code, text) = decompose(
        dir.path(),
        &[
            "--set",
            "matrix={kind: mixed-fbm, periods: 5, hurst: 1.2, alpha: 1.0}",
        ],
    );
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("matrix.hurst"), "{text}");
}
