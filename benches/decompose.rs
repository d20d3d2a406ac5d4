//! `cargo bench --bench decompose`: time vs n (log-log, fitted exponent) per family of spec §8.1,
//! median/min of 3 timed runs after a warm-up, and peak memory. Each (family, n) cell runs in a
//! fresh child process (this binary re-run with LAB_BENCH_CELL), so its VmHWM is the peak of
//! that n alone; `base_mib` is the child's resident size before A is built (mostly the linked
//! libtorch). Writes results/decompose-bench/scaling.csv and scaling.svg. LAB_BENCH_MAX_N caps n.
//! The comparison with CVXPY + SCS is scripts/decompose-cvxpy-bench.py.
use lab::decompose::config::{DecomposeConfig, Method, SubspaceSpec};
use lab::decompose::matrix::{banded, wishart};
use lab::decompose::solve::decompose;
use lab::decompose::structures::{self, Subspace};
use lab::plot::render::{self, Figure};
use lab::plot::series::Curve;
use ndarray::Array2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::fmt::Write as _;
use std::time::Instant;

type Case = Box<dyn Fn(usize) -> (Array2<f64>, Subspace, Method)>;

fn families() -> Vec<(&'static str, Case)> {
    let rng = |n: usize| ChaCha8Rng::seed_from_u64(n as u64);
    vec![
        (
            "F1 5 pairs, primal Newton",
            Box::new(move |n| {
                let a = wishart(n, n as f64, 1.0, &mut rng(n));
                let pairs = [[0, 1], [1, 2], [2, 3], [0, 3], [5, 7]];
                (
                    a,
                    Subspace::from_pairs(n, &pairs, true).unwrap(),
                    Method::Newton,
                )
            }),
        ),
        (
            "F2 band complement b=1, closed form",
            Box::new(move |n| {
                let a = wishart(n, n as f64, 1.0, &mut rng(n));
                let spec = SubspaceSpec::BandComplement { bandwidth: 1 };
                let sub = structures::build(&spec, n, true, &mut rng(n)).unwrap();
                (a, sub, Method::ClosedForm)
            }),
        ),
        (
            "F2 band complement b=1, dual Newton-CG",
            Box::new(move |n| {
                let a = wishart(n, n as f64, 1.0, &mut rng(n));
                let spec = SubspaceSpec::BandComplement { bandwidth: 1 };
                let sub = structures::build(&spec, n, true, &mut rng(n)).unwrap();
                (a, sub, Method::DualNewtonCg)
            }),
        ),
        (
            "F4 banded b=2, primal Newton-CG",
            Box::new(move |n| {
                let a = banded(n, 2, 24.0, &mut rng(n));
                let spec = SubspaceSpec::BandOffdiag { bandwidth: 2 };
                let sub = structures::build(&spec, n, true, &mut rng(n)).unwrap();
                (a, sub, Method::NewtonCg)
            }),
        ),
    ]
}

/// A `Vm...:` line of /proc/self/status in MiB.
fn vm_mib(key: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(f64::NAN);
    kb / 1024.0
}

/// Least-squares slope of log t against log n.
fn slope(points: &[(f64, f64)]) -> f64 {
    let k = points.len() as f64;
    let (mx, my) = points.iter().fold((0.0, 0.0), |(a, b), (x, y)| {
        (a + x.ln() / k, b + y.ln() / k)
    });
    let (sxy, sxx) = points.iter().fold((0.0, 0.0), |(a, b), (x, y)| {
        let dx = x.ln() - mx;
        (a + dx * (y.ln() - my), b + dx * dx)
    });
    sxy / sxx
}

/// Child mode: time one (family, n) cell and print it as a CSV row after "CELL ".
fn cell(spec: &str) {
    let (f, n) = spec.split_once(',').expect("LAB_BENCH_CELL = family,n");
    let (f, n): (usize, usize) = (f.parse().expect("family"), n.parse().expect("n"));
    let base = vm_mib("VmRSS:");
    let (name, case) = &families()[f];
    let (a, sub, method) = case(n);
    let mut opts = DecomposeConfig::embedded_default().solver;
    opts.method = method;
    let mut times = Vec::new();
    let mut last = None;
    for rep in 0..4 {
        let t = Instant::now();
        let out = decompose(&a, &sub, &opts, &mut |_| Ok(())).expect("bench instance solves");
        if rep > 0 {
            times.push(t.elapsed().as_secs_f64());
        }
        last = Some(out);
    }
    times.sort_by(f64::total_cmp);
    let out = last.expect("ran");
    println!(
        "CELL {name},{n},{},{},{},{},{},{base}",
        times[1],
        times[0],
        out.iterations,
        out.cg_iters,
        vm_mib("VmHWM:")
    );
}

fn run_cell(f: usize, n: usize) -> Vec<String> {
    let exe = std::env::current_exe().expect("own path");
    let out = std::process::Command::new(exe)
        .env("LAB_BENCH_CELL", format!("{f},{n}"))
        .output()
        .expect("run bench cell");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find_map(|l| l.strip_prefix("CELL "));
    let line = line.unwrap_or_else(|| panic!("cell {f},{n} failed: {text}"));
    // The family name may hold commas: the last seven fields are the numbers.
    let mut fields: Vec<String> = line.rsplitn(8, ',').map(str::to_string).collect();
    fields.reverse();
    fields
}

lab::prepare_test_process!();

fn main() {
    if let Ok(spec) = std::env::var("LAB_BENCH_CELL") {
        return cell(&spec);
    }
    let max_n: usize = std::env::var("LAB_BENCH_MAX_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let sizes: Vec<usize> = [50, 100, 200, 500, 1000, 2000]
        .into_iter()
        .filter(|&n| n <= max_n)
        .collect();
    let mut csv = String::from("family,n,median_s,min_s,iterations,cg_iters,peak_mib,base_mib\n");
    let mut curves = Vec::new();
    for (f, (name, _)) in families().iter().enumerate() {
        let mut points = Vec::new();
        for &n in &sizes {
            let c = run_cell(f, n);
            let num = |k: usize| c[k].parse::<f64>().expect("number");
            println!(
                "{name:40} n={n:5} median {:9.4} s  min {:9.4} s  it {:3}  cg {:4}  peak {:6.0} MiB (base {:4.0})",
                num(2), num(3), num(4), num(5), num(6), num(7)
            );
            let _ = writeln!(csv, "\"{name}\",{}", c[1..].join(","));
            points.push((n as f64, num(2)));
        }
        let fit: Vec<(f64, f64)> = points.iter().cloned().filter(|p| p.0 >= 200.0).collect();
        let label = if fit.len() >= 2 {
            let k = slope(&fit);
            println!("{name:40} fitted exponent (n >= 200): {k:.2}");
            format!("{name} (slope {k:.2})")
        } else {
            name.to_string()
        };
        curves.push(Curve::exact(&label, &points));
    }
    let dir = std::path::Path::new("results/decompose-bench");
    std::fs::create_dir_all(dir).expect("create results/decompose-bench");
    std::fs::write(dir.join("scaling.csv"), csv).expect("write csv");
    let fig = Figure {
        title: "lab decompose: time vs n".into(),
        x_label: "n".into(),
        y_label: "median time (s)".into(),
        logx: true,
        logy: true,
        curves,
        notes: Vec::new(),
    };
    render::save(&fig, &dir.join("scaling.svg")).expect("write svg");
    println!("wrote {}/scaling.csv and scaling.svg", dir.display());
}
