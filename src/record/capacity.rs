//! The capacity search (pure): the highest open-loop rate that holds an SLO at steady state,
//! by doubling from a first guess until it breaks, then bisecting, within a bounded number
//! of steps. A step holds only when the SLO's verdict is "meets" (from its 95% interval),
//! the achieved rate is at least 95% of the target, and per-second latency shows no upward
//! trend (a queue still growing is not a steady state). Every step is kept so the report
//! shows how the answer was reached.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One rate tried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CapacityStep {
    /// Target rate, req/s.
    pub rate_rps: f64,
    /// Completed calls per second.
    pub achieved_rps: f64,
    /// The SLO's latency percentile at this rate, µs (absent when not estimable).
    pub value_us: Option<u64>,
    /// Its 95% interval, µs.
    pub ci_low_us: Option<u64>,
    /// Its 95% interval, µs (absent: unbounded by the sample).
    pub ci_high_us: Option<u64>,
    /// Failed calls / calls.
    pub error_rate: f64,
    /// Measured calls (after the step's own warm-up).
    pub calls: u64,
    /// Measured seconds.
    pub duration_s: f64,
    /// The SLO verdict: meets, breaks or inconclusive.
    pub verdict: String,
    /// Per-second latency kept rising through the step (Mann-Kendall, one-sided 1%, and
    /// the last third at least 20% above the first).
    pub rising: bool,
    /// How long the server took to drain its queue after the step, ms (absent when it
    /// could not be asked).
    pub drained_ms: Option<u64>,
    /// Whether the step held: SLO met, achieved rate ≥ 95% of target, no upward trend.
    pub held: bool,
    /// Why it did not hold.
    pub why_not: Option<String>,
}

/// Whether a series (per-second medians, in time order) rises: Mann-Kendall's S is
/// significantly positive (one-sided 1%) and the last third's median is at least 20% above
/// the first third's. Fewer than 6 points never show a trend.
pub fn rising(series: &[f64]) -> bool {
    let n = series.len();
    if n < 6 {
        return false;
    }
    let mut s = 0i64;
    for i in 0..n {
        for j in i + 1..n {
            s += (series[j] - series[i]).partial_cmp(&0.0).map_or(0, |o| o as i64);
        }
    }
    let nf = n as f64;
    let var = nf * (nf - 1.0) * (2.0 * nf + 5.0) / 18.0;
    let z = if s > 0 { (s as f64 - 1.0) / var.sqrt() } else { 0.0 };
    let third = n / 3;
    let med = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    z > 2.326 && med(&series[n - third..]) >= 1.2 * med(&series[..third])
}

/// The search's outcome for one class.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct CapacityReport {
    /// The SLO searched against.
    pub slo: String,
    /// Every step, in order.
    pub steps: Vec<CapacityStep>,
    /// Highest rate that held, req/s.
    pub max_rate_rps: Option<f64>,
    /// Lowest rate that broke, req/s.
    pub broke_at_rps: Option<f64>,
    /// Whether the bracket closed within the tolerance (else the step budget ran out).
    pub converged: bool,
    /// Requests per second per $100/month at `max_rate_rps`: throughput per dollar.
    pub rps_per_100_usd_month: Option<f64>,
}

/// The search state.
#[derive(Debug, Clone)]
pub struct CapacitySearch {
    held: Option<f64>,
    broke: Option<f64>,
    steps: usize,
    max_steps: usize,
    tolerance: f64,
    min_rate: f64,
    first: f64,
}

impl CapacitySearch {
    /// Starts at `first` req/s; stops after `max_steps` or when the bracket is within
    /// `tolerance` (relative), and gives up below `min_rate`.
    pub fn new(first: f64, max_steps: usize, tolerance: f64, min_rate: f64) -> CapacitySearch {
        CapacitySearch {
            held: None,
            broke: None,
            steps: 0,
            max_steps,
            tolerance,
            min_rate,
            first: first.max(min_rate),
        }
    }

    /// The next rate to try, or `None` when done.
    pub fn next_rate(&self) -> Option<f64> {
        if self.steps >= self.max_steps || self.converged() {
            return None;
        }
        match (self.held, self.broke) {
            (None, None) => Some(self.first),
            (Some(h), None) => Some(h * 2.0),
            (None, Some(b)) => Some(b / 2.0).filter(|r| *r >= self.min_rate),
            (Some(h), Some(b)) => Some((h + b) / 2.0),
        }
    }

    /// Records the outcome of a step at `rate`.
    pub fn record(&mut self, rate: f64, held: bool) {
        self.steps += 1;
        if held {
            self.held = Some(self.held.map_or(rate, |h| h.max(rate)));
        } else {
            self.broke = Some(self.broke.map_or(rate, |b| b.min(rate)));
        }
    }

    /// Whether the bracket is closed within the tolerance.
    pub fn converged(&self) -> bool {
        matches!((self.held, self.broke), (Some(h), Some(b)) if (b - h) / h <= self.tolerance)
    }

    /// (highest rate that held, lowest that broke).
    pub fn bracket(&self) -> (Option<f64>, Option<f64>) {
        (self.held, self.broke)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A class whose SLO holds up to `cap` req/s.
    fn search(cap: f64, first: f64) -> (CapacitySearch, Vec<f64>) {
        let mut s = CapacitySearch::new(first, 12, 0.1, 0.01);
        let mut tried = Vec::new();
        while let Some(r) = s.next_rate() {
            tried.push(r);
            s.record(r, r <= cap);
        }
        (s, tried)
    }

    #[test]
    fn doubles_then_bisects_to_the_capacity() {
        let (s, tried) = search(37.0, 5.0);
        assert_eq!(&tried[..4], &[5.0, 10.0, 20.0, 40.0]);
        assert!(s.converged());
        let (h, b) = s.bracket();
        assert!(h.unwrap() <= 37.0 && b.unwrap() > 37.0);
        assert!((b.unwrap() - h.unwrap()) / h.unwrap() <= 0.1);
    }

    #[test]
    fn halves_when_the_first_guess_breaks_and_gives_up_when_nothing_holds() {
        let (s, tried) = search(3.0, 50.0);
        assert_eq!(&tried[..4], &[50.0, 25.0, 12.5, 6.25]);
        assert!(s.bracket().0.unwrap() <= 3.0);
        let (s, _) = search(0.0, 1.0);
        assert_eq!(s.bracket().0, None, "nothing holds");
        assert!(!s.converged());
    }

    #[test]
    fn a_growing_queue_is_rising_and_noise_is_not() {
        let growing: Vec<f64> = (0..20).map(|i| 10.0 + 5.0 * f64::from(i)).collect();
        assert!(rising(&growing));
        let flat: Vec<f64> = (0..20).map(|i| 10.0 + f64::from(i % 3)).collect();
        assert!(!rising(&flat));
        assert!(!rising(&[1.0, 2.0, 3.0]));
    }

    #[test]
    fn the_step_budget_bounds_the_search() {
        let mut s = CapacitySearch::new(1.0, 3, 0.01, 0.01);
        let mut n = 0;
        while let Some(r) = s.next_rate() {
            s.record(r, true);
            n += 1;
        }
        assert_eq!(n, 3);
        assert!(!s.converged());
    }
}
