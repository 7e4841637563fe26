//! dynobench: measure how dyno classes (CPU share, memory, price) shape tail latency and
//! cost, by running a JSON workload endpoint under emulated classes and recording it.

pub mod class;
pub mod cli;
pub mod error;
pub mod interrupt;
pub mod limit;
pub mod report;
pub mod server;
pub mod simulate;
pub mod slo;
pub mod workload;

mod commands;

pub use error::{CliError, Outcome};

/// Runs a parsed command line.
pub fn run(cli: cli::Cli) -> Result<Outcome, CliError> {
    commands::dispatch(cli.command)
}
