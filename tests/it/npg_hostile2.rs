//! `lab npg-rank1` under hostile input, round 3: MuJoCo model files (`env.model_dir`) a task
//! cannot run on (a panic once the run had started, exit 101) and KL-clipped step sizes so
//! large that `α²·gᵀd` overflowed (the step became 0: a run that never moved, exit 0).
use crate::common::*;
use std::path::Path;
use std::process::Output;

/// `lab npg-rank1 ARGS --quiet --threads 1` in `dir`.
pub fn npg(dir: &Path, args: &[&str]) -> Output {
    let all = [&["npg-rank1"], args, &["--quiet", "--threads", "1"]].concat();
    lab(dir, &all)
}

/// A finished smoke run of 1024 steps in `dir/a` (with its checkpoint); the smoke config's path.
pub fn smoke_run_a(dir: &Path) -> String {
    let smoke = config("smoke");
    let args = [
        "--config",
        &smoke,
        "--set",
        "total_steps=1024",
        "--out",
        "a",
    ];
    let o = npg(dir, &args);
    assert_eq!(code(&o), 0, "{}", text(&o));
    smoke
}

fn config(name: &str) -> String {
    format!(
        "{}/configs/npg-rank1/{name}.yaml",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// A model file with no actuator (an empty action: "chunk size must be non-zero") or fewer
/// coordinates than the task reads (Hopper's `qpos[2]`, Humanoid's `qfrc_actuator[6..]`:
/// index out of bounds) panicked after the run folder was made. Refused before it now,
/// naming the file, its counts and what the task needs.
#[test]
fn npg_a_mujoco_model_the_task_cannot_run_on_is_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let models = d.join("models");
    std::fs::create_dir(&models).unwrap();
    let free_body = r#"<mujoco><worldbody><body><joint type="free"/><geom size=".1"/></body>
        </worldbody></mujoco>"#;
    let one_slider = r#"<mujoco><worldbody><body><joint name="j" type="slide"/>
        <geom size=".1" mass="1"/></body></worldbody>
        <actuator><motor joint="j" ctrlrange="-1 1"/></actuator></mujoco>"#;
    std::fs::write(models.join("hopper.xml"), free_body).unwrap();
    std::fs::write(models.join("humanoid.xml"), one_slider).unwrap();
    let smoke = config("smoke");
    let cases = [
        ("Hopper-v5", "hopper.xml has nq = 7, nv = 6 and 0 actuators"),
        ("Humanoid-v5", "Humanoid-v5 needs nq >= 3, nv >= 6"),
    ];
    for (i, (id, want)) in cases.into_iter().enumerate() {
        let out = format!("r{i}");
        let env = format!("env.id={id}");
        let args = ["--config", &smoke, "--set", &env, "--out", &out];
        let o = npg(d, &[&args[..], &["--set", "env.model_dir=models"]].concat());
        assert_refused(&o, id, &["env.model_dir", want], &d.join(&out));
    }
}

/// The metrics cells of `column` as numbers, one per row.
fn numbers(run: &Path, name: &str) -> Vec<f64> {
    let (header, rows) = read_csv(&run.join("metrics.csv"));
    let at = col(&header, name);
    rows.iter().map(|r| r[at].parse().expect(name)).collect()
}

/// ν = min(1, √(κ / (α² gᵀd))) with α = 1e200 (SMAC's `kl-clip` rule) or 1e300 (ACKTR):
/// α² overflowed to ∞, ν to 0, and every step was 0 (`update_norm` 0 in every row, exit 0).
/// νη is the clipped step √(κ / gᵀd) now, finite and non-zero.
#[test]
fn npg_kl_clip_with_a_huge_step_size_still_steps() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let (smac, acktr) = (config("smoke"), config("acktr"));
    let runs: [(&str, Vec<&str>); 2] = [
        (
            "smac",
            vec![
                "--config",
                &smac,
                "--set",
                "algo.step_rule.kind=kl-clip",
                "--set",
                "algo.step_rule.kl_clip=0.001",
                "--set",
                "algo.actor_lr=1e200",
                "--set",
                "algo.max_update_norm=1e300",
            ],
        ),
        (
            "acktr",
            vec![
                "--config",
                &acktr,
                "--set",
                "total_steps=1024",
                "--set",
                "algo.actor_lr=1e300",
            ],
        ),
    ];
    for (name, args) in runs {
        let o = npg(d, &[&args[..], &["--out", name]].concat());
        assert_eq!(code(&o), 0, "{name}: {}", text(&o));
        let run = d.join(name);
        for column in ["step_size", "update_norm"] {
            for v in numbers(&run, column) {
                assert!(v.is_finite() && v > 0.0, "{name}: {column} = {v}");
            }
        }
    }
}

/// A checkpoint whose time-limit counter is at or past the episode cap (no run saves one: the
/// step that reaches the cap truncates and the episode restarts at 0) was taken: the env's
/// next episode ended at once, written to episodes.csv as truncated by the time limit at 31
/// steps. Refused now, naming the env and the cap; the counter a run saved still resumes.
#[test]
fn npg_resume_refuses_an_elapsed_count_past_the_time_limit() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    smoke_run_a(d);
    let ckpt = d.join("a/checkpoint.json");
    let saved = json(&ckpt);
    for (elapsed, ok) in [(499, true), (500, false), (1_000_000_000, false)] {
        let mut c = saved.clone();
        // The episode's length counts the same steps (npg_hostile4.rs): edited with it.
        c["venv"]["envs"][0]["elapsed"] = elapsed.into();
        c["venv"]["ep_len"][0] = elapsed.into();
        std::fs::write(&ckpt, serde_json::to_string(&c).unwrap()).unwrap();
        let out = format!("b{elapsed}");
        let args = ["--resume", "a", "--set", "total_steps=2048", "--out", &out];
        let o = npg(d, &args);
        if ok {
            assert_eq!(code(&o), 0, "{elapsed}: {}", text(&o));
            continue;
        }
        let want = format!("venv.envs[0]: {elapsed} steps elapsed in the episode, but");
        let needles = [want.as_str(), "CartPole-v1 episodes end at step 500"];
        assert_refused(&o, &out, &needles, &d.join(&out));
    }
}

/// npg-exact with a damping too small to make the exact Fisher (fewer score rows than
/// parameters: singular) positive definite fails naming `algo.damping`, the Fisher's rank
/// bound and its scale (before: only LAPACK's "return_code = 99").
#[test]
fn npg_exact_with_a_vanishing_damping_names_the_key_to_raise() {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = config("npg-exact");
    let sets = ["--set", "algo.damping=1e-300", "--set", "total_steps=4000"];
    let o = npg(
        dir.path(),
        &[&["--config", &cfg, "--out", "r"], &sets[..]].concat(),
    );
    assert_eq!(code(&o), 1, "{}", text(&o));
    let err = stderr(&o);
    assert!(
        err.contains("Cholesky of the exact Fisher")
            && err.contains("raise algo.damping")
            && err.contains("rank at most"),
        "{err}"
    );
}

/// `resume_from` (the key, over a config file) of a run whose config.yaml is missing or not a
/// config: nothing to compare the continued run's config with, so refused naming the file
/// (before, the comparison was skipped and the rows could carry on under another config).
#[test]
fn npg_resume_from_a_run_without_a_readable_config_yaml_is_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let smoke = smoke_run_a(d);
    let yaml = d.join("a/config.yaml");
    let kept = std::fs::read_to_string(&yaml).unwrap();
    for (i, damage) in [None, Some("gamma: [\n")].into_iter().enumerate() {
        match damage {
            None => std::fs::remove_file(&yaml).unwrap(),
            Some(text) => std::fs::write(&yaml, text).unwrap(),
        }
        let out = format!("b{i}");
        let sets = ["--set", "resume_from=a", "--set", "total_steps=2048"];
        let o = npg(
            d,
            &[&["--config", &smoke, "--out", &out], &sets[..]].concat(),
        );
        let needles = ["resume_from", "a/config.yaml", "restore the file"];
        assert_refused(&o, &out, &needles, &d.join(&out));
    }
    std::fs::write(&yaml, kept).unwrap();
    let sets = ["--set", "resume_from=a", "--set", "total_steps=2048"];
    let o = npg(
        d,
        &[&["--config", &smoke, "--out", "ok"], &sets[..]].concat(),
    );
    assert_eq!(code(&o), 0, "the restored file resumes: {}", text(&o));
}

/// A resume copies the old run's episodes up to the checkpoint's env steps: a row whose
/// `env_steps` is NaN or infinite is refused naming file and line (before, it failed the
/// `<=` and was dropped without a word).
#[test]
fn npg_resume_refuses_a_non_finite_env_steps_cell_in_episodes_csv() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    smoke_run_a(d);
    let path = d.join("a/episodes.csv");
    let kept = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = kept.lines().collect();
    assert!(lines.len() >= 2, "episodes.csv has rows: {kept}");
    let at = lines[0]
        .split(',')
        .position(|h| h == "env_steps")
        .expect("env_steps column");
    for (i, bad) in ["NaN", "inf"].into_iter().enumerate() {
        let mut cells: Vec<&str> = lines[1].split(',').collect();
        cells[at] = bad;
        let row = cells.join(",");
        let text = [&[lines[0], row.as_str()][..], &lines[2..]]
            .concat()
            .join("\n")
            + "\n";
        std::fs::write(&path, text).unwrap();
        let out = format!("b{i}");
        let args = ["--resume", "a", "--set", "total_steps=2048", "--out", &out];
        let o = npg(d, &args);
        let want = format!("line 2: `env_steps` is `{bad}`, not a number");
        assert_refused(&o, &out, &["episodes.csv", &want], &d.join(&out));
    }
    std::fs::write(&path, kept).unwrap();
}
