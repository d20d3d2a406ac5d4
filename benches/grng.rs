//! `make bench`: cost of each `lab grng` optimizer relative to SGD (issue 13, "Performance"):
//! time per training step on `mlp-digits` and on the `charlm-grammar` GPT (batch 64; 64-char
//! sequences), at the kinds' t_stat 10 / t_inv 100, and the optimizer state's bytes over the
//! parameters' bytes. Only the ratios are claims: the CPU changes between days.
//!
//! A step's cost changes over a run (RING's damping moves more late in training, so its §1.5
//! guard fails more often), so each optimizer's figure is its mean over all timed steps, and
//! on `mlp-digits` those are 900 steps, about its whole 40-epoch run (920 steps); the char LM
//! times 300.
//!
//! Configs go through the same path as `lab grng` (the embedded default.yaml and kinds.yaml with
//! `--set`s), and so do the task, model, data and optimizer; a step is `Stepper::step` on one
//! batch, exactly what `time_step_ms` in steps.csv times. Each repeat times `T_INV` steps (one
//! inverse refresh and ten statistics refreshes, so refreshes are amortised as in a long run);
//! optimizers are interleaved within a repeat, so all see the same machine state. The ratios
//! are of the stepping thread's CPU time (libtorch runs there at 1 thread), which other
//! processes on a shared machine do not stretch as they do the wall time (also printed).
//! `GRNG_BENCH_TASK=mlp-digits` times one task only; `GRNG_BENCH_OPTS=rkalman,ring` times only
//! those optimizers (SGD, the baseline, always runs); `GRNG_BENCH_REPEATS=50` times 50 repeats
//! of 100 steps on each task (a run long enough to profile).
use anyhow::Result;
use lab::config::{self, Kinds};
use lab::experiment::Experiment;
use lab::grng::config::{GrngConfig, TaskId};
use lab::grng::source::Source;
use lab::grng::tasks::{self, Task};
use lab::grng::train::Batch;
use lab::optim::Stepper;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

const BATCH: usize = 64;
const SEQ_LEN: usize = 64;
/// The kinds' inverse interval (configs/grng/kinds.yaml): steps timed per repeat.
const T_INV: usize = 100;
/// Repeats on mlp-digits (about one whole run) and on the char LM.
const REPEATS_MLP: usize = 9;
const REPEATS_LM: usize = 3;
/// Untimed steps first (allocations, first factor and inverse computations).
const WARMUP: usize = 10;
/// Distinct batches drawn once and cycled (the draw stays out of the timing).
const POOL: u64 = 32;

/// (kind [optimizer keys], target × SGD) in table order; R-Kalman uses its default Kronecker
/// covariance, with the factors' statistics every step (the spec's default) and, for
/// comparison, every 10 steps (K-FAC's t_stat, spec §2.5's "or every T_stat").
const OPTIMIZERS: [(&str, Option<f64>); 8] = [
    ("sgd", None),
    ("adamw", None),
    ("sophia", Some(1.5)),
    ("kfac", Some(2.0)),
    ("reng", Some(4.0)),
    ("ring", Some(3.0)),
    ("rkalman", Some(3.0)),
    ("rkalman t_stat=10", Some(3.0)),
];

/// The resolved config `lab grng --set task=<task> --set optimizer.kind=<kind> ...` would run;
/// `label` is the kind, then optional `key=value` optimizer keys (`rkalman t_stat=10`).
fn config(task: &str, label: &str) -> Result<GrngConfig> {
    let kind = kind_of(label);
    let keys = label.split_whitespace().skip(1);
    let default = config::Source {
        name: "embedded configs/grng/default.yaml".into(),
        text: GrngConfig::DEFAULT_YAML.into(),
    };
    let kinds = Kinds::parse("embedded configs/grng/kinds.yaml", GrngConfig::KINDS_YAML);
    let mut sets = vec![
        format!("task={task}"),
        format!("optimizer.kind={kind}"),
        format!("train.batch={BATCH}"),
    ];
    if task.starts_with("charlm") {
        sets.push(format!("data.seq_len={SEQ_LEN}")); // read by the char-LM tasks only
    }
    sets.extend(keys.map(|kv| format!("optimizer.{kv}")));
    config::load_with_kinds(default, kinds, None, &sets)?.typed()
}

/// The optimizer kind of a table label (its first word).
fn kind_of(label: &str) -> &str {
    label.split_whitespace().next().unwrap_or_default()
}

/// One optimizer on its own freshly seeded model, with a pool of full-size batches.
struct Case {
    kind: &'static str,
    target: Option<f64>,
    task: Task,
    stepper: Box<dyn Stepper>,
    batches: Vec<(Tensor, Tensor)>,
    steps: usize,
    /// Thread CPU milliseconds per step, one per repeat (their mean is the ratios' basis).
    ms: Vec<f64>,
    /// Wall milliseconds per step, one per repeat.
    wall_ms: Vec<f64>,
    last_loss: f64,
}

impl Case {
    fn new(task_name: &str, kind: &'static str, target: Option<f64>) -> Result<Case> {
        let cfg = config(task_name, kind)?;
        tch::manual_seed(cfg.seed as i64);
        let (task, data) = tasks::build(&cfg, Device::Cpu)?;
        let source = Source::new(data, cfg.data.seq_len, cfg.data.eval_tokens, Device::Cpu);
        let probe = source.probe(task.budget.probe_size);
        let sample = probe.0.narrow(0, 0, probe.0.size()[0].min(2));
        let stepper = cfg.optimizer.build(&*task.model, &sample, cfg.seed)?;
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let mut batches = Vec::new();
        while batches.len() < POOL as usize {
            let drawn = source.epoch_batches(&task.budget, POOL, &mut rng)?;
            batches.extend(
                drawn
                    .into_iter()
                    .filter(|(x, _)| x.size()[0] == BATCH as i64),
            );
        }
        Ok(Case {
            kind,
            target,
            task,
            stepper,
            batches,
            steps: 0,
            ms: Vec::new(),
            wall_ms: Vec::new(),
            last_loss: f64::NAN,
        })
    }

    /// Run `n` steps; (thread CPU, wall) milliseconds per step.
    fn run(&mut self, n: usize) -> Result<(f64, f64)> {
        let start = Instant::now();
        let cpu_start = thread_cpu_ms();
        for _ in 0..n {
            let (x, y) = &self.batches[self.steps % self.batches.len()];
            let mut obj = Batch {
                model: &*self.task.model,
                x: x.shallow_clone(),
                y: y.shallow_clone(),
            };
            self.last_loss = self.stepper.step(&mut obj)?.loss;
            self.steps += 1;
        }
        let cpu = (thread_cpu_ms() - cpu_start) / n as f64;
        Ok((cpu, start.elapsed().as_secs_f64() * 1e3 / n as f64))
    }

    /// Mean CPU ms per step over all timed steps (every repeat has `T_INV`).
    fn mean_ms(&self) -> f64 {
        mean(&self.ms)
    }

    /// The markdown row: CPU ms/step, × SGD, wall ms/step, target, met?, state/params.
    fn row(&self, task_name: &str, sgd_ms: f64) -> Result<String> {
        let ms = self.mean_ms();
        let wall = mean(&self.wall_ms);
        let ratio = ms / sgd_ms;
        let (target, met) = match self.target {
            Some(t) => (format!("≤ {t}×"), if ratio <= t { "yes" } else { "**no**" }),
            None => ("–".to_string(), "–"),
        };
        let diverged = if self.last_loss.is_finite() {
            ""
        } else {
            " (diverged)"
        };
        Ok(format!(
            "| {}{diverged} | {task_name} | {ms:.2} | {ratio:.2} | {wall:.2} | {target} | {met} | {:.2} |",
            self.kind,
            self.state_over_params()?
        ))
    }

    /// Bytes of the tensors in `state_dict()` over the bytes of the trainable parameters.
    fn state_over_params(&self) -> Result<f64> {
        let bytes = |t: &Tensor| t.numel() as f64 * t.kind().elt_size_in_bytes() as f64;
        let state: f64 = self
            .stepper
            .state_dict()?
            .tensors
            .iter()
            .map(|(_, t)| bytes(t))
            .sum();
        let params: f64 = (self.task.model.var_store().trainable_variables().iter())
            .map(bytes)
            .sum();
        Ok(state / params)
    }
}

/// All optimizers on one task, interleaved; one markdown row each. An optimizer that `lab grng`
/// refuses on this task gets a row saying why.
fn bench_task(task_name: &str) -> Result<Vec<String>> {
    let only = std::env::var("GRNG_BENCH_OPTS").ok();
    let chosen = |kind: &str| {
        let kind = kind_of(kind);
        kind == "sgd"
            || only
                .as_deref()
                .is_none_or(|o| o.split(',').any(|k| k.trim() == kind))
    };
    let mut cases: Vec<Result<Case, String>> = OPTIMIZERS
        .iter()
        .filter(|(kind, _)| chosen(kind))
        .map(|&(kind, target)| {
            Case::new(task_name, kind, target)
                .map_err(|e| format!("| {kind} | {task_name} | not run: {e} ||||||"))
        })
        .collect();
    for c in cases.iter_mut().flatten() {
        c.run(WARMUP)?;
    }
    for _ in 0..repeats(task_name) {
        for c in cases.iter_mut().flatten() {
            let (cpu, wall) = c.run(T_INV)?;
            c.ms.push(cpu);
            c.wall_ms.push(wall);
        }
    }
    let sgd = match &cases[0] {
        Ok(c) => c.mean_ms(),
        Err(row) => return Err(anyhow::anyhow!("no SGD baseline: {row}")),
    };
    cases
        .iter()
        .map(|c| match c {
            Ok(c) => c.row(task_name, sgd),
            Err(row) => Ok(row.clone()),
        })
        .collect()
}

/// Repeats of `T_INV` steps on `task`: `GRNG_BENCH_REPEATS` (e.g. a longer run to profile),
/// else [`REPEATS_MLP`] on mlp-digits and [`REPEATS_LM`] on the char LM.
fn repeats(task: &str) -> usize {
    let default = if task == TaskId::MlpDigits.name() {
        REPEATS_MLP
    } else {
        REPEATS_LM
    };
    std::env::var("GRNG_BENCH_REPEATS")
        .ok()
        .and_then(|r| r.parse().ok())
        .filter(|&r| r > 0)
        .unwrap_or(default)
}

/// CPU time of the calling thread in milliseconds (libtorch runs on it at 1 thread), so that
/// other processes on a shared machine stretch the wall time but not this.
fn thread_cpu_ms() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return f64::NAN;
    }
    ts.tv_sec as f64 * 1e3 + ts.tv_nsec as f64 / 1e6
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// The CPU model (the ratios hold on one machine and one day only).
fn machine() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{model}, {cores} cores visible")
}

/// fp32 matmul rate of this machine (512³, one thread), GFLOP/s.
fn matmul_gflops() -> f64 {
    let n = 512;
    let a = Tensor::randn([n, n], (Kind::Float, Device::Cpu));
    let b = Tensor::randn([n, n], (Kind::Float, Device::Cpu));
    let _ = a.matmul(&b);
    let reps = 20;
    let start = Instant::now();
    for _ in 0..reps {
        let _ = a.matmul(&b);
    }
    2.0 * (n * n * n) as f64 * reps as f64 / start.elapsed().as_secs_f64() / 1e9
}

lab::prepare_test_process!();

fn main() -> Result<()> {
    // One thread, as `lab grng` runs by default (default.yaml: torch_threads 1).
    lab::device::set_threads(Some(1))?;
    let started = Instant::now();
    println!(
        "== grng: time per step vs SGD (batch {BATCH}, char LM {SEQ_LEN}-char sequences; t_stat 10, \
         t_inv {T_INV}; mean over {} (mlp-digits) and {} (char LM) steps after {WARMUP} warm-up, \
         1 thread)",
        repeats(TaskId::MlpDigits.name()) * T_INV,
        repeats(TaskId::CharlmGrammar.name()) * T_INV
    );
    println!(
        "machine: {}; fp32 matmul (512^3, libtorch, 1 thread) {:.1} GFLOP/s",
        machine(),
        matmul_gflops()
    );
    println!();
    println!(
        "| optimizer | task | CPU ms/step | × SGD | wall ms/step | target | met? | state/params |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let only = std::env::var("GRNG_BENCH_TASK").ok();
    let tasks = [TaskId::MlpDigits, TaskId::CharlmGrammar];
    for task in tasks
        .into_iter()
        .filter(|t| only.as_deref().is_none_or(|o| o == t.name()))
    {
        for row in bench_task(task.name())? {
            println!("{row}");
        }
    }
    println!("\n(whole bench {:.0} s)", started.elapsed().as_secs_f64());
    Ok(())
}
