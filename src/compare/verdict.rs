//! Verdicts on a change with its interval: faster, slower, no change within the noise
//! threshold, or insufficient data to tell.

use super::stats::Change;

/// What a comparison can say about one metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// B is lower, significantly and by more than the noise threshold.
    Faster,
    /// B is higher, significantly and by more than the noise threshold.
    Slower,
    /// The whole interval lies within ± the noise threshold (an equivalence test: both
    /// one-sided tests against ± the threshold reject).
    NoChange,
    /// The interval allows a change beyond the noise threshold but does not show one (or
    /// there is no interval at all).
    InsufficientData,
}

impl Verdict {
    /// The words in the report.
    pub fn text(self) -> &'static str {
        match self {
            Verdict::Faster => "faster",
            Verdict::Slower => "slower",
            Verdict::NoChange => "no change",
            Verdict::InsufficientData => "insufficient data",
        }
    }
}

/// The verdict on `change` (relative, B/A − 1) against a noise threshold (0.02 = 2%).
pub fn verdict(change: Option<Change>, noise: f64) -> Verdict {
    let Some(c) = change else {
        return Verdict::InsufficientData;
    };
    if c.lo > 0.0 && c.estimate > noise {
        Verdict::Slower
    } else if c.hi < 0.0 && c.estimate < -noise {
        Verdict::Faster
    } else if c.lo >= -noise && c.hi <= noise {
        Verdict::NoChange
    } else {
        Verdict::InsufficientData
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(estimate: f64, lo: f64, hi: f64) -> Option<Change> {
        Some(Change { estimate, lo, hi })
    }

    #[test]
    fn four_verdicts() {
        assert_eq!(verdict(c(0.2, 0.1, 0.3), 0.02), Verdict::Slower);
        assert_eq!(verdict(c(-0.2, -0.3, -0.1), 0.02), Verdict::Faster);
        assert_eq!(verdict(c(0.0, -0.01, 0.015), 0.02), Verdict::NoChange);
        // Significant but small, with an interval reaching past the threshold: "no change"
        // is not shown (equivalence needs the whole interval inside).
        assert_eq!(verdict(c(0.01, 0.005, 0.03), 0.02), Verdict::InsufficientData);
        assert_eq!(verdict(c(0.01, 0.005, 0.015), 0.02), Verdict::NoChange);
        assert_eq!(verdict(c(0.05, -0.1, 0.2), 0.02), Verdict::InsufficientData);
        assert_eq!(verdict(None, 0.02), Verdict::InsufficientData);
    }
}
