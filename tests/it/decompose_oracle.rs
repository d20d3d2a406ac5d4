//! Oracle test (spec §7.3): an independent generic conic solver (CVXPY + Clarabel, run once by
//! scripts/decompose-oracle.py) against every project solver on the committed fixture.
use crate::decompose_common::*;
use lab::decompose::structures::Subspace;
use ndarray::Array2;
use serde_json::Value;

fn matrix(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).expect("matrix");
    let n = rows.len();
    Array2::from_shape_fn((n, rows[0].len()), |(i, j)| rows[i][j])
}

#[test]
fn matches_the_conic_solver_fixture() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/decompose/oracle.json");
    let text = std::fs::read_to_string(path).expect("fixture");
    let cases: Vec<Value> = serde_json::from_str(&text).expect("json");
    assert_eq!(cases.len(), 4);
    for case in &cases {
        let a = matrix(&case["a"]);
        let n = a.nrows();
        let ds: Vec<Array2<f64>> = case["basis"]
            .as_array()
            .unwrap()
            .iter()
            .map(matrix)
            .collect();
        let c_ref = matrix(&case["c"]);
        let obj_ref = case["log_det_a_minus_c"].as_f64().unwrap();
        let sub = Subspace::from_elements(n, ds.iter().map(sparse).collect(), true);
        for method in ITERATIVE {
            let out = run(&a, &sub, method).unwrap();
            let obj = ln_det(&(&a - &out.c));
            let what = format!("n={n} {} {method:?}", case["kind"]);
            assert!(
                (obj - obj_ref).abs() <= 1e-7,
                "{what}: log det {obj} vs {obj_ref}"
            );
            // The conic solver reports "may be inaccurate" at 1e-12 tolerances: its C is ~1e-6.
            assert!(
                rel(&out.c, &c_ref) <= 1e-4,
                "{what}: C differs by {:e}",
                rel(&out.c, &c_ref)
            );
            assert!(
                obj >= obj_ref - 1e-9,
                "{what}: the conic solver found a better point"
            );
        }
    }
}
