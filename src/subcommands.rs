//! The one list of subcommands. Adding a paper is one entry in [`PAPERS`], its folder under
//! `src/` (a config type implementing `Experiment`) and its `configs/<name>/`: the command line,
//! the dispatch, and `lab report`'s default plots and report hook
//! all come from this list.
use crate::cli::{CorpusCommand, RunArgs, Tool};
use crate::experiment::{self, Experiment};
use crate::plot::defaults::DefaultPlot;
use crate::{compare, data, decompose, entropy, grng, npg, plot, prefixrl, report};
use anyhow::Result;
use clap::{ArgMatches, Args, FromArgMatches, Subcommand};

/// One paper subcommand.
pub struct Paper {
    pub name: &'static str,
    pub about: &'static str,
    /// Load the config, run the experiment (or its study) and write its results.
    pub launch: fn(&RunArgs) -> Result<()>,
    pub plots: &'static [DefaultPlot],
    /// The subcommand's own section and files in `lab report`.
    pub report: Option<report::ReportHook>,
    /// The `--set` example `--help` shows: a key of this subcommand's config.
    pub set_example: &'static str,
}

impl Paper {
    const fn implemented<E: Experiment>() -> Paper {
        Paper {
            name: E::NAME,
            about: E::ABOUT,
            launch: experiment::launch::<E>,
            plots: E::PLOTS,
            report: E::REPORT,
            set_example: E::SET_EXAMPLE,
        }
    }
}

/// Every paper subcommand, in `lab --help` order.
pub const PAPERS: &[Paper] = &[
    Paper::implemented::<npg::NpgConfig>(),
    Paper::implemented::<grng::GrngConfig>(),
    Paper::implemented::<decompose::DecomposeConfig>(),
    Paper::implemented::<entropy::EntropyConfig>(),
    Paper::implemented::<prefixrl::PrefixrlConfig>(),
];

/// The report hook of subcommand `name` (none for an unknown name).
pub fn report_for(name: &str) -> Option<report::ReportHook> {
    PAPERS
        .iter()
        .find(|p| p.name == name)
        .and_then(|p| p.report)
}

/// The default plots of subcommand `name` (none for an unknown name).
pub fn plots_for(name: &str) -> &'static [DefaultPlot] {
    PAPERS
        .iter()
        .find(|p| p.name == name)
        .map_or(&[], |p| p.plots)
}

/// The whole command line: one subcommand per paper, then the result tools.
pub fn command() -> clap::Command {
    let mut cmd = clap::Command::new("lab")
        .version(concat!(
            env!("CARGO_PKG_VERSION"),
            " (",
            env!("LAB_GIT_COMMIT"),
            ")"
        ))
        .after_help(
            "Exit codes: 0 done, 1 run failed, 2 usage or config error, 101 a bug in lab (a \
             panic), 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).",
        )
        .subcommand_required(true)
        .arg_required_else_help(true);
    for paper in PAPERS {
        let about = paper.about;
        // `about` after `augment_args`, which would set RunArgs' own doc comment instead.
        let sub = RunArgs::augment_args(clap::Command::new(paper.name))
            .about(about)
            .mut_arg("set", |a| {
                a.help(format!(
                    "Override one config key, e.g. --set {} (repeatable; value parsed as YAML)",
                    paper.set_example
                ))
            });
        cmd = cmd.subcommand(sub);
    }
    Tool::augment_subcommands(cmd).about(
        "Run five 2026 papers' methods against their baselines; metrics go to results/ as CSV",
    )
}

/// Run what the parsed command line asks for.
pub fn dispatch(matches: &ArgMatches) -> Result<()> {
    if let Some((name, sub)) = matches.subcommand() {
        if let Some(paper) = PAPERS.iter().find(|p| p.name == name) {
            let args = RunArgs::from_arg_matches(sub).unwrap_or_else(|e| e.exit());
            return (paper.launch)(&args);
        }
    }
    match Tool::from_arg_matches(matches).unwrap_or_else(|e| e.exit()) {
        Tool::Report(a) => report::command(&a.dir, &plots_for, &report_for),
        Tool::Plot(a) => plot::command(&a, &plots_for),
        Tool::Compare(a) => compare::command(&a.runs),
        Tool::Status(a) => crate::study::status_command(&a.dir, a.cancel),
        Tool::Corpus(CorpusCommand::Prepare(a)) => {
            data::command::prepare(&a.kind, a.out.as_deref())
        }
        Tool::Corpus(CorpusCommand::Info(a)) => {
            data::command::info(a.kind.as_deref(), a.config.as_deref(), &a.set)
        }
    }
}
