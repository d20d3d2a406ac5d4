//! `lab plot` and `lab compare` on hostile input: damaged metrics.csv cells, an -o file that is
//! the user's, a file where a folder must be, the same run given twice, runs of two subcommands.
use crate::common::*;
use std::path::Path;

/// A completed run written by hand, with `metrics` as its metrics.csv.
fn fake_run(dir: &Path, subcommand: &str, metrics: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let meta = format!(r#"{{"status": "completed", "subcommand": "{subcommand}"}}"#);
    std::fs::write(dir.join("meta.json"), meta).unwrap();
    std::fs::write(
        dir.join("config.yaml"),
        format!("seed: 0\n{subcommand}: 1\n"),
    )
    .unwrap();
    std::fs::write(dir.join("summary.json"), r#"{"loss": 0.2}"#).unwrap();
    std::fs::write(dir.join("metrics.csv"), metrics).unwrap();
}

const GOOD: &str = "step,loss\n1,0.5\n2,0.4\n3,0.2\n";

fn plot(cwd: &Path, run: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["plot", run, "--x", "step", "--y", "loss"];
    args.extend_from_slice(extra);
    lab(cwd, &args)
}

#[test]
fn plot_refuses_a_cell_that_is_not_a_number_naming_file_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    fake_run(
        &tmp.path().join("r"),
        "decompose",
        "step,loss\n1,0.5\n2,abc\n3,0.2\n",
    );
    let out = plot(tmp.path(), "r", &[]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    let want = "r/metrics.csv line 3: `loss` is \"abc\", not a number";
    assert!(stderr(&out).contains(want), "{}", text(&out));
    assert!(!tmp.path().join("r/plots").exists(), "nothing drawn");
}

#[test]
fn plot_says_an_empty_metrics_csv_is_empty() {
    let tmp = tempfile::tempdir().unwrap();
    fake_run(&tmp.path().join("r"), "decompose", "");
    let out = plot(tmp.path(), "r", &[]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(
        stderr(&out).contains("r/metrics.csv is empty (no header line)"),
        "{}",
        text(&out)
    );
}

#[test]
fn plot_notes_non_finite_and_repeated_x_rows_it_leaves_out() {
    let tmp = tempfile::tempdir().unwrap();
    let metrics = "step,loss\n1,0.5\n2,NaN\n3,inf\n3,0.1\n4,0.2\n4,0.9\n5,\n";
    fake_run(&tmp.path().join("r"), "decompose", metrics);
    let out = plot(tmp.path(), "r", &["-o", "f.svg"]);
    assert!(out.status.success(), "{}", text(&out));
    let nonfinite = "2 points with NaN or infinite `step` or y left out";
    let repeated = "1 point left out whose `step` repeats an earlier row's";
    for note in [nonfinite, repeated] {
        assert!(stderr(&out).contains(note), "{note}: {}", text(&out));
        // (up to the apostrophe, which SVG may write as an entity)
        let drawn = note.split('\'').next().unwrap();
        assert!(
            read(&tmp.path().join("f.svg")).contains(drawn),
            "{note} in the figure"
        );
    }
}

#[test]
fn plot_output_never_replaces_a_users_file_without_force_which_moves_it_aside() {
    let tmp = tempfile::tempdir().unwrap();
    fake_run(&tmp.path().join("r"), "decompose", GOOD);
    let mine = tmp.path().join("fig.png");
    std::fs::write(&mine, "my own figure").unwrap();
    let out = plot(tmp.path(), "r", &["-o", "fig.png"]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(
        stderr(&out).contains("fig.png: the file already exists"),
        "{}",
        text(&out)
    );
    assert_eq!(read(&mine), "my own figure");

    let out = plot(tmp.path(), "r", &["-o", "fig.png", "--force"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(std::fs::read(&mine).unwrap().starts_with(b"\x89PNG"));
    let aside: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("fig.png.replaced-"))
        .collect();
    assert_eq!(aside.len(), 1, "{}", text(&out));
    assert_eq!(read(&aside[0]), "my own figure");

    std::fs::create_dir(tmp.path().join("dir.svg")).unwrap();
    let out = plot(tmp.path(), "r", &["-o", "dir.svg", "--force"]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(
        stderr(&out).contains("dir.svg: that is a directory"),
        "{}",
        text(&out)
    );
}

#[test]
fn plot_into_a_path_whose_folder_is_a_file_is_a_usage_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    fake_run(&tmp.path().join("r"), "decompose", GOOD);
    std::fs::write(tmp.path().join("notes"), "mine").unwrap();
    let out = plot(tmp.path(), "r", &["-o", "notes/sub/f.png"]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    let want = "cannot write notes/sub/f.png: notes is a file, not a directory";
    assert!(stderr(&out).contains(want), "{}", text(&out));

    std::fs::write(tmp.path().join("r/plots"), "mine too").unwrap();
    let out = plot(tmp.path(), "r", &[]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(stderr(&out).contains("r/plots is a file"), "{}", text(&out));
    assert_eq!(read(&tmp.path().join("r/plots")), "mine too");
}

#[test]
fn compare_refuses_the_same_run_twice_and_names_a_missing_one() {
    let tmp = tempfile::tempdir().unwrap();
    fake_run(&tmp.path().join("a"), "decompose", GOOD);
    fake_run(&tmp.path().join("b"), "decompose", GOOD);
    let out = lab(tmp.path(), &["compare", "a", "b", "./a/"]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(
        stderr(&out).contains("a and ./a/ are the same run"),
        "{}",
        text(&out)
    );
    let out = lab(tmp.path(), &["compare", "a", "nowhere"]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(
        stderr(&out).contains("nowhere: no such directory"),
        "{}",
        text(&out)
    );
}

#[test]
fn compare_of_two_subcommands_says_which_run_is_which() {
    let tmp = tempfile::tempdir().unwrap();
    fake_run(&tmp.path().join("a"), "decompose", GOOD);
    fake_run(&tmp.path().join("b"), "grng", GOOD);
    let out = lab(tmp.path(), &["compare", "a", "b"]);
    assert!(out.status.success(), "{}", text(&out));
    let table = stdout(&out);
    let row = table
        .lines()
        .find(|l| l.starts_with("subcommand"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>());
    assert_eq!(
        row,
        Some(vec!["subcommand", "decompose", "grng"]),
        "{}",
        text(&out)
    );
    // Runs of one subcommand keep the table as it was.
    fake_run(&tmp.path().join("c"), "decompose", GOOD);
    let out = lab(tmp.path(), &["compare", "a", "c"]);
    assert!(!stdout(&out).contains("subcommand"), "{}", text(&out));
}

#[test]
fn plot_files_of_columns_with_non_latin_names_do_not_overwrite_each_other() {
    let tmp = tempfile::tempdir().unwrap();
    fake_run(
        &tmp.path().join("r"),
        "decompose",
        "step,λ,μ\n1,0.5,2\n2,0.4,3\n",
    );
    for y in ["λ", "μ"] {
        let out = lab(tmp.path(), &["plot", "r", "--x", "step", "--y", y]);
        assert!(out.status.success(), "{}", text(&out));
        let svg = tmp.path().join(format!("r/plots/{y}_vs_step.svg"));
        assert!(
            read(&svg).contains(&format!("{y} vs step")),
            "{}",
            text(&out)
        );
    }
}

#[test]
fn plot_refuses_the_same_y_column_twice() {
    let tmp = tempfile::tempdir().unwrap();
    fake_run(&tmp.path().join("r"), "decompose", GOOD);
    let out = plot(tmp.path(), "r", &["--y", "loss"]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(
        stderr(&out).contains("--y loss is given twice"),
        "{}",
        text(&out)
    );
    assert!(!tmp.path().join("r/plots").exists(), "nothing drawn");
}

#[test]
fn plot_notes_a_run_without_metrics_csv_instead_of_dropping_it_silently() {
    let tmp = tempfile::tempdir().unwrap();
    fake_run(&tmp.path().join("c/a"), "decompose", GOOD);
    fake_run(&tmp.path().join("c/b"), "decompose", GOOD);
    std::fs::remove_file(tmp.path().join("c/b/metrics.csv")).unwrap();
    let out = plot(tmp.path(), "c", &["-o", "f.svg"]);
    assert!(out.status.success(), "{}", text(&out));
    let note = "1 run without metrics.csv left out (c/b)";
    assert!(stderr(&out).contains(note), "{}", text(&out));
    assert!(
        read(&tmp.path().join("f.svg")).contains(note),
        "in the figure"
    );
}

/// Values near f64::MAX overflowed the axis span or its margin to infinity, and the chart's tick
/// search then never ended: such rows are left out with a note, as NaN ones are.
#[test]
fn plot_leaves_out_values_too_large_to_draw_instead_of_hanging() {
    let tmp = tempfile::tempdir().unwrap();
    let metrics = "step,loss\n1,0.5\n2,1.7e308\n3,-1e308\n4,0.2\n1e308,0.1\n";
    fake_run(&tmp.path().join("r"), "decompose", metrics);
    let out =
        crate::spine_hostile::lab_within(tmp.path(), &["plot", "r", "--x", "step", "--y", "loss"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let note = "3 points with `step` or y beyond ±1e300 left out (too large to draw)";
    assert!(stderr(&out).contains(note), "{}", text(&out));
    assert!(tmp.path().join("r/plots/loss_vs_step.svg").exists());
    // Only such rows: nothing to plot, and the note says why.
    fake_run(
        &tmp.path().join("big"),
        "decompose",
        "step,loss\n1,1.7e308\n2,1.7e308\n",
    );
    let out = crate::spine_hostile::lab_within(
        tmp.path(),
        &["plot", "big", "--x", "step", "--y", "loss"],
    );
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(stderr(&out).contains("too large to draw"), "{}", text(&out));
}
