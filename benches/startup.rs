//! Whole-process start-up: wall time (median of several runs) and peak resident memory of
//! `lab --version`, a tiny `lab decompose` and a tiny CPU `lab npg-rank1`, each beside a peer
//! run in the same bench, alternately:
//! - always: a C program that only loads libtorch the way every `lab` process did before
//!   libtorch became lazy (libtorch_cpu, libc10 and libtorch_cuda linked), and nothing else;
//! - with `LAB_BEFORE=/path/to/old/lab`: the old binary on the same commands.
//!
//! Also the per-run overhead of a study of short runs: (study wall time − the runs' own
//! `duration_s`) / runs. Run: `cargo bench --bench startup` (or `make bench`).
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const REPEATS: usize = 7;

/// Wall seconds and peak RSS (MiB) of one process.
fn measure(cmd: &[String], cwd: &Path) -> (f64, f64) {
    let t0 = Instant::now();
    // Waited for with wait4 below (for its resource usage), not Child::wait.
    #[allow(clippy::zombie_processes)]
    let child = Command::new(&cmd[0])
        .args(&cmd[1..])
        .current_dir(cwd)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", cmd[0]));
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child; `usage` is a valid out-parameter.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let wall = t0.elapsed().as_secs_f64();
    assert!(
        pid > 0 && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{cmd:?} failed"
    );
    (wall, usage.ru_maxrss as f64 / 1024.0)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// The peer: `int main(){}` linked against libtorch as lab used to be.
fn eager_libtorch_program(dir: &Path) -> PathBuf {
    let lib = lab::torch::LIB_DIR;
    let src = dir.join("eager.c");
    std::fs::write(&src, "int main(void) { return 0; }\n").unwrap();
    let exe = dir.join("eager-libtorch");
    let status = Command::new("cc")
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .arg(format!("-L{lib}"))
        .args(["-Wl,--no-as-needed", "-ltorch_cuda", "-ltorch_cpu", "-lc10"])
        .arg(format!("-Wl,-rpath,{lib}"))
        .status()
        .expect("cc runs");
    assert!(status.success(), "building the eager-libtorch peer failed");
    exe
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let lab = env!("CARGO_BIN_EXE_lab").to_string();
    let before = std::env::var("LAB_BEFORE").ok();
    let eager = eager_libtorch_program(dir).display().to_string();
    let dec = root
        .join("configs/decompose/smoke.yaml")
        .display()
        .to_string();
    let npg = root
        .join("configs/npg-rank1/smoke.yaml")
        .display()
        .to_string();
    let mut n = 0;
    let mut run = |bin: &str, what: &str| -> Vec<String> {
        n += 1;
        let out = format!("r{n}");
        let args: Vec<&str> = match what {
            "--version" => vec!["--version"],
            "decompose" => vec!["decompose", "--config", &dec, "--quiet", "--out", &out],
            _ => vec![
                "npg-rank1",
                "--config",
                &npg,
                "--quiet",
                "--device",
                "cpu",
                "--out",
                &out,
            ],
        };
        std::iter::once(bin.to_string())
            .chain(args.iter().map(|s| s.to_string()))
            .collect()
    };
    println!("start-up, median of {REPEATS} runs each, run alternately (wall s / peak RSS MiB):");
    println!("| command | lab | eager-libtorch peer | lab before (LAB_BEFORE) |");
    println!("|---|---|---|---|");
    for what in ["--version", "decompose", "npg-rank1"] {
        let (mut lw, mut lm, mut pw, mut pm, mut bw, mut bm) =
            (vec![], vec![], vec![], vec![], vec![], vec![]);
        for _ in 0..REPEATS {
            let (w, m) = measure(&run(&lab, what), dir);
            lw.push(w);
            lm.push(m);
            let (w, m) = measure(std::slice::from_ref(&eager), dir);
            pw.push(w);
            pm.push(m);
            if let Some(b) = &before {
                let (w, m) = measure(&run(b, what), dir);
                bw.push(w);
                bm.push(m);
            }
        }
        let cell = |w: Vec<f64>, m: Vec<f64>| {
            if w.is_empty() {
                "–".to_string()
            } else {
                format!("{:.3} s / {:.0} MiB", median(w), median(m))
            }
        };
        println!(
            "| `lab {what}` | {} | {} | {} |",
            cell(lw, lm),
            cell(pw, pm),
            cell(bw, bm)
        );
    }
    study_overhead(&lab, before.as_deref(), dir);
}

/// Per-run overhead of a 24-run decompose study, one run at a time.
fn study_overhead(lab: &str, before: Option<&str>, dir: &Path) {
    let cfg = dir.join("study.yaml");
    std::fs::write(
        &cfg,
        "matrix: {kind: random-spd, n: 8, condition: 10.0}\n\
         subspace: {kind: random-pattern, density: 0.3}\n\
         output: {save_matrices: false}\n\
         study: {name: s, seeds: [0, 1, 2, 3, 4, 5, 6, 7], grid: {matrix.n: [6, 8, 10]}}\n",
    )
    .unwrap();
    println!("\nstudy of 24 tiny decompose runs, --jobs 1: overhead per run = (wall − Σ run time) / runs");
    for (name, bin) in [("lab", Some(lab)), ("lab before", before)] {
        let Some(bin) = bin else { continue };
        let out = dir.join(format!("study-{}", name.replace(' ', "-")));
        let cmd: Vec<String> = [bin, "decompose", "--config"]
            .iter()
            .map(|s| s.to_string())
            .chain([cfg.display().to_string()])
            .chain(
                ["--jobs", "1", "--quiet", "--out"]
                    .iter()
                    .map(|s| s.to_string()),
            )
            .chain([out.display().to_string()])
            .collect();
        let (wall, _) = measure(&cmd, dir);
        let own: f64 = run_durations(&out).iter().sum();
        println!(
            "{name}: wall {wall:.2} s, runs' own time {own:.2} s, overhead {:.3} s per run",
            (wall - own) / 24.0
        );
    }
}

fn run_durations(study: &Path) -> Vec<f64> {
    let mut out = Vec::new();
    for cell in std::fs::read_dir(study).unwrap().flatten() {
        let Ok(seeds) = std::fs::read_dir(cell.path()) else {
            continue;
        };
        for seed in seeds.flatten() {
            let meta = seed.path().join("meta.json");
            if let Ok(text) = std::fs::read_to_string(&meta) {
                let v: serde_json::Value = serde_json::from_str(&text).unwrap();
                out.push(v["duration_s"].as_f64().unwrap());
            }
        }
    }
    assert_eq!(out.len(), 24, "every run of the study has a meta.json");
    out
}
