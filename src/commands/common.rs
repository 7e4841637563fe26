//! Small edge helpers shared by the subcommands: this executable's path, writing an output
//! file named by a flag, printing to stdout, and the exit of a report's SLO verdicts.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use crate::error::{CliError, Outcome, failed, usage};

/// The dynobench binary for helper processes: this executable.
pub(crate) fn own_exe() -> Result<std::path::PathBuf, CliError> {
    std::env::current_exe()
        .context("locating the dynobench executable")
        .map_err(failed)
}

/// Writes `text` to `path`, naming the flag when that fails.
pub(crate) fn write_file(path: &Path, flag: &str, text: &str) -> Result<(), CliError> {
    std::fs::write(path, text)
        .with_context(|| format!("{flag} {}: cannot write the file", path.display()))
        .map_err(usage)
}

/// Prints `text` to stdout.
pub(crate) fn print(text: &str) -> Result<(), CliError> {
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .context("writing to stdout")
        .map_err(failed)
}

/// The exit for a finished report: 1 (threshold failed) when an SLO broke, each named on
/// stderr; else success.
pub(crate) fn slo_outcome(report: &crate::record::RunReport) -> Outcome {
    let broken: Vec<_> = report.slo.iter().filter(|v| !v.held).collect();
    for v in &broken {
        eprintln!("SLO {}: {}", v.outcome.word(), v.line);
    }
    if broken.is_empty() {
        Outcome::Ok
    } else {
        Outcome::ThresholdFailed
    }
}

/// Checks a results label (`--label`): letters, digits, '-', '_' and '.' only.
pub(crate) fn check_label(label: &str) -> Result<(), CliError> {
    if label.is_empty()
        || !label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(usage(anyhow::anyhow!(
            "--label '{label}' may use only letters, digits, '-', '_' and '.'"
        )));
    }
    Ok(())
}

/// The classes `--class` names, from `catalog`; the error names the flag.
pub(crate) fn named_classes(
    catalog: &crate::class::Catalog,
    names: &[String],
) -> Result<Vec<crate::class::DynoClass>, CliError> {
    names
        .iter()
        .map(|n| {
            catalog
                .class(n)
                .cloned()
                .map_err(|e| usage(anyhow::anyhow!("--class: {e}")))
        })
        .collect()
}
