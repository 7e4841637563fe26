//! The edges: one file per subcommand turns raw flags into a validated plan, reads and
//! writes files, runs the work and prints. Nothing below `commands/` prints.

mod app;
mod calibrate;
mod children;
mod classes;
mod common;
mod compare;
mod fidelity;
mod formation;
mod k8s;
mod merge;
mod payload;
mod plan;
mod report;
mod run;
mod serve;
mod shard;
mod simulate;
mod soak;
mod validate;
mod validate_aa;
mod validate_capacity;

pub(crate) use run::plan as run_plan;

use crate::cli::Command;
use crate::error::{CliError, Outcome};

pub(crate) fn dispatch(cmd: Command) -> Result<Outcome, CliError> {
    match cmd {
        Command::Serve(a) => serve::serve(a),
        Command::Payload(a) => payload::payload(a),
        Command::Classes(a) => classes::classes(a),
        Command::Calibrate(a) => calibrate::calibrate(a),
        Command::Fidelity(a) => fidelity::fidelity(a),
        Command::Neighbour(a) => children::neighbour(a),
        Command::Burn(a) => children::burn_child(a),
        Command::Run(a) => run::run(*a),
        Command::Compare(a) => compare::compare(a),
        Command::Report(a) => report::report(a),
        Command::Merge(a) => merge::merge(a),
        Command::K8s(a) => k8s::k8s(a),
        Command::Soak(a) => soak::soak(a),
        Command::Schema { fields } => {
            print!(
                "{}",
                if fields {
                    crate::report::export::fields::fields_markdown()
                } else {
                    crate::report::export::json::schema()
                }
            );
            Ok(Outcome::Ok)
        }
        Command::Simulate(a) => simulate::simulate(a),
        Command::Plan(a) => plan::plan(a),
        Command::Validate(a) => validate::validate(a),
    }
}
