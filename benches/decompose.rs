//! `cargo bench --bench decompose`: time vs n (log-log, fitted exponent) per family of spec §8.1,
//! median/min of 3 timed runs after a warm-up, and the process peak memory (VmHWM).
//! Writes results/decompose-bench/scaling.csv and scaling.svg. LAB_BENCH_MAX_N caps n.
use lab::decompose::config::{DecomposeConfig, Method, SubspaceSpec};
use lab::decompose::matrix::{banded, wishart};
use lab::decompose::solve::decompose;
use lab::decompose::structures::{self, Subspace};
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

fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
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

/// F0: the spec 8.2 comparison family at n = 10..40 (CVXPY side: scripts/decompose-cvxpy-bench.py),
/// iterative solvers timed, objective error against the chordal closed form.
fn conic_comparison(opts: &mut lab::decompose::config::SolverConfig) -> String {
    let mut csv = String::from("n,solver,median_s,objective_error\n");
    for n in [10, 20, 30, 40] {
        let a = wishart(n, n as f64, 1.0, &mut ChaCha8Rng::seed_from_u64(n as u64));
        let spec = SubspaceSpec::BandComplement { bandwidth: 1 };
        let sub = structures::build(&spec, n, true, &mut ChaCha8Rng::seed_from_u64(0)).unwrap();
        opts.method = Method::ClosedForm;
        let exact = decompose(&a, &sub, opts, &mut |_| Ok(())).expect("closed form");
        let reference = lab::decompose::ln_det(&(&a - &exact.c)).expect("PD");
        for method in [Method::Newton, Method::DualNewton, Method::ClosedForm] {
            opts.method = method;
            let mut times = Vec::new();
            let mut err = 0.0;
            for _ in 0..5 {
                let t = Instant::now();
                let out = decompose(&a, &sub, opts, &mut |_| Ok(())).expect("solves");
                times.push(t.elapsed().as_secs_f64());
                err = (lab::decompose::ln_det(&(&a - &out.c)).expect("PD") - reference).abs();
            }
            times.sort_by(f64::total_cmp);
            println!(
                "F0 n={n:3} {method:?}: median {:.6} s, objective error {err:.1e}",
                times[2]
            );
            let _ = writeln!(csv, "{n},{method:?},{},{err:e}", times[2]);
        }
    }
    csv
}

fn main() {
    let max_n: usize = std::env::var("LAB_BENCH_MAX_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let sizes: Vec<usize> = [50, 100, 200, 500, 1000, 2000]
        .into_iter()
        .filter(|&n| n <= max_n)
        .collect();
    let mut opts = DecomposeConfig::embedded_default().solver;
    let f0 = conic_comparison(&mut opts);
    let mut csv = String::from("family,n,median_s,min_s,iterations,cg_iters,peak_mib\n");
    let mut curves = Vec::new();
    for (name, case) in families() {
        let mut points = Vec::new();
        for &n in &sizes {
            let (a, sub, method) = case(n);
            opts.method = method;
            let mut times = Vec::new();
            let mut last = None;
            for rep in 0..4 {
                let t = Instant::now();
                let out =
                    decompose(&a, &sub, &opts, &mut |_| Ok(())).expect("bench instance solves");
                if rep > 0 {
                    times.push(t.elapsed().as_secs_f64());
                }
                last = Some(out);
            }
            times.sort_by(f64::total_cmp);
            let out = last.expect("ran");
            let peak = peak_mib();
            println!(
                "{name:40} n={n:5} median {:9.4} s  min {:9.4} s  it {:3}  cg {:4}  peak {peak:7.0} MiB",
                times[1], times[0], out.iterations, out.cg_iters
            );
            let _ = writeln!(
                csv,
                "{name},{n},{},{},{},{},{peak}",
                times[1], times[0], out.iterations, out.cg_iters
            );
            points.push((n as f64, times[1]));
        }
        let fit: Vec<(f64, f64)> = points.iter().cloned().filter(|p| p.0 >= 200.0).collect();
        if fit.len() >= 2 {
            println!("{name:40} fitted exponent (n >= 200): {:.2}", slope(&fit));
        }
        curves.push((name, points));
    }
    let dir = std::path::Path::new("results/decompose-bench");
    std::fs::create_dir_all(dir).expect("create results/decompose-bench");
    std::fs::write(dir.join("scaling.csv"), csv).expect("write csv");
    std::fs::write(dir.join("conic_comparison.csv"), f0).expect("write csv");
    std::fs::write(dir.join("scaling.svg"), svg(&curves)).expect("write svg");
    println!("wrote {}/scaling.csv and scaling.svg", dir.display());
}

fn svg(curves: &[(&str, Vec<(f64, f64)>)]) -> String {
    let owned: Vec<lab::decompose::plot::Curve> = curves
        .iter()
        .map(|(n, p)| (n.to_string(), p.clone()))
        .collect();
    lab::decompose::plot::svg(
        &owned,
        true,
        "lab decompose: time vs n",
        "n",
        "median time (s)",
    )
}
