//! The launcher every paper subcommand shares: config → validation → run dir → device → run →
//! meta; or, for a config with a `study:` block, plan → child runs → closing report.
use crate::cli::RunArgs;
use crate::config::{self, Source, Validate};
use crate::device;
use crate::error::usage;
use crate::plot::defaults::DefaultPlot;
use crate::run::Run;
use crate::{report, study, torch};
use anyhow::Result;
use serde::{de::DeserializeOwned, Serialize};
use std::path::Path;

/// What `tch` and the RNGs need to know about where and how a run executes.
pub struct Ctx {
    /// Where libtorch tensors live (`--device`).
    pub device: tch::Device,
    pub rng: rand_chacha::ChaCha8Rng,
}

/// A paper's typed config: it knows its subcommand, default YAML, seed and how to run.
pub trait Experiment: DeserializeOwned + Serialize + Validate {
    /// Subcommand name, also the folder under configs/ and results/.
    const NAME: &'static str;
    /// One line for `lab --help`.
    const ABOUT: &'static str;
    /// The embedded `configs/<NAME>/default.yaml`.
    const DEFAULT_YAML: &'static str;
    /// The embedded `configs/<NAME>/kinds.yaml`: each kind-tagged section's per-kind defaults.
    const KINDS_YAML: &'static str = "";
    /// A real `--set` for `--help` (a key of this subcommand's config).
    const SET_EXAMPLE: &'static str = "seed=1";
    /// The plots `lab report` draws from this subcommand's metrics.csv.
    const PLOTS: &'static [DefaultPlot] = &[];
    /// This subcommand's own section and files in `lab report` (and a study's closing report).
    const REPORT: Option<report::ReportHook> = None;
    /// Whether runs compute with libtorch (loaded before the run starts; otherwise never).
    const USES_TORCH: bool = true;
    fn seed(&self) -> u64;
    /// The config key that names a run to continue, for subcommands that keep checkpoints
    /// (`--resume RUN_DIR` sets it).
    const RESUME_KEY: Option<&'static str> = None;
    /// The memory a run of this config is estimated to need, so a study (`--jobs`) starts
    /// side by side only runs whose estimates fit together; `None`: unknown, counted as none.
    fn memory_need(&self) -> Option<study::MemoryNeed> {
        None
    }
    /// libtorch threads this config asks for, overriding `--threads` for libtorch only.
    fn torch_threads(&self) -> Option<usize> {
        None
    }
    /// Whether libtorch does this config's tensor work. Its matrix products call `sgemm_`,
    /// which resolves to the OpenBLAS the binary links (see README "One BLAS"); OpenBLAS's
    /// pthreads and libtorch's OpenMP threads then spin against each other, which made batched
    /// sampling 13x slower on 2 cores while another process used the machine (about 10 % the
    /// other way on an idle one). Such runs give OpenBLAS one thread ([`prepare_compute`]).
    fn torch_computes(&self) -> bool {
        Self::USES_TORCH
    }
    /// Check the input files the config names (they exist and hold what the config says)
    /// without running, so that what every run would fail on is refused before a run or
    /// study folder is made. Errors are usage errors (exit 2) naming the key. Default: none.
    fn check_inputs(&self) -> Result<()> {
        Ok(())
    }
    /// Run the experiment, writing metrics into `run`.
    fn execute(&self, run: &mut Run, ctx: &mut Ctx) -> Result<()>;
}

/// Load, check and run experiment `E` with the shared command-line options.
pub fn launch<E: Experiment>(args: &RunArgs) -> Result<()> {
    let plain = args.config.is_none()
        && args.set.is_empty()
        && args.seed.is_none()
        && args.resume.is_none();
    if args.print_config && plain {
        print!("{}", E::DEFAULT_YAML);
        return Ok(());
    }
    let default = Source {
        name: format!("embedded configs/{}/default.yaml", E::NAME),
        text: E::DEFAULT_YAML.to_string(),
    };
    let mut sets = args.set.clone();
    if let Some(seed) = args.seed {
        refuse_two_seeds(seed, &sets)?;
        sets.push(format!("seed={seed}"));
    }
    let resume_run = args.resume_run();
    let config_file = args
        .config
        .clone()
        .or_else(|| resume_run.map(|dir| dir.join("config.yaml")));
    let kinds = config::Kinds::parse(
        &format!("embedded configs/{}/kinds.yaml", E::NAME),
        E::KINDS_YAML,
    );
    let mut loaded = config::load_with_kinds(default, kinds, config_file.as_deref(), &sets)?;
    let merged = loaded.value.clone();
    if let Some(block) = study::plan::take_block(&mut loaded.value)? {
        if args.print_config {
            plan_study::<E>(args, &loaded, block)?; // validates every cell
            print!("{}", serde_yaml_ng::to_string(&merged)?);
            return Ok(());
        }
        if resume_run.is_some() {
            return Err(usage(
                "--resume RUN_DIR continues one run; resume a study with --resume alone",
            ));
        }
        return launch_study::<E>(args, loaded, block);
    }
    if args.jobs.is_some() || args.resume_study() || args.executor != crate::cli::Executor::Local {
        return Err(usage(
            "--jobs, --executor and --resume (without RUN_DIR) are for studies: the config has no \
             `study:` block",
        ));
    }
    if let Some(dir) = resume_run {
        let key = E::RESUME_KEY.ok_or_else(|| {
            usage(format!(
                "`lab {}` runs keep no checkpoints, so --resume RUN_DIR cannot continue one",
                E::NAME
            ))
        })?;
        let value = serde_yaml_ng::Value::from(dir.display().to_string());
        config::set_path(&mut loaded.value, key, value).map_err(usage)?;
    }
    // The flag, the key set with --set or a config file's key: the same run to continue.
    let resumed = E::RESUME_KEY.and_then(|key| config::lookup(&loaded.value, key));
    if let Some(serde_yaml_ng::Value::String(dir)) = resumed {
        refuse_resuming_into_itself::<E>(args, Path::new(dir))?;
    }
    let cfg: E = loaded.typed()?;
    loaded.validate(&cfg)?;
    let resolved = serde_yaml_ng::to_string(&cfg)?;
    if args.print_config {
        print!("{resolved}");
        return Ok(());
    }
    cfg.check_inputs()?;
    let (dev, threads, torch_threads, blas) = prepare_compute(args, &cfg)?;
    let mut run = Run::create(E::NAME, args, &resolved, cfg.seed())?;
    run.set_device(&device::name(dev), threads, torch_threads, blas)?;
    let mut ctx = Ctx {
        device: dev,
        rng: device::seed_all(cfg.seed()),
    };
    // A panic (a bug, or a libtorch error tch turns into one) still ends the run honestly.
    let outcome = crate::error::catch_panic(|| cfg.execute(&mut run, &mut ctx));
    if let Err(e) = &outcome {
        if crate::error::exit_code(e) == 2 && run.fresh_rows() == 0 {
            // Bad input data found by the run (a matrix that is not SPD, a wrong dtype, a
            // run to resume without a checkpoint): a usage error, so nothing stays written.
            // Once rows of its own are written, the folder stays, marked failed with the error.
            run.discard()?;
            return outcome;
        }
    }
    let dir = run.dir.clone();
    let finished = run.finish(&outcome);
    match (&outcome, &finished) {
        (Ok(()), Ok(())) => println!("results: {}", dir.display()),
        (Err(_), Err(e)) => {
            eprintln!("error: {e:#}");
            eprintln!("results (incomplete): {}", dir.display());
        }
        _ => eprintln!("results (incomplete): {}", dir.display()),
    }
    outcome.and(finished)
}

/// `--seed N` beside a `--set seed=M` with another value: which one was meant is unknown (before,
/// `--seed` won silently, wherever it stood on the command line).
fn refuse_two_seeds(seed: u64, sets: &[String]) -> Result<()> {
    let other = sets.iter().find(|s| {
        s.split_once('=').is_some_and(|(k, v)| {
            k.trim() == "seed" && config::parse_yaml(v).ok().and_then(|v| v.as_u64()) != Some(seed)
        })
    });
    match other {
        Some(set) => Err(usage(format!(
            "--seed {seed} and --set {set} disagree; give the seed once"
        ))),
        None => Ok(()),
    }
}

/// `--resume RUN_DIR` (or the config's resume key naming RUN_DIR) writes a new run directory
/// and carries RUN_DIR's rows over, so `--out` (or `--name`) naming RUN_DIR itself is
/// refused: with `--force` it would first move away the very run it reads.
fn refuse_resuming_into_itself<E: Experiment>(args: &RunArgs, resumed: &Path) -> Result<()> {
    let target = match (&args.out, &args.name) {
        (Some(out), _) => out.clone(),
        (None, Some(name)) => Path::new("results").join(E::NAME).join(name),
        (None, None) => return Ok(()),
    };
    let same = match (
        std::fs::canonicalize(&target),
        std::fs::canonicalize(resumed),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same {
        let flag = if args.out.is_some() {
            "--out"
        } else {
            "--name"
        };
        return Err(usage(format!(
            "{flag} names the run being resumed ({}): --resume RUN_DIR continues it into a new \
             run directory, carrying its rows over; pick another {flag}, or leave it out",
            resumed.display()
        )));
    }
    Ok(())
}

/// Load libtorch if the experiment uses it, pick the device and set the thread counts: the
/// device, OpenBLAS's threads, libtorch's own count (if the config sets one) and the BLAS.
fn prepare_compute<E: Experiment>(
    args: &RunArgs,
    cfg: &E,
) -> Result<(tch::Device, usize, Option<usize>, device::Blas)> {
    if E::USES_TORCH {
        torch::load()?;
    }
    let dev = device::select(&args.device, E::USES_TORCH)?;
    let threads = device::set_threads(args.threads)?;
    let torch_threads = cfg.torch_threads().filter(|_| E::USES_TORCH);
    if let Some(n) = torch_threads {
        tch::set_num_threads(n as i32);
    }
    if cfg.torch_computes() {
        device::set_blas_threads(1);
    }
    Ok((dev, threads, torch_threads, device::blas()?))
}

/// Plan the study described by `block` over `loaded`, typing and validating every cell, and
/// (unless only printing the config) checking each cell's input files.
fn plan_study<E: Experiment>(
    args: &RunArgs,
    loaded: &config::Loaded,
    block: study::plan::StudyBlock,
) -> Result<study::Study> {
    let default_seed = || Ok(loaded.typed::<E>()?.seed());
    let check = |cell: &config::Loaded| {
        let cfg = cell.typed::<E>()?;
        cell.validate(&cfg)?;
        if !args.print_config {
            cfg.check_inputs()?;
        }
        Ok(cfg.memory_need())
    };
    study::plan(E::NAME, args, loaded, block, &default_seed, &check)
}

/// Run the study described by `block` over `loaded`, then write its closing report.
fn launch_study<E: Experiment>(
    args: &RunArgs,
    loaded: config::Loaded,
    block: study::plan::StudyBlock,
) -> Result<()> {
    let planned = plan_study::<E>(args, &loaded, block)?;
    let outcome = study::execute(&planned, args)?;
    match report::write(&planned.dir, &|_| E::PLOTS, &|_| E::REPORT) {
        Ok(paths) => {
            if let Some(e) = &paths.hook_failed {
                eprintln!("warning: {e:#}");
            }
            if !args.quiet {
                println!("report: {}", paths.markdown.display());
            }
        }
        Err(e) => eprintln!("warning: could not write the study report: {e:#}"),
    }
    study::conclude(&planned.dir, &outcome)
}
