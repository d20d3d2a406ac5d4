//! Command-line arguments (clap derive): the options every paper subcommand shares and the
//! result tools. The list of paper subcommands is `subcommands::PAPERS`.
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// The subcommands that are not papers: reading what runs wrote.
#[derive(Subcommand, Debug)]
pub enum Tool {
    /// Summarize the runs under DIR (a study or any results folder) into report.md and summary.csv
    Report(ReportArgs),
    /// Plot metrics.csv columns of a run or study: mean across seeds with a standard-error band
    Plot(PlotArgs),
    /// Print the summary metrics of runs side by side and the config keys that differ
    Compare(CompareArgs),
    /// Text corpora for the language models: `prepare kjv` (set-up) and `info`
    #[command(subcommand)]
    Corpus(CorpusCommand),
    /// Where each run of a study is: completed, running, pending (Slurm), failed, interrupted
    Status(StatusArgs),
}

#[derive(Args, Debug, Clone)]
pub struct StatusArgs {
    /// A study directory
    pub dir: PathBuf,
    /// Cancel the study's Slurm jobs (scancel); their runs end `interrupted`
    #[arg(long)]
    pub cancel: bool,
}

/// Where a study's runs execute.
#[derive(clap::ValueEnum, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Executor {
    /// Child processes on this machine, `--jobs` at a time
    #[default]
    Local,
    /// One Slurm job array (`sbatch --array`), configured by the `study.slurm:` block
    Slurm,
}

#[derive(Subcommand, Debug)]
pub enum CorpusCommand {
    /// Produce a corpus that needs a set-up step: kjv, from Debian's bible-kjv package
    Prepare(CorpusPrepareArgs),
    /// Print a corpus's bytes, chars, distinct chars, lines and sha256
    Info(CorpusInfoArgs),
}

#[derive(Args, Debug, Clone)]
pub struct CorpusPrepareArgs {
    /// The corpus to produce (only kjv needs it)
    #[arg(value_parser = ["kjv"])]
    pub kind: String,
    /// Output file [default: data/generated/kjv.txt]
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct CorpusInfoArgs {
    /// kjv, fortunes, markov, grammar or file (with its defaults, or replacing --config's kind)
    pub kind: Option<String>,
    /// YAML with the corpus section (or a config with a `corpus:` section)
    #[arg(long, value_name = "FILE.yaml")]
    pub config: Option<PathBuf>,
    /// Set a key of the corpus section, e.g. --set vocab=16 (repeatable)
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

#[derive(Args, Debug, Clone)]
pub struct ReportArgs {
    /// A study directory, a directory of runs, or one run directory
    pub dir: PathBuf,
}

#[derive(Args, Debug, Clone)]
pub struct PlotArgs {
    /// A run or study directory (or any directory of runs)
    #[arg(value_name = "RUN_OR_STUDY")]
    pub path: PathBuf,
    /// metrics.csv column for the x axis
    #[arg(long, value_name = "COL")]
    pub x: String,
    /// metrics.csv column for the y axis (repeatable: one line per cell and column)
    #[arg(long, value_name = "COL", required = true)]
    pub y: Vec<String>,
    /// Logarithmic y axis (rows with y <= 0 are left out)
    #[arg(long)]
    pub logy: bool,
    /// Output file, .png or .svg (default: RUN_OR_STUDY/plots/<y>_vs_<x>.png and .svg)
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Replace an existing -o FILE: the old one is moved aside to FILE.replaced-<time>, never
    /// deleted (without --force an existing -o FILE is an error)
    #[arg(long, requires = "output")]
    pub force: bool,
}

#[derive(Args, Debug, Clone)]
pub struct CompareArgs {
    /// Run directories (two or more)
    #[arg(value_name = "RUN", num_args = 2.., required = true)]
    pub runs: Vec<PathBuf>,
}

/// Options shared by every paper subcommand.
#[derive(Args, Debug, Clone, Default)]
pub struct RunArgs {
    /// YAML config; keys it sets override the embedded default (`--print-config` shows it)
    #[arg(long, value_name = "FILE.yaml")]
    pub config: Option<PathBuf>,
    /// Override one config key (repeatable; value parsed as YAML)
    #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
    pub set: Vec<String>,
    /// Random seed (same as --set seed=N)
    #[arg(long)]
    pub seed: Option<u64>,
    /// Compute device: auto, cpu, cuda or cuda:N
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Threads for libtorch and OpenBLAS (default: all cores)
    #[arg(long, value_parser = parse_threads)]
    pub threads: Option<usize>,
    /// Run directory (default results/<subcommand>/<name or timestamp-id>); for a study, its directory
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Run name: the run directory becomes results/<subcommand>/<NAME> (for a study: its name)
    #[arg(long)]
    pub name: Option<String>,
    /// Write into an existing run directory (its files are replaced); for a study: start it over
    #[arg(long)]
    pub force: bool,
    /// No progress output
    #[arg(long)]
    pub quiet: bool,
    /// Print the config as it would run and exit, running nothing: the embedded default (with
    /// its comments) alone, or merged with --config/--set/--seed and validated
    #[arg(long)]
    pub print_config: bool,
    /// Study only (config with a `study:` block): run at most N runs at a time [default: 1]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub jobs: Option<u64>,
    /// Without a value, for a study: keep runs whose meta.json says completed, run the others
    /// again. With RUN_DIR: continue that run from its last checkpoint into a new run directory
    /// (its config.yaml is the config unless --config is given)
    #[arg(long, value_name = "RUN_DIR", num_args = 0..=1)]
    pub resume: Option<Option<PathBuf>>,
    /// Study only: where the runs execute, `local` processes or one `slurm` job array
    #[arg(long, value_enum, default_value_t = Executor::Local)]
    pub executor: Executor,
}

impl RunArgs {
    /// `--resume` without a directory: resume a study.
    pub fn resume_study(&self) -> bool {
        matches!(self.resume, Some(None))
    }

    /// `--resume RUN_DIR`: continue one run.
    pub fn resume_run(&self) -> Option<&std::path::Path> {
        self.resume.as_ref().and_then(|r| r.as_deref())
    }
}

/// `--threads N`: 1 ..= [`crate::device::MAX_THREADS`].
fn parse_threads(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if crate::device::threads_ok(n) => Ok(n),
        _ => Err(format!(
            "expected a thread count from 1 to {}",
            crate::device::MAX_THREADS
        )),
    }
}
