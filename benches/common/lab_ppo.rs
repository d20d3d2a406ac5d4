//! One short `lab npg-rank1` PPO run for the benches: configs/npg-rank1/ppo.yaml with `sets`,
//! at 1 thread into a temporary directory, timed by its own summary.json.
use std::process::Command;

/// Env steps per second of training wall time (summary.json's env_steps / total_wall_s) of
/// `lab npg-rank1 --config configs/npg-rank1/ppo.yaml --set <each of sets>`; `tag` names the
/// temporary run directory. An error carries lab's stderr or names the missing field.
pub fn ppo_steps_per_s(tag: &str, sets: &[String]) -> Result<f64, String> {
    let dir = std::env::temp_dir().join(format!("lab-bench-{tag}-{}", std::process::id()));
    let root = env!("CARGO_MANIFEST_DIR");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lab"));
    cmd.args(["npg-rank1", "--config"])
        .arg(format!("{root}/configs/npg-rank1/ppo.yaml"));
    for s in sets {
        cmd.args(["--set", s]);
    }
    let out = cmd
        .args(["--threads", "1", "--quiet", "--force", "--out"])
        .arg(&dir)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let text = std::fs::read_to_string(dir.join("summary.json")).map_err(|e| e.to_string())?;
    let s: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&dir);
    let steps = s["env_steps"]
        .as_f64()
        .ok_or("no env_steps in summary.json")?;
    let wall = s["total_wall_s"]
        .as_f64()
        .ok_or("no total_wall_s in summary.json")?;
    Ok(steps / wall)
}
