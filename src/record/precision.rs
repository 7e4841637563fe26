//! `run --precision P`: call until a percentile is known to ±P (pure). The percentile is the
//! strictest percentile SLO's (p99 without one); its interval is the one reports and SLO
//! verdicts give ([`percentile_interval`]: order statistics at the effective number of
//! calls when consecutive calls are correlated). The rule is checked at geometrically
//! spaced call counts (the first where the percentile can be bounded at all, then every
//! [`GROWTH`]× as many), and stops the class at the first check whose interval lies within
//! ±P of the estimate, or at the maximum.
//!
//! It is an **estimation target, not a test**: stopping when the interval happens to be
//! narrow is a data-dependent stopping rule, and the final interval's coverage is below
//! the nominal 95% by an amount `cargo bench --bench precision_coverage` measures (see
//! docs/statistics.md).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::recorder::ClassRecorder;
use super::result::ClassResult;
use super::verdict::{PercentileInterval, min_calls_for, percentile_interval};
use crate::slo::{Slo, SloMetric};

/// Each check comes after this many times the calls of the previous one.
pub const GROWTH: f64 = 1.25;
/// The first check comes after at least this many calls (the default `--calls`).
pub const FIRST_CHECK_FLOOR: u64 = 100;
/// `--max-calls`' default: the most measured calls per class under `--precision`.
pub const DEFAULT_MAX_CALLS: u32 = 10_000;

/// What `--precision` asks for, as run.json's config records it (its presence means the
/// precision rule, not a call count, stopped every class).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct PrecisionConfig {
    /// The percentile whose interval must be narrow (99 for p99): the strictest percentile
    /// SLO's, p99 without one.
    pub percentile: f64,
    /// The target: the interval within ± this percentage of the estimate.
    pub target_pct: f64,
    /// The most measured calls per class (`--max-calls`).
    pub max_calls: u32,
    /// The calls of the first check (the fewest that bound the percentile, at least 100).
    pub first_check: u32,
    /// Each later check comes after this many times the calls of the previous one.
    pub growth: f64,
}

impl PrecisionConfig {
    /// The rule for `slos` (the strictest percentile SLO's percentile, p99 without one),
    /// `target_pct` (±%) and `max_calls`.
    pub fn new(slos: &[Slo], target_pct: f64, max_calls: u32) -> PrecisionConfig {
        let percentile = slos
            .iter()
            .filter_map(|s| match s.metric {
                SloMetric::Percentile(p) => Some(p),
                _ => None,
            })
            .fold(None, |a: Option<f64>, p| Some(a.map_or(p, |a| a.max(p))))
            .unwrap_or(99.0);
        let first = min_calls_for(percentile / 100.0).max(FIRST_CHECK_FLOOR);
        PrecisionConfig {
            percentile,
            target_pct,
            max_calls,
            first_check: first.min(u64::from(max_calls)) as u32,
            growth: GROWTH,
        }
    }
}

/// How `--precision` ended for one class (run.json `classes[].precision`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct PrecisionOutcome {
    /// The percentile (99 for p99).
    pub percentile: f64,
    /// The target, ±% of the estimate.
    pub target_pct: f64,
    /// The target was met: a check found the interval within it and stopped the class,
    /// or the final interval is within it. False: the class reached `max_calls` (or
    /// stopped for another reason) with a wider interval.
    pub reached: bool,
    /// The final interval's larger distance from the estimate, % of it (absent when an end
    /// cannot be bounded). Calls still in flight at the stop are in it, so it can differ a
    /// little from the check's.
    pub half_width_pct: Option<f64>,
    /// Measured calls attempted.
    pub calls: u64,
    /// The most calls allowed.
    pub max_calls: u32,
    /// Checks made.
    pub checks: u32,
}

impl PrecisionOutcome {
    /// One line for the table and summary: `p99 within ±4.1% (target ±5%) after 2104 calls`
    /// or `precision not reached: ±7.9% at 10000 calls (target ±5% on p99)`.
    pub fn line(&self) -> String {
        let w = self
            .half_width_pct
            .map_or("unbounded".to_string(), |w| format!("±{w:.1}%"));
        if self.reached {
            format!(
                "p{} within {w} (target ±{}%) after {} calls",
                self.percentile, self.target_pct, self.calls
            )
        } else {
            format!(
                "precision not reached: {w} at {} calls (target ±{}% on p{}; at most {} calls, --max-calls)",
                self.calls, self.target_pct, self.percentile, self.max_calls
            )
        }
    }
}

/// The calls a check judges, copied from the recorder (see [`PrecisionRule::snapshot`]).
#[derive(Debug, Clone)]
pub struct PrecisionSnapshot {
    latency: super::histogram::Hist,
    attempted: u64,
    intervals: super::intervals::IntervalSeries,
    p: f64,
}

impl PrecisionSnapshot {
    /// Measured calls attempted when it was taken.
    pub fn calls(&self) -> u64 {
        self.attempted
    }

    /// The percentile's interval, as the report computes it (rounds aside).
    pub fn interval(&self) -> PercentileInterval {
        percentile_interval(&self.latency, self.attempted, &self.intervals, &[], self.p)
    }
}

/// The stopping rule's state for one class.
#[derive(Debug, Clone)]
pub struct PrecisionRule {
    config: PrecisionConfig,
    next_check: u64,
    checks: u32,
    reached: bool,
}

impl PrecisionRule {
    /// A rule that has not checked yet.
    pub fn new(config: &PrecisionConfig) -> PrecisionRule {
        PrecisionRule {
            config: config.clone(),
            next_check: u64::from(config.first_check.max(1)),
            checks: 0,
            reached: false,
        }
    }

    /// Whether a check is due after `calls` measured calls (never again once reached).
    pub fn due(&self, calls: u64) -> bool {
        !self.reached && calls >= self.next_check
    }

    /// Whether the rule has stopped the class.
    pub fn reached(&self) -> bool {
        self.reached
    }

    /// The calls recorded so far, copied so that their interval can be computed away from
    /// the thread that drives the calls (it expands every interval of the run: tens of ms
    /// for thousands of calls, which would delay the calls' timing).
    pub fn snapshot(&self, rec: &ClassRecorder) -> PrecisionSnapshot {
        PrecisionSnapshot {
            latency: rec.latency.clone(),
            attempted: rec.attempted(),
            intervals: rec.intervals.clone(),
            p: self.config.percentile / 100.0,
        }
    }

    /// The interval the rule judges from the calls recorded so far.
    pub fn interval(&self, rec: &ClassRecorder) -> PercentileInterval {
        self.snapshot(rec).interval()
    }

    /// Judges a snapshot's interval: true when it is within the target (the class should
    /// stop); otherwise the next check is scheduled [`GROWTH`]× the snapshot's calls later.
    pub fn judge(&mut self, calls: u64, iv: &PercentileInterval) -> bool {
        self.checks += 1;
        if iv
            .relative_half_width()
            .is_some_and(|w| w * 100.0 <= self.config.target_pct)
        {
            self.reached = true;
        } else {
            self.next_check = ((calls as f64 * self.config.growth).ceil() as u64).max(calls + 1);
        }
        self.reached
    }

    /// Checks the calls recorded so far (on this thread): [`PrecisionRule::judge`] of their
    /// interval.
    pub fn check(&mut self, rec: &ClassRecorder) -> bool {
        let iv = self.interval(rec);
        self.judge(rec.attempted(), &iv)
    }

    /// How the rule ended for the class, from its final result (the interval the report
    /// gives, rounds included).
    pub fn outcome(&self, c: &ClassResult) -> PrecisionOutcome {
        let iv = super::histogram::decode(&c.histograms.client_latency)
            .ok()
            .map(|h| {
                let rounds: Vec<_> = c
                    .rounds
                    .iter()
                    .filter_map(|r| super::histogram::decode(&r.latency).ok())
                    .collect();
                percentile_interval(
                    &h,
                    c.calls.attempted,
                    &c.intervals,
                    &rounds,
                    self.config.percentile / 100.0,
                )
            });
        let half_width_pct = iv.and_then(|iv| iv.relative_half_width()).map(|w| w * 100.0);
        PrecisionOutcome {
            percentile: self.config.percentile,
            target_pct: self.config.target_pct,
            reached: self.reached || half_width_pct.is_some_and(|w| w <= self.config.target_pct),
            half_width_pct,
            calls: c.calls.attempted,
            max_calls: self.config.max_calls,
            checks: self.checks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RequestRecord;

    fn rec(values_us: impl IntoIterator<Item = u64>) -> ClassRecorder {
        let mut r = ClassRecorder::new(false, 30_000_000);
        r.measuring_from(0);
        for (i, v) in values_us.into_iter().enumerate() {
            let t = i as u64 * 10_000;
            r.record(&RequestRecord::measured_ok(t, t + v));
        }
        r
    }

    #[test]
    fn the_percentile_is_the_strictest_slos_or_p99() {
        let c = PrecisionConfig::new(&[], 5.0, 10_000);
        assert_eq!((c.percentile, c.first_check), (99.0, 368));
        let slos: Vec<Slo> = vec!["p95<=1s".parse().unwrap(), "error-rate<=1%".parse().unwrap()];
        let c = PrecisionConfig::new(&slos, 5.0, 10_000);
        assert_eq!((c.percentile, c.first_check), (95.0, 100));
        let slos: Vec<Slo> = vec!["p50<=1s".parse().unwrap(), "p99.9<=2s".parse().unwrap()];
        assert_eq!(PrecisionConfig::new(&slos, 5.0, 10_000).percentile, 99.9);
        assert_eq!(PrecisionConfig::new(&[], 5.0, 200).first_check, 200);
    }

    #[test]
    fn stops_when_the_interval_is_narrow_and_checks_geometrically_until_then() {
        let cfg = PrecisionConfig::new(&[], 5.0, 10_000);
        // Identical calls: p99's interval has zero width at the first check.
        let mut rule = PrecisionRule::new(&cfg);
        assert!(!rule.due(367));
        assert!(rule.due(368));
        assert!(rule.check(&rec(std::iter::repeat_n(50_000, 368))));
        assert!(rule.reached() && !rule.due(10_000));
        // A heavy tail (1 s, 500 ms, 333 ms, … in a shuffled order): p99's interval is wide
        // at 368 calls.
        let spread: Vec<u64> = (0..368u64).map(|i| 1_000_000 / (1 + i * 7919 % 368)).collect();
        let mut rule = PrecisionRule::new(&cfg);
        assert!(!rule.check(&rec(spread)));
        assert!(!rule.due(459) && rule.due(460), "next check 1.25× later");
    }

    #[test]
    fn the_outcome_line_says_when_precision_was_not_reached() {
        let o = PrecisionOutcome {
            percentile: 99.0,
            target_pct: 5.0,
            reached: false,
            half_width_pct: Some(7.94),
            calls: 10_000,
            max_calls: 10_000,
            checks: 15,
        };
        assert!(
            o.line()
                .starts_with("precision not reached: ±7.9% at 10000 calls"),
            "{}",
            o.line()
        );
        let ok = PrecisionOutcome {
            reached: true,
            half_width_pct: Some(4.1),
            calls: 2104,
            ..o
        };
        assert_eq!(ok.line(), "p99 within ±4.1% (target ±5%) after 2104 calls");
    }
}
