//! `lab`: parse the command line and hand over to the subcommand. Nothing else lives here.
use lab::{error, signals, subcommands};

fn main() {
    let matches = subcommands::command().get_matches();
    signals::install();
    if let Err(err) = subcommands::dispatch(&matches) {
        eprintln!("error: {err:#}");
        std::process::exit(error::exit_code(&err));
    }
}
