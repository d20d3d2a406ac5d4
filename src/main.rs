//! `lab`: parse the command line and hand over to the subcommand. Nothing else lives here.
use lab::{device, error, signals, subcommands};

fn main() {
    // Before any BLAS work or thread: OpenBLAS's kernels for this CPU (device::blas).
    device::fit_blas_core();
    let matches = subcommands::command().get_matches();
    signals::install();
    if let Err(err) = subcommands::dispatch(&matches) {
        eprintln!("error: {err:#}");
        std::process::exit(error::exit_code(&err));
    }
}
