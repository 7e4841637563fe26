//! The `dynobench` binary: parse the command line, run it, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = dynobench::cli::Cli::parse();
    match dynobench::run(cli) {
        Ok(outcome) => ExitCode::from(outcome.exit_code()),
        Err(e) => {
            eprintln!("dynobench: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
