//! `lab` as a library: the binary (`main.rs`) only parses the command line and dispatches here;
//! integration tests and benchmarks use the same modules directly.
// First: its print macros replace std's in every module below (see console.rs).
#[macro_use]
pub mod console;
pub mod cli;
pub mod compare;
pub mod config;
pub mod data;
pub mod decompose;
pub mod device;
pub mod entropy;
pub mod error;
pub mod experiment;
pub mod grng;
pub mod input;
pub mod nn;
pub mod npg;
pub mod optim;
pub mod plot;
pub mod prefixrl;
pub mod progress;
pub mod report;
pub mod results;
pub mod rl;
pub mod run;
pub mod signals;
pub mod study;
pub mod subcommands;
pub mod torch;

#[cfg(test)]
prepare_test_process!();
