//! `make bench`: one prefixrl RL step (issue 12, "Performance") on the `small` model of spec §7.3,
//! B = 32 countdown problems at level 6 × n = 8 samples, max_new 64, 2 threads (§7.3).
//!
//! The step's three parts are timed separately, each the median of `REPS` after `WARMUP`:
//! sampling (`policy::sample`, KV cache), the log-prob recompute (`policy::train_batch` +
//! `policy::token_logprobs` without gradient) and the update (`policy::pg_step`: forward,
//! REINFORCE loss, backward, clipped AdamW). Each part's FLOPs come from `algo::FlopsModel`
//! (§5.1: sampling per row from its context and generated lengths; training 3× forward, the
//! recompute 1×), over the rate of fp32 matmuls (256³ and 1024³) measured in the same run.
//! The same step written directly in PyTorch eager (`scripts/prefixrl_step_peer.py`, the
//! project venv) runs on the very contexts, rows and advantages, and gives ratios. Last, the
//! 1-seed R1–R8 grid of §7.6 is estimated from the measured parts.
//!
//! The model is freshly initialised, so completions are random text: a row ends at `<eos>` or
//! after 64 tokens, and a batch decodes until every row has ended (64 steps at B·n = 256 in
//! practice), which is also what a trained model's level-6 traces (~50 tokens) cost. Rewards
//! are seeded 0/1 draws (GRPO advantages), so the update's gradient is not zero.
use lab::nn::{self, LanguageModel};
use lab::prefixrl::algo::{self, AdvantageKind, FlopsModel};
use lab::prefixrl::config_model;
use lab::prefixrl::policy::{self, Context, Rollouts, SampleOptions, Surrogate};
use lab::prefixrl::task::{self, CountdownConfig, TaskConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

const THREADS: i32 = 2;
const PROBLEMS: usize = 32;
const SAMPLES: usize = 8;
const LEVEL: u32 = 6;
const MAX_NEW: i64 = 64;
const WARMUP: usize = 1;
const REPS: usize = 5;
const LR: f64 = 1e-4;

/// §7.6: steps per run, evaluation interval, and rows sampled per evaluation: unprefixed
/// training set 200 × 8, held-out hard 200 × 8, OOD 100 × 8, prefix panel 16 × 10 × 8.
const GRID_STEPS: f64 = 300.0;
const EVAL_EVERY: f64 = 10.0;
const EVAL_ROWS: f64 = (200 * 8 + 200 * 8 + 100 * 8 + 16 * 10 * 8) as f64;
/// SFT before R3: 3 epochs over the 200 kept traces.
const SFT_ROWS: f64 = 3.0 * 200.0;
const TARGET_GRID_H: f64 = 2.0;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Median seconds of `REPS` calls after `WARMUP`.
fn time_median(mut f: impl FnMut()) -> f64 {
    for _ in 0..WARMUP {
        f();
    }
    median(
        (0..REPS)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

/// fp32 matmul rate of an `n`³ product (libtorch, this process's threads), FLOP/s.
fn matmul_rate(n: i64) -> f64 {
    let a = Tensor::randn([n, n], (Kind::Float, Device::Cpu));
    let b = Tensor::randn([n, n], (Kind::Float, Device::Cpu));
    let inner = (1 << 30) / (n * n * n).max(1) + 1; // ~1 GFLOP per timed call
    let secs = time_median(|| {
        for _ in 0..inner {
            let _ = a.matmul(&b);
        }
    }) / inner as f64;
    2.0 * (n * n * n) as f64 / secs
}

/// The bench's inputs: model, contexts (`<bos>` ⊕ level-6 prompt) and special ids.
struct Setup {
    model: Box<dyn LanguageModel>,
    cfg: nn::ModelConfig,
    vocab: i64,
    contexts: Vec<Context>,
    opts: SampleOptions,
}

fn setup() -> anyhow::Result<Setup> {
    let task = task::build(&TaskConfig::Countdown(CountdownConfig::default()))?;
    let tok = task::tokenizer(task.as_ref())?;
    let special = |s: &str| -> anyhow::Result<i64> {
        Ok(i64::from(
            tok.special(s)
                .ok_or_else(|| anyhow::anyhow!("tokenizer lacks {s}"))?,
        ))
    };
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut contexts = Vec::with_capacity(PROBLEMS);
    for i in 0..PROBLEMS {
        let p = task.sample(&mut rng, LEVEL, format!("bench-{i}"))?;
        let mut ids = vec![special("<bos>")?];
        ids.extend(tok.encode(&p.prompt)?.into_iter().map(i64::from));
        contexts.push(Context::unprefixed(ids));
    }
    let cfg = config_model::preset("small").ok_or_else(|| anyhow::anyhow!("no small preset"))?;
    let vocab = tok.vocab_size() as i64;
    tch::manual_seed(0);
    let model = nn::build(&cfg, vocab, Device::Cpu)?;
    let opts = SampleOptions::new(SAMPLES, MAX_NEW, special("<eos>")?, special("<pad>")?);
    Ok(Setup {
        model,
        cfg,
        vocab,
        contexts,
        opts,
    })
}

/// Seconds (median) and FLOPs (mean over the timed calls) of one part.
#[derive(Clone, Copy, Default)]
struct Part {
    secs: f64,
    flops: f64,
}

/// What the lab side measured, and the rows and advantages the peer replays.
struct Lab {
    sample: Part,
    recompute: Part,
    update: Part,
    rows: Vec<(Vec<i64>, Vec<i64>)>,
    advantages: Vec<f64>,
    mean_generated: f64,
    params: i64,
}

fn sampling_flops(fm: &FlopsModel, r: &Rollouts) -> f64 {
    (0..r.rows())
        .map(|i| fm.sampling(r.context_of(i).len() as u64, r.completions[i].len() as u64))
        .sum()
}

fn lab_side(s: &Setup) -> anyhow::Result<Lab> {
    let fm = FlopsModel::new(&s.cfg, s.vocab)?;
    let model = s.model.as_ref();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let (mut flops, mut generated, mut last) = (vec![], vec![], None);
    let secs = time_median(|| {
        let r = policy::sample(model, &s.contexts, &s.opts, &mut rng).expect("sample");
        flops.push(sampling_flops(&fm, &r));
        generated.push(r.generated_tokens() as f64 / r.rows() as f64);
        last = Some(r);
    });
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let sample = Part {
        secs,
        flops: mean(&flops),
    };
    let rollouts = last.expect("sampled");
    let rows = rollouts.training_rows();
    let train_flops: f64 = rows
        .iter()
        .map(|(c, g)| fm.training((c.len() + g.len()) as u64))
        .sum();

    let secs = time_median(|| {
        let b = policy::train_batch(&rows, s.opts.pad, Device::Cpu).expect("batch");
        tch::no_grad(|| policy::token_logprobs(model, &b, false)).expect("logprobs");
    });
    let recompute = Part {
        secs,
        flops: train_flops / 3.0,
    };

    let mut reward_rng = ChaCha8Rng::seed_from_u64(2);
    let rewards: Vec<Vec<f64>> = (0..PROBLEMS)
        .map(|_| {
            (0..SAMPLES)
                .map(|_| reward_rng.gen_range(0..2) as f64)
                .collect()
        })
        .collect();
    let advantages = algo::advantages(&rewards, AdvantageKind::Grpo, 1e-6).concat();
    let batch = policy::train_batch(&rows, s.opts.pad, Device::Cpu)?;
    let mut opt = policy::policy_optimizer(model, LR, Some(1.0))?;
    let secs = time_median(|| {
        policy::pg_step(
            model,
            &mut opt,
            &batch,
            &advantages,
            Surrogate::Reinforce,
            None,
            LR,
        )
        .expect("pg_step");
    });
    let update = Part {
        secs,
        flops: train_flops,
    };
    Ok(Lab {
        sample,
        recompute,
        update,
        rows,
        advantages,
        mean_generated: mean(&generated),
        params: nn::num_parameters(model),
    })
}

fn venv_python() -> Option<PathBuf> {
    let venv = std::env::var_os("VIRTUAL_ENV")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/lab/venv")))?;
    let py = venv.join("bin/python");
    py.exists().then_some(py)
}

/// The PyTorch eager peer on the same contexts, rows and advantages (one JSON line back).
fn torch_side(python: &PathBuf, s: &Setup, lab: &Lab) -> Result<Value, String> {
    let job = json!({
        "model": {"d_model": s.cfg.d_model, "n_layer": s.cfg.n_layer, "n_head": s.cfg.n_head,
                  "d_ff": s.cfg.d_ff, "block_size": s.cfg.block_size},
        "vocab": s.vocab, "n": SAMPLES, "max_new": MAX_NEW, "eos": s.opts.eos, "pad": s.opts.pad,
        "threads": THREADS, "warmup": WARMUP, "reps": REPS,
        "contexts": s.contexts.iter().map(Context::ids).collect::<Vec<_>>(),
        "rows": lab.rows, "advantages": lab.advantages,
    });
    let path = std::env::temp_dir().join(format!("prefixrl-bench-{}.json", std::process::id()));
    std::fs::write(&path, job.to_string()).map_err(|e| e.to_string())?;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/prefixrl_step_peer.py");
    let out = Command::new(python)
        .arg(script)
        .arg("--input")
        .arg(&path)
        .output();
    let _ = std::fs::remove_file(&path);
    let out = out.map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().ok_or("no output")?;
    serde_json::from_str(line).map_err(|e| format!("{e}: {line}"))
}

lab::prepare_test_process!();

fn main() -> anyhow::Result<()> {
    tch::set_num_threads(THREADS);
    // OpenBLAS gets one thread, as `lab prefixrl` gives it (its tensor work is libtorch's).
    lab::device::set_blas_threads(1);
    let started = Instant::now();
    let rates = [256, 1024].map(|n| (n, matmul_rate(n)));
    let s = setup()?;
    let lab = lab_side(&s)?;
    let python = venv_python();
    let peer = match &python {
        Some(py) => torch_side(py, &s, &lab).map_err(|e| format!("torch failed: {e}")),
        None => Err("PyTorch side SKIPPED: no venv python (make setup creates it)".into()),
    };
    let ctx_mean = s.contexts.iter().map(Context::len).sum::<usize>() as f64 / PROBLEMS as f64;
    println!(
        "== prefixrl: one RL step, `small` ({:.2} M params, vocab {}), B = {PROBLEMS} countdown level-{LEVEL} \
         problems x n = {SAMPLES}, contexts {ctx_mean:.1} tokens, max_new {MAX_NEW} ({:.1} generated/row), \
         {THREADS} threads, medians of {REPS} after {WARMUP} warm-up",
        lab.params as f64 / 1e6,
        s.vocab,
        lab.mean_generated
    );
    let rate_text: Vec<String> = rates
        .iter()
        .map(|(n, r)| format!("{n}^3 {:.1} GFLOP/s", r / 1e9))
        .collect();
    println!("fp32 matmul rate (libtorch): {}", rate_text.join(", "));
    report(&lab, &rates, peer.as_ref().ok());
    if let Err(e) = &peer {
        println!("{e}");
    }
    grid_estimate(&lab);
    println!("(bench wall time {:.0} s)", started.elapsed().as_secs_f64());
    Ok(())
}

fn report(lab: &Lab, rates: &[(i64, f64); 2], peer: Option<&Value>) {
    println!(
        "{:<11} {:>9} {:>8} {:>9} {:>10} {:>11} {:>10} {:>11}",
        "part", "lab ms", "GFLOP", "GFLOP/s", "% mm 256", "% mm 1024", "torch ms", "torch/lab"
    );
    let total = Part {
        secs: lab.sample.secs + lab.recompute.secs + lab.update.secs,
        flops: lab.sample.flops + lab.recompute.flops + lab.update.flops,
    };
    let parts = [
        ("sampling", lab.sample, "sample_s"),
        ("recompute", lab.recompute, "recompute_s"),
        ("update", lab.update, "update_s"),
        ("step", total, ""),
    ];
    for (name, p, key) in parts {
        let achieved = p.flops / p.secs;
        let mut line = format!(
            "{name:<11} {:>9.1} {:>8.2} {:>9.2} {:>9.1}% {:>10.1}%",
            1e3 * p.secs,
            p.flops / 1e9,
            achieved / 1e9,
            100.0 * achieved / rates[0].1,
            100.0 * achieved / rates[1].1
        );
        let theirs = match (peer, key) {
            (Some(v), "") => ["sample_s", "recompute_s", "update_s"]
                .iter()
                .map(|k| v[*k].as_f64())
                .sum::<Option<f64>>(),
            (Some(v), k) => v[k].as_f64(),
            (None, _) => None,
        };
        if let Some(t) = theirs {
            line += &format!(" {:>10.1} {:>10.2}x", 1e3 * t, t / p.secs);
        }
        println!("{line}");
    }
    if let Some(v) = peer {
        println!(
            "torch {} eager: {} decode steps (median), {:.0} MiB peak RSS; torch/lab > 1: lab faster",
            v["torch"].as_str().unwrap_or("?"),
            v["decode_steps"],
            v["maxrss_kib"].as_f64().unwrap_or(0.0) / 1024.0
        );
    }
}

/// §7.6's 1-seed grid from the measured parts: R1, R3–R8 at one step each; R2 (n = 64) at 8×
/// the rows, sampled and trained; R3's SFT (3 epochs × 200 traces) at the update's cost per
/// row; evaluation at steps 0, 10, …, 300 at the sampling cost per row.
fn grid_estimate(lab: &Lab) {
    let rows = (PROBLEMS * SAMPLES) as f64;
    let step = lab.sample.secs + lab.recompute.secs + lab.update.secs;
    let training = GRID_STEPS * (7.0 + 8.0) * step;
    let sft = SFT_ROWS / rows * lab.update.secs;
    let evals = 8.0 * (GRID_STEPS / EVAL_EVERY + 1.0) * EVAL_ROWS / rows * lab.sample.secs;
    let total_h = (training + sft + evals) / 3600.0;
    let verdict = if total_h <= TARGET_GRID_H {
        "met"
    } else {
        "not met"
    };
    println!(
        "1-seed R1-R8 grid estimate (§7.6): {total_h:.2} h = RL steps {:.2} h (R2 at 8x) + SFT {:.3} h \
         + evaluation {:.2} h; target <= {TARGET_GRID_H} h: {verdict}",
        training / 3600.0,
        sft / 3600.0,
        evals / 3600.0
    );
}
