//! What a reader sees in a `lab plot` figure: the legend below the axes (never over a curve),
//! one tick format per axis, the band explained with the run counts, points a log axis left
//! out, no markdown backticks in titles, and one figure per env as `lab report` draws them.
use crate::common::*;
use std::path::Path;

/// A finished run with metrics.csv `rows` under `header` (and a config shared by its folder).
fn run_with_metrics(dir: &Path, header: &str, rows: &[String]) {
    std::fs::create_dir_all(dir).unwrap();
    let meta = r#"{"status": "completed", "subcommand": "decompose"}"#;
    std::fs::write(dir.join("meta.json"), meta).unwrap();
    std::fs::write(dir.join("config.yaml"), "seed: 0\n").unwrap();
    std::fs::write(
        dir.join("metrics.csv"),
        format!("{header}\n{}\n", rows.join("\n")),
    )
    .unwrap();
}

/// Every text of an SVG with its (x, y) position.
fn svg_texts(path: &Path) -> Vec<(String, f64, f64)> {
    let svg = read(path);
    let doc = roxmltree::Document::parse(&svg).expect("SVG is well-formed XML");
    let num = |n: roxmltree::Node, a: &str| n.attribute(a).and_then(|v| v.parse().ok());
    doc.descendants()
        .filter(|n| n.tag_name().name() == "text")
        .filter_map(|n| Some((n.text()?.trim().to_string(), num(n, "x")?, num(n, "y")?)))
        .collect()
}

fn plot(cwd: &Path, args: &[&str]) -> std::process::Output {
    let out = lab(cwd, args);
    assert!(out.status.success(), "{args:?}: {}", text(&out));
    out
}

#[test]
fn legend_is_below_the_axes_and_each_axis_has_one_tick_format() {
    let tmp = tempfile::tempdir().unwrap();
    for seed in 0..2 {
        let rows: Vec<String> = (0..=15)
            .map(|i| format!("{},{},{}", i * 10000, i * 10 + seed, 150 - i * 10 - seed))
            .collect();
        run_with_metrics(
            &tmp.path().join(format!("big/seed-{seed}")),
            "step,up,down",
            &rows,
        );
    }
    let svg = tmp.path().join("two.svg");
    let args = [
        "plot", "big", "--x", "step", "--y", "up", "--y", "down", "-o", "two.svg",
    ];
    plot(tmp.path(), &args);
    let texts = svg_texts(&svg);
    let ticks: Vec<&(String, f64, f64)> = texts
        .iter()
        .filter(|t| t.0.parse::<f64>().is_ok())
        .collect();
    let lowest_tick = ticks.iter().map(|t| t.2).fold(f64::MIN, f64::max);
    let x_ticks: Vec<&str> = ticks
        .iter()
        .filter(|t| t.2 == lowest_tick)
        .map(|t| t.0.as_str())
        .filter(|t| *t != "0")
        .collect();
    assert!(x_ticks.len() >= 3, "{x_ticks:?}");
    let scientific = x_ticks.iter().filter(|t| t.contains('e')).count();
    assert!(
        scientific == 0 || scientific == x_ticks.len(),
        "one axis, two formats: {x_ticks:?}"
    );
    let legend: Vec<_> = texts.iter().filter(|t| t.0.ends_with("(2 runs)")).collect();
    assert_eq!(legend.len(), 2, "{texts:?}");
    for entry in legend {
        assert!(
            entry.2 > lowest_tick,
            "legend entry {entry:?} inside the axes (ticks at y = {lowest_tick})"
        );
    }
}

#[test]
fn log_y_says_how_many_points_it_left_out() {
    let tmp = tempfile::tempdir().unwrap();
    let ys = [1.0, 0.0, 0.5, -1.0, 2.0, 0.25];
    let rows: Vec<String> = ys
        .iter()
        .enumerate()
        .map(|(i, y)| format!("{i},{y}"))
        .collect();
    run_with_metrics(&tmp.path().join("r"), "iter,gap", &rows);
    let out = plot(
        tmp.path(),
        &[
            "plot", "r", "--x", "iter", "--y", "gap", "--logy", "-o", "g.svg",
        ],
    );
    let note = "log y axis: 2 points with y <= 0 left out";
    assert!(stderr(&out).contains(note), "{}", text(&out));
    let texts = svg_texts(&tmp.path().join("g.svg"));
    assert!(texts.iter().any(|t| t.0 == note), "{texts:?}");
}

#[test]
fn the_band_is_explained_and_fewer_runs_later_are_counted() {
    let tmp = tempfile::tempdir().unwrap();
    for (seed, len) in [(0, 10), (1, 10), (2, 5)] {
        let rows: Vec<String> = (0..len)
            .map(|i| format!("{i},{}", i * (seed + 1)))
            .collect();
        run_with_metrics(&tmp.path().join(format!("c/seed-{seed}")), "iter,y", &rows);
    }
    plot(
        tmp.path(),
        &["plot", "c", "--x", "iter", "--y", "y", "-o", "c.svg"],
    );
    let texts: Vec<String> = svg_texts(&tmp.path().join("c.svg"))
        .into_iter()
        .map(|t| t.0)
        .collect();
    assert!(
        texts.iter().any(|t| t.contains("band: ± s.e.")),
        "{texts:?}"
    );
    assert!(texts.iter().any(|t| t == "n=2"), "{texts:?}");
}

#[test]
fn plot_splits_a_study_by_env_and_titles_have_no_backticks() {
    let tmp = tempfile::tempdir().unwrap();
    let study = tmp.path().join("s");
    let record = r#"{"subcommand": "npg-rank1", "name": "s", "seeds": [0],
        "grid": [{"key": "env", "values": ["A", "B"]}],
        "cells": [{"name": "env=A", "settings": [{"key": "env", "value": "A"}]},
                  {"name": "env=B", "settings": [{"key": "env", "value": "B"}]}]}"#;
    std::fs::create_dir_all(&study).unwrap();
    std::fs::write(study.join("study.json"), record).unwrap();
    for cell in ["env=A", "env=B"] {
        let rows: Vec<String> = (0..4).map(|i| format!("{i},{}", i * i)).collect();
        run_with_metrics(&study.join(cell).join("seed-0"), "env_steps,ret", &rows);
    }
    let out = plot(tmp.path(), &["plot", "s", "--x", "env_steps", "--y", "ret"]);
    for env in ["A", "B"] {
        let svg = study.join(format!("plots/ret_vs_env_steps_{env}.svg"));
        let listed = format!("plot: s/plots/ret_vs_env_steps_{env}.svg");
        assert!(stdout(&out).contains(&listed), "{}", text(&out));
        let texts = svg_texts(&svg);
        let title = texts
            .iter()
            .find(|t| t.0.starts_with("ret vs env_steps"))
            .expect("a title");
        assert!(title.0.ends_with(&format!("[{env}]")), "{title:?}");
        assert!(texts.iter().all(|t| !t.0.contains('`')), "{texts:?}");
    }
}
