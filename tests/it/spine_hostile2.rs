//! The shared spine on inputs earlier rounds missed: a config number too small for a float
//! (`1e-400` read as 0), `--force` over a run whose name is near the 255-byte limit, a run
//! placed by hand inside a study, a metrics.csv naming a column twice in `lab report`, and a
//! study's input file edited between its start and `--resume`.
use crate::common::*;
use std::path::Path;
use std::process::Output;

/// `o` ended with exit 2 and says each of `needles`, without a panic.
fn assert_usage(o: &Output, needles: &[&str]) {
    assert_eq!(code(o), 2, "{}", text(o));
    let err = stderr(o);
    for needle in needles {
        assert!(err.contains(needle), "no `{needle}` in {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_nonzero_number_too_small_for_a_float_is_refused_where_zeros_and_subnormals_read() {
    let tmp = tempfile::tempdir().unwrap();
    let yaml = "matrix: {kind: random-spd, n: 8}\nsolver:\n  tol_residual: 1e-400\n";
    std::fs::write(tmp.path().join("tiny.yaml"), yaml).unwrap();
    let o = lab(
        tmp.path(),
        &["decompose", "--config", "tiny.yaml", "--print-config"],
    );
    assert_usage(
        &o,
        &[
            "tiny.yaml line 3 (`solver.tol_residual`): 1e-400 is not zero",
            "write 0",
        ],
    );
    let o = lab(
        tmp.path(),
        &[
            "decompose",
            "--set",
            "solver.tol_residual=-2.5e-999",
            "--print-config",
        ],
    );
    assert_usage(
        &o,
        &["--set `solver.tol_residual=-2.5e-999`: -2.5e-999 is not zero"],
    );
    // In a study grid too (its values are read from the same file).
    let grid = "matrix: {kind: random-spd, n: 8}\nstudy:\n  grid:\n    solver.tol_residual: [1e-9, 1e-500]\n";
    std::fs::write(tmp.path().join("grid.yaml"), grid).unwrap();
    let o = lab(tmp.path(), &["decompose", "--config", "grid.yaml"]);
    assert_usage(
        &o,
        &["grid.yaml line 4 (`study.grid.solver.tol_residual`): 1e-500"],
    );
    assert!(!tmp.path().join("results").exists());
    // Zero written in any form, and a subnormal (finite, nonzero), read as written.
    let fine = "matrix: {kind: random-spd, n: 8, condition: 1.0e+1}\nseed: 0e5 # not 1e-400\n\
                solver: {tol_residual: 1e-310, tol_decrement: 1e-30}\n";
    std::fs::write(tmp.path().join("fine.yaml"), fine).unwrap();
    let o = lab(
        tmp.path(),
        &[
            "decompose",
            "--config",
            "fine.yaml",
            "--set",
            "seed=-0.0",
            "--print-config",
        ],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    let out = stdout(&o);
    assert!(out.contains("tol_residual: 1e-310"), "{out}");
    assert!(out.contains("seed: 0\n"), "{out}");
    // A range check's message names a tiny or huge value as written, not in 300 digits.
    for (set, got) in [
        ("matrix.condition=1e-300", "got 1e-300"),
        ("solver.tol_residual=-1e-310", "got -1e-310"),
    ] {
        let o = lab(tmp.path(), &["decompose", "--set", set, "--print-config"]);
        assert_usage(&o, &[got]);
        assert!(!stderr(&o).contains("00000000000000000000"), "{}", text(&o));
    }
}

#[test]
fn force_over_a_run_named_near_the_length_limit_moves_it_aside_under_a_shorter_name() {
    let tmp = tempfile::tempdir().unwrap();
    let name = "r".repeat(250);
    let args = [
        "decompose",
        "--set",
        "matrix.n=8",
        "--quiet",
        "--name",
        &name,
    ];
    let o = lab(tmp.path(), &args);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let o = lab(tmp.path(), &[&args[..], &["--force"]].concat());
    assert_eq!(code(&o), 0, "{}", text(&o));
    let dir = tmp.path().join("results/decompose");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort_by_key(|n| n.contains(".replaced-"));
    assert_eq!(names.len(), 2, "{names:?}");
    assert_eq!(names[0], name);
    let aside = &names[1];
    assert!(
        aside.len() <= 255 && aside.contains(".replaced-"),
        "{aside}"
    );
    assert!(aside.starts_with(&"r".repeat(200)), "{aside}");
    assert!(dir.join(aside).join("meta.json").is_file());
    assert!(stderr(&o).contains(aside.as_str()), "{}", text(&o));
}

#[test]
fn a_run_placed_inside_a_study_is_named_in_its_report_not_passed_over() {
    let tmp = tempfile::tempdir().unwrap();
    let o = decompose_study(tmp.path(), "s", "{matrix.n: [8]}", "[0]", &["--quiet"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let study = tmp.path().join("results/decompose/s");
    let run = study.join("matrix.n=8/seed-0");
    let copy = |to: &Path| {
        std::fs::create_dir_all(to).unwrap();
        for f in ["meta.json", "summary.json", "config.yaml"] {
            std::fs::copy(run.join(f), to.join(f)).unwrap();
        }
    };
    copy(&study.join("matrix.n=8/seed-7"));
    copy(&study.join("mine/extra"));
    // An earlier attempt a resume set aside was announced then: not named again.
    copy(&study.join("matrix.n=8/seed-0.replaced-20260101-000000"));
    let o = lab(tmp.path(), &["report", "results/decompose/s"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let err = stderr(&o);
    let note = "results/decompose/s/matrix.n=8/seed-7 (and results/decompose/s/mine/extra) are \
                lab runs inside this study but not among the runs study.json plans";
    assert!(err.contains(note), "{err}");
    assert!(!err.contains("seed-0.replaced"), "{err}");
    assert!(read(&study.join("report.md")).contains(note));
}

#[test]
fn report_leaves_out_of_its_plots_a_run_whose_metrics_csv_names_a_column_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let o = decompose_study(tmp.path(), "s", "{matrix.n: [8]}", "[0, 1]", &["--quiet"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let study = tmp.path().join("results/decompose/s");
    let csv = study.join("matrix.n=8/seed-0/metrics.csv");
    let body = read(&csv);
    let (header, rows) = body.split_once('\n').unwrap();
    assert!(header.starts_with("iter,objective,decrement,"), "{header}");
    let header = header.replacen("objective", "decrement", 1);
    std::fs::write(&csv, format!("{header}\n{rows}")).unwrap();
    let o = lab(tmp.path(), &["report", "results/decompose/s"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let err = stderr(&o);
    let note = "matrix.n=8/seed-0/metrics.csv: the header names column `decrement` twice \
                (columns 2 and 3";
    assert!(err.contains(note), "{err}");
    assert!(err.contains("that run is left out of the plots"), "{err}");
    // The other seed is still drawn, and both seeds' summaries are in the table.
    assert!(
        study.join("plots/decrement_vs_iter.png").is_file(),
        "{}",
        text(&o)
    );
    let md = read(&study.join("report.md"));
    assert!(md.contains(note), "{md}");
    assert!(!md.contains("could not be drawn"), "{md}");
}

#[test]
fn resume_refuses_an_input_file_edited_since_the_study_started() {
    let tmp = tempfile::tempdir().unwrap();
    let rows: Vec<String> = (0..6)
        .map(|i| {
            let row: Vec<String> = (0..6)
                .map(|j| {
                    if i == j {
                        "4.0".into()
                    } else {
                        format!("0.{}", (i + j) % 3)
                    }
                })
                .collect();
            row.join(",")
        })
        .collect();
    std::fs::write(tmp.path().join("m.csv"), rows.join("\n") + "\n").unwrap();
    let yaml = "matrix: {kind: file, path: m.csv}\n\
                subspace: {kind: random-pattern, density: 0.3}\n\
                output: {save_matrices: false}\n\
                study:\n  name: fs\n  seeds: [0, 1]\n  grid: {subspace.density: [0.3, 0.5]}\n";
    std::fs::write(tmp.path().join("fs.yaml"), yaml).unwrap();
    let args = ["decompose", "--config", "fs.yaml", "--quiet"];
    let o = lab(tmp.path(), &args);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let study = tmp.path().join("results/decompose/fs");
    let record = json(&study.join("study.json"));
    assert_eq!(record["inputs"][0]["path"], "m.csv", "{record}");
    assert_eq!(record["inputs"][0]["keys"][0], "matrix.path", "{record}");
    // Unchanged: the resume runs the missing run.
    let last = study.join("subspace.density=0.5/seed-1");
    std::fs::remove_dir_all(&last).unwrap();
    let resume = [&args[..], &["--resume"]].concat();
    let o = lab(tmp.path(), &resume);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(last.join("summary.json").is_file());
    // Edited (still a valid matrix): refused before any run, naming the file, key and cells.
    std::fs::remove_dir_all(&last).unwrap();
    let edited = read(&tmp.path().join("m.csv")).replacen("4.0", "5.0", 1);
    std::fs::write(tmp.path().join("m.csv"), edited).unwrap();
    let o = lab(tmp.path(), &resume);
    assert_usage(
        &o,
        &[
            "m.csv (`matrix.path` of cells subspace.density=0.3, subspace.density=0.5)",
            "changed since it started",
            "restore the file",
        ],
    );
    assert!(!last.exists());
    // Once every run that uses the file has finished, nothing would run on the new contents:
    // an edit then is no reason to refuse the resume (it was refused).
    let original = read(&tmp.path().join("m.csv")).replacen("5.0", "4.0", 1);
    std::fs::write(tmp.path().join("m.csv"), original).unwrap();
    assert_eq!(code(&lab(tmp.path(), &resume)), 0);
    let edited = read(&tmp.path().join("m.csv")).replacen("4.0", "5.0", 1);
    std::fs::write(tmp.path().join("m.csv"), edited).unwrap();
    let o = lab(tmp.path(), &resume);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(last.join("summary.json").is_file());
}

#[test]
fn a_grid_axis_inside_the_study_block_is_refused_for_what_it_is() {
    let tmp = tempfile::tempdir().unwrap();
    let o = decompose_study(tmp.path(), "s", "{study.name: [a, b]}", "[0]", &[]);
    assert_usage(
        &o,
        &["`study.grid.study.name`: the study block itself cannot be a grid axis"],
    );
    assert!(
        !stderr(&o).contains("study.seeds` for seeds"),
        "{}",
        text(&o)
    );
    let o = decompose_study(tmp.path(), "s", "{seed: [1, 2]}", "[0]", &[]);
    assert_usage(&o, &["use `study.seeds` for seeds"]);
}
