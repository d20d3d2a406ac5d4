//! `lab`: parse the command line and hand over to the subcommand. Nothing else lives here.
use lab::{console, device, error, signals, subcommands};

fn main() {
    // Before any BLAS work or thread: OpenBLAS's kernels for this CPU (device::blas).
    device::fit_blas_core();
    let matches = subcommands::command().get_matches();
    signals::install();
    if let Err(err) = subcommands::dispatch(&matches) {
        console::err(format_args!("error: {err:#}\n"));
        std::process::exit(error::exit_code(&err));
    }
    // The work is done; what it printed did not all arrive (a broken pipe is no failure).
    if let Some(why) = console::stdout_failure() {
        console::err(format_args!(
            "error: could not write to standard output: {why}\n"
        ));
        std::process::exit(1);
    }
}
