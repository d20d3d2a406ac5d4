//! The MuJoCo v5 tasks beyond the golden replays (spec §4.7, issue 14): reset-noise
//! statistics, termination and truncation flags, unstable simulations, checkpoints, bad ids
//! and bad model files, a short Hopper run of the binary (link and rpath), and an unstable
//! run's log.
use crate::common::{code, col, json, lab, read, read_csv, stderr, zip_eq};
use lab::rl::mujoco::{
    half_cheetah::HalfCheetah, hopper::Hopper, pusher::Pusher, MujocoEnv, Task, DEFAULT_MODEL_DIR,
    TASK_IDS,
};
use lab::rl::{make, make_raw_with, Action, Env, EnvOptions, Precision};
use std::path::Path;

fn task<T: Task>() -> MujocoEnv<T> {
    MujocoEnv::<T>::new(Path::new(DEFAULT_MODEL_DIR), Precision::Gymnasium).expect("load")
}

/// Mean and standard deviation of each coordinate of `rows`.
fn moments(rows: &[Vec<f64>]) -> Vec<(f64, f64)> {
    let n = rows.len() as f64;
    (0..rows[0].len())
        .map(|j| {
            let mean = rows.iter().map(|r| r[j]).sum::<f64>() / n;
            let var = rows.iter().map(|r| (r[j] - mean).powi(2)).sum::<f64>() / n;
            (mean, var.sqrt())
        })
        .collect()
}

/// `n` reset states minus the model's initial state.
fn reset_noise<T: Task>(n: usize) -> (MujocoEnv<T>, Vec<Vec<f64>>) {
    let mut env = task::<T>();
    let init: Vec<f64> = [env.sim().init_qpos.clone(), env.sim().init_qvel.clone()].concat();
    let mut obs = vec![0.0f32; env.obs_dim()];
    env.reset(Some(3), &mut obs);
    let rows = (0..n)
        .map(|_| {
            env.reset(None, &mut obs);
            zip_eq(env.state(), &init).map(|(s, i)| s - i).collect()
        })
        .collect();
    (env, rows)
}

/// Mean within 5 standard errors of 0 and standard deviation within 8 % of `sd`.
fn assert_noise(what: &str, stats: &[(f64, f64)], sd: f64, n: usize) {
    for (j, (mean, got_sd)) in stats.iter().enumerate() {
        assert!(
            mean.abs() < 5.0 * sd / (n as f64).sqrt(),
            "{what}[{j}] mean {mean}"
        );
        assert!(
            (got_sd / sd - 1.0).abs() < 0.08,
            "{what}[{j}] sd {got_sd} vs {sd}"
        );
    }
}

#[test]
fn reset_noise_has_the_configured_scale() {
    let n = 3000;
    // Hopper: qpos, qvel += U(±5e-3), sd = scale/√3.
    let (env, rows) = reset_noise::<Hopper>(n);
    assert_noise("Hopper", &moments(&rows), 5e-3 / 3f64.sqrt(), n);
    for r in &rows {
        assert!(r.iter().all(|x| x.abs() <= 5e-3));
    }
    assert_eq!(env.state().len(), 12);
    // HalfCheetah: qpos += U(±0.1), qvel += 0.1·N(0, 1).
    let (env, rows) = reset_noise::<HalfCheetah>(n);
    let nq = env.sim().nq();
    let stats = moments(&rows);
    assert_noise("HalfCheetah qpos", &stats[..nq], 0.1 / 3f64.sqrt(), n);
    assert_noise("HalfCheetah qvel", &stats[nq..], 0.1, n);
    assert!(
        rows.iter().any(|r| r[nq..].iter().any(|v| v.abs() > 0.2)),
        "normal tails"
    );
}

#[test]
fn pusher_resets_the_object_away_from_the_goal() {
    let (env, rows) = reset_noise::<Pusher>(2000);
    let (nq, nv) = (env.sim().nq(), env.sim().nv());
    for r in &rows {
        let (x, y) = (r[nq - 4], r[nq - 3]);
        assert!((-0.3..=0.0).contains(&x) && (-0.2..=0.2).contains(&y));
        assert!(x.hypot(y) > 0.17, "object at ({x}, {y})");
        assert_eq!(&r[nq - 2..nq], &[0.0, 0.0], "goal at the origin");
        assert!(r[nq + nv - 4..].iter().all(|&v| v == 0.0));
        assert!(r[nq..nq + nv - 4].iter().all(|v| v.abs() <= 5e-3));
    }
    assert!(rows.iter().any(|r| r[nq - 4].hypot(r[nq - 3]) < 0.2));
}

/// The first step's flags from (qpos, qvel) = the initial state with `changes` applied.
fn flags_after(id: &str, changes: &[(usize, f64)]) -> (bool, bool, f64) {
    let mut env = make(id, &EnvOptions::default()).expect("make");
    let mut obs = vec![0.0f32; env.obs_dim()];
    env.reset(Some(0), &mut obs);
    let mut state = env.state();
    for &(i, v) in changes {
        state[i] = v;
    }
    env.set_state(&state, &mut obs).expect("state");
    let zeros = vec![0.0; env.action_space().dim()];
    let t = env.step(Action::Continuous(&zeros), &mut obs);
    (t.terminated, t.truncated, t.reward)
}

#[test]
fn unhealthy_states_terminate_and_forfeit_the_healthy_reward() {
    assert!(!flags_after("Hopper-v5", &[]).0);
    let (term, trunc, reward) = flags_after("Hopper-v5", &[(1, 0.5)]);
    assert!(term && !trunc, "Hopper z = 0.5 < 0.7");
    assert!(reward.abs() < 0.5, "no healthy reward: {reward}");
    assert!(flags_after("Hopper-v5", &[(2, 0.3)]).0, "Hopper angle 0.3");
    assert!(!flags_after("Walker2d-v5", &[]).0);
    assert!(
        flags_after("Walker2d-v5", &[(1, 0.5)]).0,
        "Walker2d z = 0.5"
    );
    assert!(!flags_after("Humanoid-v5", &[]).0);
    assert!(
        flags_after("Humanoid-v5", &[(2, 0.8)]).0,
        "Humanoid z = 0.8"
    );
    // HalfCheetah and Swimmer never terminate, whatever the pose.
    assert!(!flags_after("HalfCheetah-v5", &[(2, 3.0)]).0);
    assert!(!flags_after("Swimmer-v5", &[(2, 3.0)]).0);
}

#[test]
fn default_time_limits_truncate_at_the_cap() {
    for (id, cap) in TASK_IDS {
        assert_eq!(
            make(id, &EnvOptions::default())
                .expect("make")
                .max_episode_steps(),
            cap
        );
    }
    let mut env = make("Pusher-v5", &EnvOptions::default()).expect("make");
    let mut obs = vec![0.0f32; 23];
    env.reset(Some(1), &mut obs);
    let a = [0.1; 7];
    let truncated: Vec<usize> = (1..=100)
        .filter(|_| env.step(Action::Continuous(&a), &mut obs).truncated)
        .collect();
    assert_eq!(truncated, [100]);
}

#[test]
fn unstable_steps_end_the_episode_without_nan() {
    let mut env = task::<Hopper>();
    let mut obs = vec![0.0f32; env.obs_dim()];
    env.reset(Some(0), &mut obs);
    let t = env.step(Action::Continuous(&[f64::NAN, 0.0, 0.0]), &mut obs);
    assert!(t.terminated && t.reward == 0.0 && obs.iter().all(|o| o.is_finite()));
    let mut state = env.state();
    state[6..].fill(1e30);
    env.set_state(&state, &mut obs).expect("state");
    let t = env.step(Action::Continuous(&[0.0; 3]), &mut obs);
    assert!(t.terminated && t.reward == 0.0, "{t:?}");
    assert!(obs.iter().all(|o| o.is_finite()));
    assert_eq!(env.unstable_steps(), 2);
}

#[test]
fn a_checkpoint_continues_bit_for_bit() {
    let mut env = task::<HalfCheetah>();
    let mut obs = vec![0.0f32; env.obs_dim()];
    env.reset(Some(5), &mut obs);
    let actions: Vec<[f64; 6]> = (0..20)
        .map(|k| std::array::from_fn(|j| ((k * 7 + j) as f64 * 0.37).sin()))
        .collect();
    for a in &actions[..10] {
        env.step(Action::Continuous(a), &mut obs);
    }
    let saved = env.save();
    let run = |env: &mut MujocoEnv<HalfCheetah>| -> Vec<Vec<f64>> {
        let mut obs = vec![0.0f32; 17];
        let mut out: Vec<Vec<f64>> = actions[10..]
            .iter()
            .map(|a| {
                env.step(Action::Continuous(a), &mut obs);
                env.observation().to_vec()
            })
            .collect();
        env.reset(None, &mut obs);
        out.push(env.state());
        out
    };
    let first = run(&mut env);
    let mut other = task::<HalfCheetah>();
    other.load(&saved).expect("load");
    assert_eq!(run(&mut other), first);
}

#[test]
fn unknown_ids_list_every_env_and_bad_model_files_are_named() {
    let err = make("Hopper-v4", &EnvOptions::default())
        .err()
        .expect("unknown");
    let msg = format!("{err}");
    assert!(msg.contains("Hopper-v5") && msg.contains("Pusher-v5") && msg.contains("CartPole-v1"));
    assert_eq!(lab::error::exit_code(&err), 2);
    let dir = tempfile::tempdir().expect("tmp");
    let opts = EnvOptions {
        model_dir: Some(dir.path().to_path_buf()),
        ..EnvOptions::default()
    };
    let err = make_raw_with("Hopper-v5", &opts)
        .err()
        .expect("missing file");
    let msg = format!("{err}");
    assert!(
        msg.contains("has no hopper.xml") && msg.contains("set it to null"),
        "{msg}"
    );
    std::fs::write(
        dir.path().join("hopper.xml"),
        "<mujoco><worldbody><geom type=\"cube\"/></worldbody></mujoco>",
    )
    .expect("write");
    let err = make_raw_with("Hopper-v5", &opts).err().expect("bad file");
    let msg = format!("{err}");
    assert!(msg.contains("hopper.xml") && msg.contains("cube"), "{msg}");
    // A run on that folder stops before its own folder exists, naming the key (exit 1 with
    // an incomplete folder before).
    std::fs::remove_file(dir.path().join("hopper.xml")).expect("rm");
    let model_dir = format!("env.model_dir={}", dir.path().display());
    let out = dir.path().join("run");
    let args = [
        "npg-rank1",
        "--set",
        "env.id=Hopper-v5",
        "--set",
        &model_dir,
        "--quiet",
    ];
    let o = lab(
        dir.path(),
        &[&args[..], &["--out", out.to_str().expect("utf-8")]].concat(),
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("env.model_dir: ") && stderr(&o).contains("has no hopper.xml"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists(), "nothing written");
}

/// A short Hopper run of the binary: the MuJoCo library loads through the rpath, the
/// normalisers default on, and meta.json records the MuJoCo version.
#[test]
fn a_short_hopper_run_records_the_mujoco_version() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("run");
    let o = lab(
        dir.path(),
        &[
            "npg-rank1",
            "--set",
            "env.id=Hopper-v5",
            "--set",
            "total_steps=1024",
            "--set",
            "num_envs=1",
            "--set",
            "rollout_len=512",
            "--set",
            "eval.episodes=1",
            "--set",
            "env.max_episode_steps=200",
            "--out",
            out.to_str().expect("utf-8"),
            "--quiet",
            "--threads",
            "1",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let meta = json(&out.join("meta.json"));
    assert_eq!(meta["mujoco"], lab::rl::mujoco::version());
    assert_eq!(lab::rl::mujoco::version(), "3.17.0");
    let (header, rows) = read_csv(&out.join("metrics.csv"));
    assert_eq!(rows.len(), 2);
    let config = std::fs::read_to_string(out.join("config.yaml")).expect("config");
    assert!(config.contains("Hopper-v5"));
    assert!(header.iter().any(|h| h == "eval_return_mean"));
}

/// Without `env.model_dir`, the models come from `data/generated/mujoco/assets` below the
/// working directory when it exists (a checkout), before the build checkout's copy.
#[test]
fn models_below_the_working_directory_come_first() {
    let dir = tempfile::tempdir().expect("tmp");
    let assets = dir.path().join(lab::rl::mujoco::MODEL_DIR);
    std::fs::create_dir_all(&assets).expect("mkdir");
    std::fs::write(assets.join("hopper.xml"), "<mujoco><bad").expect("write");
    let o = lab(
        dir.path(),
        &[
            "npg-rank1",
            "--set",
            "env.id=Hopper-v5",
            "--out",
            "run",
            "--quiet",
        ],
    );
    assert_ne!(code(&o), 0);
    let err = stderr(&o);
    assert!(
        err.contains("data/generated/mujoco/assets/hopper.xml") && !err.contains("does not exist"),
        "{err}"
    );
}

/// A run whose simulation goes unstable (Hopper with its motor gears raised from 200 to 1e9,
/// so the first step blows up): the run completes, `run.log` in the run directory says which
/// task went unstable and that the episode ended, and no metric is NaN or infinite.
#[test]
fn an_unstable_simulation_is_logged_in_the_run_and_never_reaches_the_metrics() {
    let dir = tempfile::tempdir().expect("tmp");
    let models = dir.path().join("models");
    std::fs::create_dir_all(&models).expect("mkdir");
    let hopper = read(&Path::new(DEFAULT_MODEL_DIR).join("hopper.xml"));
    assert_eq!(
        hopper.matches("gear=\"200.0\"").count(),
        3,
        "the model's three motors"
    );
    std::fs::write(
        models.join("hopper.xml"),
        hopper.replace("gear=\"200.0\"", "gear=\"1e9\""),
    )
    .expect("write");
    let out = dir.path().join("run");
    let model_dir = format!("env.model_dir={}", models.display());
    let o = lab(
        dir.path(),
        &[
            "npg-rank1",
            "--set",
            "env.id=Hopper-v5",
            "--set",
            &model_dir,
            "--set",
            "total_steps=512",
            "--set",
            "num_envs=1",
            "--set",
            "rollout_len=256",
            "--set",
            "eval.episodes=1",
            "--out",
            out.to_str().expect("utf-8"),
            "--quiet",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let log = read(&out.join("run.log"));
    assert!(
        log.contains("Hopper-v5") && log.contains("unstable") && log.contains("episode ends"),
        "{log}"
    );
    for file in ["metrics.csv", "episodes.csv"] {
        let text = read(&out.join(file));
        let lower = text.to_lowercase();
        assert!(
            !lower.contains("nan") && !lower.contains("inf"),
            "{file}:\n{text}"
        );
    }
    let (header, rows) = read_csv(&out.join("metrics.csv"));
    let ep_len = col(&header, "ep_len_mean");
    let one_step = |r: &Vec<String>| r[ep_len].parse::<f64>() == Ok(1.0);
    assert!(
        rows.iter().all(one_step),
        "every episode ends at its first step: {rows:?}"
    );
}
