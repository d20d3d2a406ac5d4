//! The `lab decompose` binary on bad inputs (spec §7.4): clear message, exit 2 for input errors,
//! exit 1 (with the best iterate saved) when the iteration limit is hit.
use std::path::Path;
use std::process::Command;

fn lab(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lab"))
        .arg("decompose")
        .args(["--quiet", "--force", "--out"])
        .arg(dir.join("run"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run lab");
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    (out.status.code().unwrap_or(-1), text)
}

fn with_matrix(csv: &str, extra: &[&str]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.csv"), csv).unwrap();
    let mut args = vec!["--set", "matrix.kind=file", "--set", "matrix.path=a.csv"];
    args.extend_from_slice(extra);
    let pattern = [
        "--set",
        "subspace.kind=pattern",
        "--set",
        "subspace.pairs=[[0,2]]",
    ];
    args.extend_from_slice(&pattern);
    lab(dir.path(), &args)
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
    let args = [
        "--set",
        "matrix.kind=file",
        "--set",
        "matrix.path=a.csv",
        "--set",
        "subspace.kind=pattern",
        "--set",
        "subspace.pairs=[[0,2]]",
        "--set",
        "output.csv=true",
    ];
    let (code, text) = lab(dir.path(), &args);
    assert_eq!(code, 0, "{text}");
    let run = dir.path().join("run");
    let summary = std::fs::read_to_string(run.join("summary.json")).unwrap();
    let asym: f64 = summary
        .lines()
        .find(|l| l.contains("input_asymmetry"))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|v| v.trim().trim_end_matches(',').parse().ok())
        .expect("input_asymmetry recorded");
    assert!(asym > 1e-15 && asym < 1e-12, "{asym}");
    let b = std::fs::read_to_string(run.join("B.csv")).unwrap();
    let b02: f64 = b
        .lines()
        .next()
        .unwrap()
        .split(',')
        .nth(2)
        .unwrap()
        .parse()
        .unwrap();
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
    let (code, text) = lab(
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
    let summary = std::fs::read_to_string(run.join("summary.json")).unwrap();
    assert!(summary.contains("\"converged\": false"), "{summary}");
    let meta = std::fs::read_to_string(run.join("meta.json")).unwrap();
    assert!(meta.contains("\"status\": \"failed\""), "{meta}");
}

#[test]
fn degenerate_subspaces_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let (code, text) = lab(dir.path(), &["--set", "subspace.kind=circulant"]);
    assert_eq!(code, 0, "circulant L runs: {text}");
    let circulant_with_identity = [
        "--set",
        "subspace.kind=circulant",
        "--set",
        "subspace.lags=[0,1]",
    ];
    let (code, text) = lab(dir.path(), &circulant_with_identity);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("nondegeneracy violated"), "{text}");
    let (code, text) = lab(
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
    let (code, text) = lab(
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
        assert!(run.join(f).exists(), "{f}");
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
    let (code, text) = lab(dir.path(), &args);
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("basis matrices are 3x3 but A is 60x60"),
        "{text}"
    );
}
