//! Pattern files (`subspace.pairs_file`, `subspace.mask_file`): the same pattern as YAML
//! `pairs` gives bit-identical B and C; every bad file is exit 2 naming the file and the
//! entry, with no run directory left.
use crate::common::*;
use ndarray::{arr2, Array2};
use std::path::Path;

const N: usize = 12;
/// Some pairs written (j, i) on purpose: the order within a pair does not matter.
const PAIRS: [[usize; 2]; 6] = [[0, 1], [2, 5], [7, 3], [4, 11], [10, 9], [6, 8]];

/// `lab decompose` at n = 12 with `sets` in `dir`, into `dir/run`: (exit code, output).
fn run(dir: &Path, kind: &str, sets: &[String]) -> (i32, String) {
    let mut args: Vec<String> = ["decompose", "--quiet", "--force", "--out", "run"]
        .map(String::from)
        .to_vec();
    let base = [format!("matrix.n={N}"), format!("subspace.kind={kind}")];
    for s in base.iter().chain(sets) {
        args.extend(["--set".to_string(), s.clone()]);
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = lab(dir, &refs);
    (code(&out), text(&out))
}

fn yaml_pairs(pairs: &[[usize; 2]]) -> String {
    let items: Vec<String> = pairs.iter().map(|[a, b]| format!("[{a}, {b}]")).collect();
    format!("subspace.pairs=[{}]", items.join(", "))
}

fn mask_of(pairs: &[[usize; 2]]) -> Array2<bool> {
    let mut m = Array2::from_elem((N, N), false);
    for &[a, b] in pairs {
        m[[a, b]] = true;
        m[[b, a]] = true;
    }
    m
}

/// B.npy and C.npy of a finished run, as bytes.
fn answer(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    let get = |f: &str| std::fs::read(dir.join("run").join(f)).expect(f);
    (get("B.npy"), get("C.npy"))
}

#[test]
fn pattern_files_give_the_yaml_answer_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pairs_i64 = Array2::from_shape_fn((PAIRS.len(), 2), |(k, c)| PAIRS[k][c] as i64);
    ndarray_npy::write_npy(d.join("p64.npy"), &pairs_i64).unwrap();
    ndarray_npy::write_npy(d.join("p32.npy"), &pairs_i64.mapv(|v| v as i32)).unwrap();
    ndarray_npy::write_npy(d.join("pu8.npy"), &pairs_i64.mapv(|v| v as u8)).unwrap();
    let csv: String = PAIRS.iter().map(|[a, b]| format!("{a}, {b}\n")).collect();
    std::fs::write(d.join("p.csv"), csv).unwrap();
    let mask = mask_of(&PAIRS);
    ndarray_npy::write_npy(d.join("mask.npy"), &mask).unwrap();
    ndarray_npy::write_npy(d.join("mask01.npy"), &mask.mapv(i64::from)).unwrap();
    for kind in ["pattern", "complement-pattern"] {
        let (rc, out) = run(d, kind, &[yaml_pairs(&PAIRS)]);
        assert_eq!(rc, 0, "{kind} yaml: {out}");
        let want = answer(d);
        assert!(want.0.len() > 128 + 8 * N * N - 1, "B.npy too short");
        for set in [
            "subspace.pairs_file=p64.npy",
            "subspace.pairs_file=p32.npy",
            "subspace.pairs_file=pu8.npy",
            "subspace.pairs_file=p.csv",
            "subspace.mask_file=mask.npy",
            "subspace.mask_file=mask01.npy",
        ] {
            std::fs::remove_dir_all(d.join("run")).unwrap();
            let (rc, out) = run(d, kind, &[set.to_string()]);
            assert_eq!(rc, 0, "{kind} {set}: {out}");
            assert!(
                answer(d) == want,
                "{kind} {set}: B or C differs from YAML pairs"
            );
        }
    }
}

/// Each bad file: exit 2, the message names the file and the entry, no run directory.
#[test]
fn bad_pattern_files_exit_2_naming_file_and_entry() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let npy = |name: &str, a: &Array2<i64>| ndarray_npy::write_npy(d.join(name), a).unwrap();
    npy("range.npy", &arr2(&[[0, 1], [3, 12]]));
    npy("neg.npy", &arr2(&[[0, 1], [-1, 4]]));
    npy("diag.npy", &arr2(&[[0, 1], [5, 5]]));
    npy("dup.npy", &arr2(&[[0, 1], [2, 3], [1, 0]]));
    npy("shape.npy", &arr2(&[[0, 1, 2], [2, 3, 4]]));
    npy("empty.npy", &Array2::zeros((0, 2)));
    ndarray_npy::write_npy(d.join("float.npy"), &arr2(&[[0.0, 1.0]])).unwrap();
    ndarray_npy::write_npy(
        d.join("three.npy"),
        &ndarray::Array3::<i64>::zeros((1, 2, 2)),
    )
    .unwrap();
    std::fs::write(d.join("text.csv"), "0,1\n2,x\n").unwrap();
    std::fs::write(d.join("cols.csv"), "0,1\n2,3,4\n").unwrap();
    std::fs::write(d.join("dup.csv"), "0,1\n\n3,2\n2,3\n").unwrap();
    std::fs::write(d.join("frac.csv"), "0,1.5\n").unwrap();
    let mut asym = mask_of(&PAIRS).mapv(i64::from);
    asym[[9, 4]] = 1;
    npy("asym.npy", &asym);
    let mut diag = mask_of(&PAIRS).mapv(i64::from);
    diag[[3, 3]] = 1;
    npy("mdiag.npy", &diag);
    let mut two = mask_of(&PAIRS).mapv(i64::from);
    two[[2, 5]] = 2;
    npy("two.npy", &two);
    npy("msize.npy", &Array2::zeros((N - 1, N - 1)));
    npy("mempty.npy", &Array2::zeros((N, N)));
    let cases = [
        (
            "pairs_file=range.npy",
            "range.npy: row 1 = [3, 12] is out of range for n = 12",
        ),
        (
            "pairs_file=neg.npy",
            "neg.npy: row 1 = [-1, 4] is out of range",
        ),
        (
            "pairs_file=diag.npy",
            "diag.npy: row 1 = [5, 5] is diagonal",
        ),
        (
            "pairs_file=dup.npy",
            "dup.npy: row 2 = [1, 0] is listed twice: dup.npy: row 0",
        ),
        (
            "pairs_file=shape.npy",
            "shape.npy: a pairs file needs shape (m, 2), got (2, 3)",
        ),
        ("pairs_file=empty.npy", "empty.npy: the pattern is empty"),
        (
            "pairs_file=float.npy",
            "float.npy: not a pairs file of shape (m, 2): dtype",
        ),
        (
            "pairs_file=three.npy",
            "three.npy: not a pairs file of shape (m, 2): it is 3-D",
        ),
        (
            "pairs_file=text.csv",
            "text.csv: line 2, column 2: `x` is not an integer",
        ),
        ("pairs_file=cols.csv", "cols.csv: line 2 has 3 column(s)"),
        (
            "pairs_file=dup.csv",
            "dup.csv: line 4 = [2, 3] is listed twice: dup.csv: line 3",
        ),
        (
            "pairs_file=frac.csv",
            "frac.csv: line 1, column 2: `1.5` is not an integer",
        ),
        ("pairs_file=missing.npy", "no such file missing.npy"),
        (
            "mask_file=asym.npy",
            "asym.npy: the mask is not symmetric: entry (4, 9) = 0",
        ),
        (
            "mask_file=mdiag.npy",
            "mdiag.npy: diagonal entry (3, 3) is set",
        ),
        (
            "mask_file=two.npy",
            "two.npy: entry (2, 5) = 2; a mask holds 0/1",
        ),
        (
            "mask_file=msize.npy",
            "msize.npy: the mask is 11x11 but A is 12x12",
        ),
        ("mask_file=mempty.npy", "mempty.npy: the pattern is empty"),
    ];
    for kind in ["pattern", "complement-pattern"] {
        for (set, want) in cases {
            let (rc, out) = run(d, kind, &[format!("subspace.{set}")]);
            assert_eq!(rc, 2, "{kind} {set}: {out}");
            assert!(
                out.contains(want),
                "{kind} {set}: expected `{want}` in: {out}"
            );
            assert!(
                !d.join("run").exists(),
                "{kind} {set}: a run directory was left"
            );
        }
    }
    // Two sources at once, or none, is a config error naming the keys.
    let both = [
        "subspace.pairs=[[0, 1]]".into(),
        "subspace.mask_file=mempty.npy".into(),
    ];
    let (rc, out) = run(d, "pattern", &both);
    assert_eq!(rc, 2, "{out}");
    assert!(
        out.contains("exactly one of `pairs`, `pairs_file` and `mask_file` (2 given)"),
        "{out}"
    );
    let (rc, out) = run(d, "pattern", &[]);
    assert_eq!(rc, 2, "{out}");
    assert!(out.contains("(0 given)"), "{out}");
    assert!(!d.join("run").exists());
}

/// An index as large as u64::MAX is quoted as written (18446744073709551615), from a u64
/// `.npy`, a `.csv` or the YAML, not as i64::MAX or as "not an integer".
#[test]
fn huge_indices_are_quoted_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let max = u64::MAX;
    ndarray_npy::write_npy(d.join("big.npy"), &arr2(&[[0u64, 1], [max, 1]])).unwrap();
    std::fs::write(d.join("big.csv"), format!("{max},1\n")).unwrap();
    std::fs::write(d.join("huge.csv"), format!("1,{max}{max}\n")).unwrap();
    let mut mask = mask_of(&PAIRS).mapv(u64::from);
    mask[[2, 5]] = max;
    ndarray_npy::write_npy(d.join("mbig.npy"), &mask).unwrap();
    let cases = [
        (
            "subspace.pairs_file=big.npy".to_string(),
            format!("big.npy: row 1 = [{max}, 1] is out of range for n = 12"),
        ),
        (
            "subspace.pairs_file=big.csv".to_string(),
            format!("big.csv: line 1 = [{max}, 1] is out of range for n = 12"),
        ),
        (
            "subspace.pairs_file=huge.csv".to_string(),
            format!("huge.csv: line 1, column 2: `{max}{max}` is out of range"),
        ),
        (
            format!("subspace.pairs=[[{max}, 1]]"),
            format!("subspace pair 0 = [{max}, 1] is out of range for n = 12"),
        ),
        (
            "subspace.mask_file=mbig.npy".to_string(),
            "mbig.npy: entry (2, 5) = >= 9223372036854775807; a mask holds 0/1".to_string(),
        ),
    ];
    for (set, want) in cases {
        let (rc, out) = run(d, "pattern", std::slice::from_ref(&set));
        assert_eq!(rc, 2, "{set}: {out}");
        assert!(out.contains(&want), "{set}: expected `{want}` in: {out}");
        assert!(!out.contains("9223372036854775807]"), "{set}: {out}");
    }
}
