//! dynobench: measure how dyno classes (CPU share, memory, price) shape tail latency and
//! cost, by running a JSON workload endpoint under emulated classes and recording it.

pub mod class;
pub mod cli;
pub mod cluster;
pub mod compare;
pub mod driver;
pub mod endpoint;
pub mod error;
pub mod interrupt;
pub mod limit;
pub mod procfs;
pub mod record;
pub mod report;
pub mod server;
pub mod simulate;
pub mod slo;
pub mod units;
pub mod workload;

mod commands;

pub use error::{CliError, Outcome};

/// Validates `run` flags into a plan (what the binary does before running), with `exe` as
/// the dynobench binary to start servers and helpers from.
pub fn run_plan(args: &cli::RunArgs, exe: std::path::PathBuf) -> Result<driver::RunPlan, CliError> {
    commands::run_plan(args, exe)
}

/// Runs a parsed command line.
pub fn run(cli: cli::Cli) -> Result<Outcome, CliError> {
    commands::dispatch(cli.command)
}
