//! A run or study created inside another run's folder (`--out` into a run, or `lab` started
//! from inside one): `report`, `plot` and `compare` take a folder with meta.json for one run
//! and never look inside it, so the nested one was written where nothing would list it. Refused
//! now (exit 2, nothing written), saying why; a folder whose meta.json another tool wrote is no run.
use crate::common::*;

const CONFIG: &str = "matrix: {kind: random-spd, n: 8, condition: 10.0}\n\
                      subspace: {kind: random-pattern, density: 0.3}\n\
                      output: {save_matrices: false}\n";

#[test]
fn runs_and_studies_inside_a_run_folder_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let config = dir.join("one.yaml");
    std::fs::write(&config, CONFIG).unwrap();
    let config = config.to_str().unwrap();
    let run = |cwd: &std::path::Path, out: &str| {
        lab(
            cwd,
            &["decompose", "--quiet", "--config", config, "--out", out],
        )
    };
    let o = run(dir, "a");
    assert_eq!(code(&o), 0, "{}", text(&o));
    // A folder that is no run may hold runs, also when another tool's meta.json lies there.
    let o = run(dir, "plain/b");
    assert_eq!(code(&o), 0, "{}", text(&o));
    std::fs::create_dir(dir.join("other")).unwrap();
    std::fs::write(dir.join("other/meta.json"), "{\"tool\": \"not lab\"}").unwrap();
    let o = run(dir, "other/c");
    assert_eq!(code(&o), 0, "{}", text(&o));
    let real = dir.canonicalize().unwrap().join("a");
    let why = format!("inside the lab run {} (it has a meta.json)", real.display());
    for (cwd, out, gone) in [
        (dir.to_path_buf(), "a/inner", dir.join("a/inner")),
        (dir.to_path_buf(), "a/deeper/inner", dir.join("a/deeper")),
        (dir.join("a"), "from-inside", dir.join("a/from-inside")),
    ] {
        let o = run(&cwd, out);
        assert_eq!(code(&o), 2, "{out}: {}", text(&o));
        let err = stderr(&o);
        assert!(
            err.contains(&format!("cannot create the run directory --out {out}")),
            "{err}"
        );
        assert!(err.contains(&why), "{err}");
        assert!(!gone.exists(), "{out} was written");
    }
    let quiet = ["--quiet", "--out", "a/st"];
    let o = decompose_study(dir, "s", "{matrix.n: [8]}", "[0]", &quiet);
    assert_eq!(code(&o), 2, "{}", text(&o));
    let err = stderr(&o);
    assert!(
        err.contains("cannot create the study directory --out a/st") && err.contains(&why),
        "{err}"
    );
    assert!(!dir.join("a/st").exists(), "the study was written");
}
