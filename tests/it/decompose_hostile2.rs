//! `lab decompose` on hostile inputs, round 3: a matrix file that is read but is not an SPD
//! matrix is refused naming the file (the message said only "A is not symmetric").
use crate::common::*;
use crate::decompose_hostile::decompose_file;

/// NaN, asymmetric, indefinite and out-of-range matrices from `matrix.path`: exit 2, no run
/// folder, and the message names the key and the file as well as what is wrong with A.
#[test]
fn a_matrix_file_that_is_not_spd_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases = [
        ("nan.csv", "nan,0\n0,1\n", "A[0,0] = NaN is not finite"),
        ("asym.csv", "2,1\n0,2\n", "A is not symmetric"),
        ("indefinite.csv", "1,2\n2,1\n", "A is not positive definite"),
        (
            "tiny.csv",
            "1e-200,0\n0,1e-200\n",
            "is outside [1e-100, 1e100]",
        ),
    ];
    for (name, body, want) in cases {
        std::fs::write(d.join(name), body).unwrap();
        let out = decompose_file(d, name);
        let named = format!("matrix.path {name}");
        assert_refused(&out, name, &[&named, want], &d.join("run"));
    }
}
