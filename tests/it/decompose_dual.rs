//! `dual-newton-cg` converges on small well-posed random problems where it used to stop with
//! "the damped Newton step left the PD cone".
use crate::common::*;
use std::path::Path;

fn run_lab(dir: &Path, sets: &[String]) -> (i32, String) {
    let mut args = vec!["decompose", "--quiet", "--force", "--out", "run"];
    for s in sets {
        args.extend(["--set", s.as_str()]);
    }
    let out = lab(dir, &args);
    (code(&out), text(&out))
}

/// `lab decompose --set matrix.n=N --set matrix.condition=1000 --set subspace.density=0.1
/// --set solver.method=dual-newton-cg` stopped with "the damped Newton step left the PD cone"
/// for every n in 10..=30 (also with fixed CG forcing, or without Jacobi); now each converges
/// with every certificate passing.
#[test]
fn dual_newton_cg_converges_on_small_ill_conditioned_random_problems() {
    let default = "solver.cg_jacobi=true";
    let cases = [10, 15, 20, 25, 30]
        .map(|n| (n, default))
        .into_iter()
        .chain([
            (10, "solver.cg_forcing=fixed"),
            (10, "solver.cg_jacobi=false"),
        ]);
    for (n, extra) in cases {
        let dir = tempfile::tempdir().unwrap();
        let sets = [
            format!("matrix.n={n}"),
            "matrix.condition=1000".into(),
            "subspace.density=0.1".into(),
            "solver.method=dual-newton-cg".into(),
            extra.into(),
        ];
        let (code, text) = run_lab(dir.path(), &sets);
        let case = format!("n {n}, {extra}: {text}");
        assert_eq!(code, 0, "{case}");
        let s = json(&dir.path().join("run/summary.json"));
        assert_eq!(s["converged"].as_bool(), Some(true), "{case}");
        assert_eq!(s["method"].as_str(), Some("dual-newton-cg"), "{case}");
        let failures = s["certificate_failures"].as_array().expect("failures");
        assert!(failures.is_empty(), "{case}");
    }
}
