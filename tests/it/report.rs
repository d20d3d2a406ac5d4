//! `lab report`, `lab plot` and `lab compare` on real runs: valid PNG/SVG files, tables that
//! match the runs, and clear errors for bad input.
use crate::common::*;
use std::path::{Path, PathBuf};

/// A finished 2 × 2 study in a temp dir (returns the temp dir guard and the study dir).
fn small_study() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let yaml = study_yaml("dens", "{subspace.density: [0.2, 0.5]}", "[0, 1]");
    std::fs::write(tmp.path().join("dens.yaml"), yaml).unwrap();
    let out = lab(
        tmp.path(),
        &[
            "decompose",
            "--config",
            "dens.yaml",
            "--jobs",
            "2",
            "--quiet",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let study = tmp.path().join("results/decompose/dens");
    (tmp, study)
}

fn assert_png(path: &Path) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "PNG signature");
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("PNG header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("PNG pixels");
    assert_eq!((info.width, info.height), (900, 560));
    // Not blank: a white canvas with lines, band and text has many distinct colours.
    let distinct: std::collections::HashSet<&[u8]> = buf.chunks(3).collect();
    assert!(distinct.len() > 20, "only {} colours", distinct.len());
}

fn assert_svg(path: &Path, must_contain: &[&str]) {
    let text = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("SVG is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let texts: String = doc.descendants().filter_map(|n| n.text()).collect();
    for s in must_contain {
        assert!(texts.contains(s), "SVG text lacks {s}: {texts}");
    }
    assert!(
        doc.descendants().any(|n| n.tag_name().name() == "polygon"),
        "a band"
    );
}

#[test]
fn report_embeds_default_plots_that_are_valid_images() {
    let (tmp, study) = small_study();
    let report = std::fs::read_to_string(study.join("report.md")).unwrap();
    assert!(
        report.contains("![decrement vs iter](plots/decrement_vs_iter.png)"),
        "{report}"
    );
    assert_png(&study.join("plots/decrement_vs_iter.png"));
    assert_svg(
        &study.join("plots/decrement_vs_iter.svg"),
        &[
            "iter",
            "decrement",
            "subspace.density=0.2",
            "subspace.density=0.5",
        ],
    );
    // Re-running the report from the files alone gives the same text.
    std::fs::remove_file(study.join("report.md")).unwrap();
    let out = lab(tmp.path(), &["report", study.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(study.join("report.md")).unwrap(),
        report
    );
}

#[test]
fn plot_draws_several_columns_to_a_chosen_file() {
    let (tmp, study) = small_study();
    let svg = tmp.path().join("out/two.svg");
    let args = [
        "plot",
        study.to_str().unwrap(),
        "--x",
        "iter",
        "--y",
        "objective",
        "--y",
        "grad_norm",
        "-o",
        svg.to_str().unwrap(),
    ];
    let out = lab(tmp.path(), &args);
    assert!(out.status.success(), "{}", text(&out));
    assert_svg(
        &svg,
        &["objective", "grad_norm", "subspace.density=0.5: grad_norm"],
    );
    let one_run = study.join("subspace.density=0.2/seed-0");
    let out = lab(
        tmp.path(),
        &[
            "plot",
            one_run.to_str().unwrap(),
            "--x",
            "iter",
            "--y",
            "decrement",
            "--logy",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_png(&one_run.join("plots/decrement_vs_iter.png"));
    // The extension picks the format in any case.
    let upper = tmp.path().join("out/UPPER.PNG");
    let args = [
        "plot",
        study.to_str().unwrap(),
        "--x",
        "iter",
        "--y",
        "decrement",
        "-o",
    ];
    let out = lab(
        tmp.path(),
        &[&args[..], &[upper.to_str().unwrap()]].concat(),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_png(&upper);
}

#[test]
fn compare_shows_metrics_and_differing_config_keys() {
    let (tmp, study) = small_study();
    let a = study.join("subspace.density=0.2/seed-0");
    let b = study.join("subspace.density=0.5/seed-1");
    let out = lab(
        tmp.path(),
        &["compare", a.to_str().unwrap(), b.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let row = |key: &str| {
        stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(key))
            .unwrap_or_else(|| panic!("no row {key} in\n{stdout}"))
            .split_whitespace()
            .skip(1)
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(row("subspace.density"), ["0.2", "0.5"]);
    assert_eq!(row("seed"), ["0", "1"]);
    assert_eq!(row("status"), ["completed", "completed"]);
    let iters = json(&a.join("summary.json"))["iterations"]
        .as_u64()
        .unwrap()
        .to_string();
    assert_eq!(row("iterations")[0], iters);
    assert!(
        !stdout.contains("matrix.n "),
        "equal keys are not listed:\n{stdout}"
    );
}

#[test]
fn bad_paths_and_columns_exit_2() {
    let (tmp, study) = small_study();
    let s = study.to_str().unwrap();
    let run = study.join("subspace.density=0.2/seed-0");
    let meta = run.join("meta.json");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["report", "no/such/dir"], "no such directory"),
        (
            vec!["report", meta.to_str().unwrap()],
            "meta.json: not a directory",
        ),
        (
            vec!["plot", s, "--x", "iter", "--y", "nope"],
            "`nope` is not a column",
        ),
        (
            vec!["plot", s, "--x", "iter", "--y", "decrement", "-o", "x.jpg"],
            "lab plot -o x.jpg: the plot file must end in .png or .svg",
        ),
        (
            vec!["compare", s, run.to_str().unwrap()],
            "not a lab run directory",
        ),
        (
            vec!["compare", run.to_str().unwrap()],
            "2 values required by '<RUN> <RUN>...'; only 1 was provided",
        ),
    ];
    for (args, message) in cases {
        let out = lab(tmp.path(), &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(
            text(&out).contains(message),
            "{args:?}: want {message}\n{}",
            text(&out)
        );
    }
    let empty = tempfile::tempdir().unwrap();
    let out = lab(tmp.path(), &["report", empty.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("no lab runs found"), "{}", text(&out));

    // A metrics.csv with a row of the wrong width (edited, or cut short): exit 2 naming its line.
    let metrics = run.join("metrics.csv");
    let rows = std::fs::read_to_string(&metrics).unwrap().lines().count();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&metrics)
        .unwrap();
    std::io::Write::write_all(&mut f, b"1,2\n").unwrap();
    let args = [
        "plot",
        run.to_str().unwrap(),
        "--x",
        "iter",
        "--y",
        "decrement",
    ];
    let out = lab(tmp.path(), &args);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let line = format!("(line: {}, ", rows + 1);
    for want in ["metrics.csv is not a well-formed CSV table", line.as_str()] {
        assert!(text(&out).contains(want), "want {want}: {}", text(&out));
    }
}
