//! `lab decompose` on hostile inputs, round 2 (values and messages: decompose_hostile_values):
//! files whose header lies about their size, more basis elements than dimensions, sizes that
//! overflow and bandwidths past n; each was an abort, a hang, a panic or a silent wrong answer
//! before (exit 134, minutes in gigabytes, exit 101, A = shift·I).
use crate::common::*;
use crate::input_errors::raw_npy;
use ndarray::Array2;
use std::path::Path;

const MAX: u64 = u64::MAX;

/// `lab decompose --quiet --out run ARGS` in `dir`.
pub fn decompose(dir: &Path, args: &[&str]) -> std::process::Output {
    let all = [&["decompose", "--quiet", "--force", "--out", "run"], args].concat();
    lab(dir, &all)
}

/// [`decompose`] of the matrix file `name` in `dir` (`matrix.kind: file`, an off-diagonal
/// subspace).
pub fn decompose_file(dir: &Path, name: &str) -> std::process::Output {
    let path = format!("matrix.path={name}");
    let args = ["--set", "matrix.kind=file", "--set", &path];
    decompose(
        dir,
        &[&args[..], &["--set", "subspace.kind=offdiag"]].concat(),
    )
}

/// f64 values as little-endian bytes.
fn f64s(values: &[f64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// ndarray-npy allocated the declared shape before reading: a 200-byte file declaring
/// (10⁶, 10⁶) aborted on an 8 TB allocation (exit 134, run folder left behind).
#[test]
fn npy_files_declaring_more_data_than_they_hold_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a.csv"), "2,1\n1,2\n").unwrap();
    raw_npy(&d.join("m.npy"), "<f8", "(1000000, 1000000)", &[0; 64]);
    raw_npy(&d.join("b.npy"), "<f8", "(100000000000, 2, 2)", &[0; 64]);
    raw_npy(&d.join("p.npy"), "<i8", "(1000000000000, 2)", &[0; 64]);
    raw_npy(&d.join("k.npy"), "|b1", "(2000000, 2000000)", &[0; 64]);
    let file_a = ["--set", "matrix.kind=file", "--set", "matrix.path=a.csv"];
    let cases: [(&str, &[&str], &str); 5] = [
        (
            "matrix.path=m.npy",
            &["subspace.kind=offdiag"],
            "8000000000000 bytes",
        ),
        (
            "subspace.path=b.npy",
            &["subspace.kind=basis-file"],
            "(100000000000, 2, 2)",
        ),
        (
            "subspace.path=b.npy",
            &["subspace.kind=perp-basis-file"],
            "of 8-byte values",
        ),
        (
            "subspace.pairs_file=p.npy",
            &["subspace.kind=pattern"],
            "(1000000000000, 2)",
        ),
        (
            "subspace.mask_file=k.npy",
            &["subspace.kind=complement-pattern"],
            "1-byte",
        ),
    ];
    for (set, kind, want) in cases {
        let mut args = file_a.to_vec();
        for s in kind.iter().chain([&set]) {
            args.extend(["--set", s]);
        }
        let out = decompose(d, &args);
        let needles = [want, "header declares shape", "but the file holds 64"];
        assert_refused(&out, set, &needles, &d.join("run"));
    }
}

/// The dependence check's Gram matrix is m×m: 10⁵ copies of a 2×2 matrix (a 3 MB file) took
/// 13 GB and minutes; `random-trace-free` with dim = 10⁵ at n = 4 the same. More elements than
/// the space has dimensions are refused; dim = n(n+1)/2 − 1 still runs.
#[test]
fn more_basis_elements_than_dimensions_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a.csv"), "2,1\n1,2\n").unwrap();
    let four = f64s(&[0.0, 1.0, 1.0, 0.0].repeat(4));
    raw_npy(&d.join("four.npy"), "<f8", "(4, 2, 2)", &four);
    let file_a = ["--set", "matrix.kind=file", "--set", "matrix.path=a.csv"];
    for kind in ["basis-file", "perp-basis-file"] {
        let kind = format!("subspace.kind={kind}");
        let args = [
            &file_a[..],
            &["--set", &kind, "--set", "subspace.path=four.npy"],
        ]
        .concat();
        let needles = ["four.npy: holds 4 matrices, more than the n(n+1)/2 = 3 dimensions"];
        assert_refused(&decompose(d, &args), &kind, &needles, &d.join("run"));
    }
    let trace_free = |dim: &str| {
        let args = [
            "--set",
            "matrix.n=4",
            "--set",
            "subspace.kind=random-trace-free",
        ];
        decompose(d, &[&args[..], &["--set", dim]].concat())
    };
    let needles = [
        "`subspace.dim`",
        "must be at most n(n+1)/2 - 1 = 9",
        "got 10",
    ];
    assert_refused(
        &trace_free("subspace.dim=10"),
        "dim 10",
        &needles,
        &d.join("run"),
    );
    let out = trace_free("subspace.dim=9");
    assert_eq!(code(&out), 0, "{}", text(&out));
}

/// Sums of block sizes and 2·periods wrapped around: sizes [2^64 − 1, 5] summed to 4 = n and
/// panicked on a capacity overflow (exit 101), periods 2^63 made n = 0 and panicked.
#[test]
fn sizes_and_periods_that_overflow_exit_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a.csv"), "2,0,0,0\n0,2,0,0\n0,0,2,0\n0,0,0,2\n").unwrap();
    let sizes = format!("[{MAX}, 5]");
    let half = format!("{}", 1u64 << 63);
    let file_a = ["matrix.kind=file", "matrix.path=a.csv"];
    let exchangeable = ["matrix.kind=block-exchangeable", "matrix.diagonal=[1, 1]"];
    let fbm = [
        "matrix.kind=mixed-fbm",
        "matrix.hurst=0.7",
        "matrix.alpha=1",
    ];
    let cases: [(Vec<&str>, &str, &str); 5] = [
        (
            [&file_a[..], &["subspace.kind=block-offdiag"]].concat(),
            "subspace.sizes",
            &sizes,
        ),
        (
            [&file_a[..], &["subspace.kind=block-pattern"]].concat(),
            "subspace.sizes",
            &sizes,
        ),
        (
            [&exchangeable[..], &["subspace.kind=offdiag"]].concat(),
            "matrix.sizes",
            &sizes,
        ),
        (
            [&fbm[..], &["subspace.kind=offdiag"]].concat(),
            "matrix.periods",
            &half,
        ),
        (vec!["mode.kind=finance"], "mode.periods", &half),
    ];
    for (sets, key, value) in cases {
        let last = format!("{key}={value}");
        let mut args = Vec::new();
        for s in sets.iter().copied().chain([last.as_str()]) {
            args.extend(["--set", s]);
        }
        let why = if key.ends_with("sizes") {
            "add up to more than 18446744073709551615"
        } else {
            "observations, past the largest size 18446744073709551615"
        };
        let blame = format!("invalid value for `{key}` (from --set {last})");
        assert_refused(&decompose(d, &args), key, &[&blame, why], &d.join("run"));
    }
    // A block of size 0 (and its diagonal value) was silently dropped from A.
    let empty = ["matrix.sizes=[0, 3]", "subspace.kind=offdiag"];
    let mut args = Vec::new();
    for s in exchangeable.iter().chain(&empty) {
        args.extend(["--set", s]);
    }
    let needles = ["`matrix.sizes`", "each block needs size >= 1, got [0, 3]"];
    assert_refused(&decompose(d, &args), "size 0", &needles, &d.join("run"));
}

/// `lab decompose --quiet --out OUT --set S...` in `dir` must succeed; its B and C.
pub fn b_and_c(dir: &Path, out: &str, sets: &[&str]) -> (Array2<f64>, Array2<f64>) {
    let mut args = vec!["decompose", "--quiet", "--force", "--out", out];
    for s in sets {
        args.extend(["--set", s]);
    }
    let o = lab(dir, &args);
    assert_eq!(code(&o), 0, "{sets:?}: {}", text(&o));
    let run = dir.join(out);
    assert_eq!(
        json(&run.join("summary.json"))["converged"],
        true,
        "{sets:?}"
    );
    let b = ndarray_npy::read_npy(run.join("B.npy")).unwrap();
    (b, ndarray_npy::read_npy(run.join("C.npy")).unwrap())
}

/// A bandwidth past n − 1 is the whole band. The `banded` generator wrapped i + b + 1 at
/// b = 2^64 − 1 and made A = shift·I (exit 0, another problem than asked for); `band-complement`
/// wrapped b + 1 and failed in LAPACK (exit 1).
#[test]
fn a_bandwidth_past_n_is_the_whole_band() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (max, full) = (
        format!("matrix.bandwidth={MAX}"),
        "matrix.bandwidth=5".to_string(),
    );
    let banded = |bw: &str, out: &str| {
        let sets = ["matrix.kind=banded", "matrix.n=6", "matrix.shift=12"];
        b_and_c(
            d,
            out,
            &[&sets[..], &[bw, "subspace.kind=offdiag"]].concat(),
        )
    };
    let (b_max, _) = banded(&max, "max");
    let (b_full, _) = banded(&full, "full");
    assert_eq!(b_max, b_full, "bandwidth 2^64 - 1 must draw the full band");
    assert!(
        b_max.diag().iter().any(|&v| (v - 1.0 / 12.0).abs() > 1e-3),
        "A = 12 I"
    );
    let complement = |bw: String, out: &str| {
        let sets = ["matrix.n=6", "subspace.kind=band-complement", &bw];
        b_and_c(d, out, &sets).0
    };
    let wide = complement(format!("subspace.bandwidth={MAX}"), "wide");
    assert_eq!(wide, complement("subspace.bandwidth=5".into(), "n-1"));
}
