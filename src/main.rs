//! `lab`: parse the command line and hand over to the subcommand. Nothing else lives here.
use clap::Parser;
use lab::{cli, compare, decompose, error, experiment, npg, plot, report, run};

fn main() {
    let cli = cli::Cli::parse();
    run::install_ctrlc();
    let outcome = match &cli.command {
        cli::Command::NpgRank1(a) => experiment::launch::<npg::NpgConfig>(a),
        cli::Command::Grng(_) => experiment::not_implemented("grng"),
        cli::Command::Decompose(a) => experiment::launch::<decompose::DecomposeConfig>(a),
        cli::Command::EntropyProbe(_) => experiment::not_implemented("entropy-probe"),
        cli::Command::Prefixrl(_) => experiment::not_implemented("prefixrl"),
        cli::Command::Report(a) => report::command(&a.dir),
        cli::Command::Plot(a) => plot::command(a),
        cli::Command::Compare(a) => compare::command(&a.runs),
    };
    if let Err(err) = outcome {
        eprintln!("error: {err:#}");
        std::process::exit(error::exit_code(&err));
    }
}
