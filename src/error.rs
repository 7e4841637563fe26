//! Errors at the command layer and their exit codes (DESIGN.md §4): 2 for usage or input
//! errors, 3 when a run fails; 0 and 1 are outcomes, not errors.

use thiserror::Error;

/// A command that could not do its job.
#[derive(Debug, Error)]
pub enum CliError {
    /// Bad flags, files or input: exit 2.
    #[error("{0:#}")]
    Usage(anyhow::Error),
    /// The work itself failed: exit 3.
    #[error("{0:#}")]
    Failed(anyhow::Error),
    /// Stopped by Ctrl-C or SIGTERM (what was measured is kept): exit 130.
    #[error("{0:#}")]
    Interrupted(anyhow::Error),
}

impl CliError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Failed(_) => 3,
            CliError::Interrupted(_) => 130,
        }
    }
}

/// Wraps an input error (exit 2).
pub fn usage(e: impl Into<anyhow::Error>) -> CliError {
    CliError::Usage(e.into())
}

/// Wraps a runtime failure (exit 3).
pub fn failed(e: impl Into<anyhow::Error>) -> CliError {
    CliError::Failed(e.into())
}

/// How a successful command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything held: exit 0.
    Ok,
    /// A threshold (SLO, compare regression) failed: exit 1.
    ThresholdFailed,
}

impl Outcome {
    /// The process exit code.
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Ok => 0,
            Outcome::ThresholdFailed => 1,
        }
    }
}
