//! Studies whose cells are `cases:` (several keys per cell, inline maps and case files), and an
//! npg study's one learning-curve plot per env case.
use crate::common::*;
use std::path::Path;

#[test]
fn study_cases_set_several_keys_per_cell_from_inline_maps_and_files() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("wide.yaml"),
        "matrix: {n: 12, condition: 50.0}\n",
    )
    .unwrap();
    let yaml = "matrix: {kind: random-spd, n: 8, condition: 10.0}\n\
                subspace: {kind: random-pattern, density: 0.3}\n\
                output: {save_matrices: false}\n\
                study:\n  name: cases\n  seeds: [0]\n  cases:\n    size:\n      \
                small: {matrix.n: 6, matrix.condition: 5.0}\n      wide: wide.yaml\n  \
                grid: {subspace.density: [0.2]}\n";
    std::fs::write(tmp.path().join("cases.yaml"), yaml).unwrap();
    let args = [
        "decompose",
        "--config",
        "cases.yaml",
        "--jobs",
        "2",
        "--threads",
        "1",
    ];
    let out = lab(tmp.path(), &args);
    assert!(out.status.success(), "{}", text(&out));
    let study = tmp.path().join("results/decompose/cases");
    for (cell, n, cond) in [("size=small", 6, "5.0"), ("size=wide", 12, "50.0")] {
        let run = study.join(format!("{cell},subspace.density=0.2/seed-0"));
        assert_eq!(status(&run), "completed", "{}", run.display());
        assert_eq!(json(&run.join("summary.json"))["n"].as_u64(), Some(n));
        let config = read(&run.join("config.yaml"));
        assert!(config.contains(&format!("condition: {cond}")), "{config}");
        assert!(config.contains("density: 0.2"), "{config}");
    }
    let report = read(&study.join("report.md"));
    assert!(report.contains("`size` in {small, wide}"), "{report}");

    let clash = yaml.replace("grid: {subspace.density: [0.2]}", "grid: {size: [1]}");
    std::fs::write(tmp.path().join("clash.yaml"), clash).unwrap();
    let out = lab(tmp.path(), &["decompose", "--config", "clash.yaml"]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(
        stderr(&out).contains("axis `size` is given twice"),
        "{}",
        text(&out)
    );
}

#[test]
fn npg_study_draws_one_learning_curve_plot_per_env_case() {
    let tmp = tempfile::tempdir().unwrap();
    let pg = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/npg-rank1/pg.yaml");
    let yaml = format!(
        "total_steps: 1024\nrollout_len: 64\neval: {{every: 2, episodes: 2}}\n\
         study:\n  name: envs\n  seeds: [0]\n  cases:\n    env:\n      \
         cart: {{env.id: CartPole-v1}}\n      \
         acro: {{env.id: Acrobot-v1, env.max_episode_steps: 50}}\n    \
         algo:\n      smac: {{algo.kind: smac}}\n      pg: '{}'\n",
        pg.display()
    );
    std::fs::write(tmp.path().join("envs.yaml"), yaml).unwrap();
    let args = [
        "npg-rank1",
        "--config",
        "envs.yaml",
        "--jobs",
        "2",
        "--quiet",
    ];
    let out = lab(tmp.path(), &args);
    assert!(out.status.success(), "{}", text(&out));
    let study = tmp.path().join("results/npg-rank1/envs");
    let acro = read(&study.join("env=acro,algo=pg/seed-0/config.yaml"));
    assert!(acro.contains("id: Acrobot-v1") && acro.contains("max_episode_steps: 50"));
    assert!(acro.contains("kind: pg"), "{acro}");
    for env in ["cart", "acro"] {
        let svg = read(&study.join(format!("plots/eval_return_mean_vs_env_steps_{env}.svg")));
        assert!(
            svg.contains("algo=smac") && svg.contains("algo=pg"),
            "{env}"
        );
        assert!(
            !svg.contains("env="),
            "{env}: the split key stays out of the legend"
        );
    }
}
