//! `make bench`: the language-model core against PyTorch eager (issue 10), side by side.
//!
//! Each case runs in its own process (this binary re-executed with `--child <case>`, and
//! `scripts/lm_eager_bench.py` under the project venv), alternating lab and PyTorch for
//! `ROUNDS` rounds; the table shows medians, the ratio and each process's peak RSS. Both sides use
//! 2 threads, the same GPT shapes (tied head, LayerNorm and linear biases, fused attention), the
//! same batch and AdamW (β = (0.9, 0.99), decay 0.1 on matrices). Training is forward + backward
//! + AdamW; sampling is batch 64, a 1-token prompt, 256 new tokens, multinomial at temperature 1.
use lab::nn::{self, Decoding, GenerateOptions, Input, LanguageModel, ModelConfig};
use lab::optim::{AdamW, AdamWConfig, Optimizer};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

const VOCAB: i64 = 65;
const THREADS: i32 = 2;
const ROUNDS: usize = 3;
const NEW_TOKENS: i64 = 256;
const SAMPLE_BATCH: i64 = 64;

struct Case {
    name: &'static str,
    preset: &'static str,
    batch: i64,
    /// Block size override (sampling needs room for 257 positions).
    block: Option<i64>,
    what: &'static str,
}

const CASES: [Case; 4] = [
    Case {
        name: "train gpt-tiny  (batch 16 x 64)",
        preset: "tiny",
        batch: 16,
        block: None,
        what: "train",
    },
    Case {
        name: "train gpt-small (batch 12 x 64)",
        preset: "small",
        batch: 12,
        block: None,
        what: "train",
    },
    Case {
        name: "sample gpt-tiny, KV cache",
        preset: "tiny",
        batch: SAMPLE_BATCH,
        block: Some(256),
        what: "sample",
    },
    Case {
        name: "sample gpt-tiny, full recompute",
        preset: "tiny",
        batch: SAMPLE_BATCH,
        block: Some(256),
        what: "sample-full",
    },
];

fn model_config(case: &Case) -> ModelConfig {
    let mut cfg = match case.preset {
        "tiny" => ModelConfig::gpt_tiny(),
        _ => ModelConfig::gpt_small(),
    };
    if let Some(b) = case.block {
        cfg.block_size = b;
    }
    cfg
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn time_median(warmup: usize, reps: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..warmup {
        f();
    }
    median(
        (0..reps)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

fn maxrss_kib() -> i64 {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    ru.ru_maxrss
}

/// Seconds per training step (median), forward + backward + AdamW.
fn train(model: &dyn LanguageModel, batch: i64) -> f64 {
    let t = model.block_size().unwrap_or(64);
    let cfg = AdamWConfig {
        lr: 1e-3,
        betas: [0.9, 0.99],
        weight_decay: 0.1,
        ..AdamWConfig::default()
    };
    let mut opt = AdamW::new(model.var_store(), &cfg).expect("AdamW");
    let x = Tensor::randint(VOCAB, [batch, t], (Kind::Int64, Device::Cpu));
    let y = Tensor::randint(VOCAB, [batch, t], (Kind::Int64, Device::Cpu));
    let inner = 5;
    time_median(3, 7, || {
        for _ in 0..inner {
            let logits = model.forward(&Input::new(&x), true).expect("forward");
            let loss = logits
                .view([-1, VOCAB])
                .cross_entropy_for_logits(&y.view([-1]));
            opt.zero_grad();
            loss.backward();
            opt.step().expect("step");
        }
    }) / inner as f64
}

/// Seconds for one batch of `NEW_TOKENS` tokens from a 1-token prompt.
fn sample(model: &dyn LanguageModel, batch: i64, cached: bool) -> f64 {
    let decoding = Decoding {
        temperature: 1.0,
        top_k: None,
        top_p: None,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let prompts = vec![vec![0i64]; batch as usize];
    let opts = GenerateOptions::new(NEW_TOKENS, decoding.clone());
    let (warmup, reps) = if cached { (1, 5) } else { (0, 1) };
    time_median(warmup, reps, || {
        if cached {
            nn::generate(model, &prompts, &opts, &mut rng).expect("generate");
        } else {
            tch::no_grad(|| {
                let mut seq = Tensor::zeros([batch, 1], (Kind::Int64, Device::Cpu));
                for _ in 0..NEW_TOKENS {
                    let logits = model.forward(&Input::new(&seq), false).expect("forward");
                    let last = logits.select(1, -1);
                    let next = decoding.choose(&last, &mut rng).tokens.unsqueeze(1);
                    seq = Tensor::cat(&[seq, next], 1);
                }
            });
        }
    })
}

/// fp32 matmul rate of this machine (1024³, 2 threads), FLOP/s.
fn matmul_rate() -> f64 {
    let n = 1024;
    let a = Tensor::randn([n, n], (Kind::Float, Device::Cpu));
    let b = Tensor::randn([n, n], (Kind::Float, Device::Cpu));
    let s = time_median(2, 9, || {
        let _ = a.matmul(&b);
    });
    2.0 * (n * n * n) as f64 / s
}

fn child(case: &Case) -> Value {
    tch::set_num_threads(THREADS);
    // OpenBLAS gets one thread, as `lab` gives its runs whose tensor work is libtorch's (its
    // pthreads would otherwise spin against libtorch's OpenMP threads on the same cores).
    lab::device::set_blas_threads(1);
    tch::manual_seed(0);
    let cfg = model_config(case);
    let model = nn::build(&cfg, VOCAB, Device::Cpu).expect("model");
    let params = nn::num_parameters(model.as_ref());
    let (tokens, secs) = match case.what {
        "train" => {
            let t = cfg.block_size * case.batch;
            (t, train(model.as_ref(), case.batch))
        }
        w => (
            case.batch * NEW_TOKENS,
            sample(model.as_ref(), case.batch, w == "sample"),
        ),
    };
    let flops = match case.what {
        "train" => nn::flops::training(&cfg, VOCAB, case.batch, cfg.block_size),
        _ => 0.0,
    };
    json!({"tokens_per_s": tokens as f64 / secs, "flop_per_s": flops / secs,
           "params": params, "maxrss_kib": maxrss_kib()})
}

fn venv_python() -> Option<PathBuf> {
    let venv = std::env::var_os("VIRTUAL_ENV")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/lab/venv")))?;
    let py = venv.join("bin/python");
    py.exists().then_some(py)
}

fn run_json(cmd: &mut Command) -> Result<Value, String> {
    let out = cmd.output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().ok_or("no output")?;
    serde_json::from_str(line).map_err(|e| format!("{e}: {line}"))
}

fn lab_side(i: usize) -> Result<Value, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    run_json(Command::new(exe).args(["--child", &i.to_string()]))
}

fn torch_side(python: &PathBuf, case: &Case) -> Result<Value, String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/lm_eager_bench.py");
    let mut cmd = Command::new(python);
    cmd.args([script, "--what", case.what, "--preset", case.preset])
        .args([
            "--batch",
            &case.batch.to_string(),
            "--threads",
            &THREADS.to_string(),
        ])
        .args([
            "--vocab",
            &VOCAB.to_string(),
            "--new-tokens",
            &NEW_TOKENS.to_string(),
        ]);
    if let Some(b) = case.block {
        cmd.args(["--block", &b.to_string()]);
    }
    if case.what == "sample-full" {
        cmd.args(["--warmup", "0", "--reps", "1"]);
    }
    run_json(&mut cmd)
}

lab::prepare_test_process!();

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let case: usize = args[i + 1].parse().expect("case index");
        println!("{}", child(&CASES[case]));
        return;
    }
    tch::set_num_threads(THREADS);
    let rate = matmul_rate();
    println!("== lm: language-model core vs PyTorch eager ({THREADS} threads each, medians of {ROUNDS} rounds, one process per measurement)");
    println!(
        "fp32 matmul rate (1024^3, libtorch): {:.1} GFLOP/s",
        rate / 1e9
    );
    let python = venv_python();
    if python.is_none() {
        println!("PyTorch side SKIPPED: no venv python (make setup creates it)");
    }
    // `LM_BENCH_ONLY=<text>` runs only the cases whose name contains it.
    let only = std::env::var("LM_BENCH_ONLY").unwrap_or_default();
    for (i, case) in CASES.iter().enumerate() {
        if !case.name.contains(only.as_str()) {
            continue;
        }
        let (mut ours, mut theirs) = (vec![], vec![]);
        let rounds = if case.what == "sample-full" {
            1
        } else {
            ROUNDS
        };
        for _ in 0..rounds {
            match lab_side(i) {
                Ok(v) => ours.push(v),
                Err(e) => {
                    println!("{}: lab failed: {e}", case.name);
                    return;
                }
            }
            if let Some(py) = &python {
                match torch_side(py, case) {
                    Ok(v) => theirs.push(v),
                    Err(e) => println!("{}: torch failed: {e}", case.name),
                }
            }
        }
        report(case, &ours, &theirs, rate);
    }
}

fn field(v: &[Value], key: &str) -> f64 {
    median(v.iter().filter_map(|x| x[key].as_f64()).collect())
}

fn report(case: &Case, ours: &[Value], theirs: &[Value], rate: f64) {
    let lab = field(ours, "tokens_per_s");
    let mut line = format!(
        "{:<34} lab {:>9.0} tok/s ({:>4.0} MiB)",
        case.name,
        lab,
        field(ours, "maxrss_kib") / 1024.0
    );
    if !theirs.is_empty() {
        let torch = field(theirs, "tokens_per_s");
        line += &format!(
            "  torch {:>9.0} tok/s ({:>4.0} MiB)  ratio {:.2}x",
            torch,
            field(theirs, "maxrss_kib") / 1024.0,
            lab / torch
        );
    }
    if case.what == "train" {
        let f = field(ours, "flop_per_s");
        line += &format!(
            "  {:.1} GFLOP/s = {:.0}% of matmul",
            f / 1e9,
            100.0 * f / rate
        );
    }
    println!("{line}");
}
