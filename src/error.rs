//! Errors at the command layer and their exit codes (DESIGN.md §4): 2 for usage or input
//! errors, 3 when a run fails; 0 and 1 are outcomes, not errors.

use thiserror::Error;

/// A command that could not do its job.
#[derive(Debug, Error)]
pub enum CliError {
    /// Bad flags, files or input: exit 2.
    #[error("{}", chain_text(.0))]
    Usage(anyhow::Error),
    /// The work itself failed: exit 3.
    #[error("{}", chain_text(.0))]
    Failed(anyhow::Error),
    /// Stopped by Ctrl-C or SIGTERM (what was measured is kept): exit 130.
    #[error("{}", chain_text(.0))]
    Interrupted(anyhow::Error),
}

/// The error and its causes joined by `: `, leaving out a cause its message already
/// states (`cannot read payload x: No such file…` is not followed by the same OS error).
pub fn chain_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let c = cause.to_string();
        if text.contains(&c) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&c);
    }
    text
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
    /// No verdict could be given because measured figures are invalid (`compare`: a class
    /// whose driver was the bottleneck in either run): exit 4.
    Invalid,
}

impl Outcome {
    /// The process exit code.
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Ok => 0,
            Outcome::ThresholdFailed => 1,
            Outcome::Invalid => 4,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_in_the_message_is_not_repeated() {
        let e =
            crate::workload::Payload::load(Some(std::path::Path::new("/no/such/payload.json"))).unwrap_err();
        let text = usage(e).to_string();
        assert_eq!(text.matches("os error 2").count(), 1, "{text}");
        assert!(
            text.starts_with("cannot read payload /no/such/payload.json"),
            "{text}"
        );
        let wrapped = usage(anyhow::Error::from(std::io::Error::other("disk full")).context("writing x"));
        assert_eq!(wrapped.to_string(), "writing x: disk full");
    }
}
