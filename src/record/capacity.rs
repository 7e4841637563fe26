//! The capacity search (pure): the highest open-loop rate that holds an SLO at steady state,
//! by doubling from a first guess until it breaks, then bisecting (aimed by the measured
//! percentiles), within a bounded number of new rates; the top rate that held is then run a
//! second time, and it is the answer only if that re-run does not refute it (it holds, or
//! is undecided and, measured longer, keeps the SLO's estimate under the limit). A rate
//! whose SLO interval straddles the limit with nothing else wrong is undecided and re-run
//! once, measured longer (as many calls as its verdict said would decide it), before it
//! counts as broken. A step holds only when it could reach steady state (warm-up ≥ 3τ,
//! measured ≥ 5τ, `steady`), the SLO's verdict is "meets" (from its 95% interval), the
//! achieved rate is at least 95% of the target, per-second latency shows no upward trend
//! (batch means, `steady::rising`) and the calls in flight when the last call was sent are
//! bounded. Every step is kept so the report shows how the answer was reached.

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
    /// Per-second latency kept rising through the step (slope of batch means, one-sided
    /// 0.1%, and the last batch at least 10% above the first).
    pub rising: bool,
    /// The queue's relaxation time at this rate, s (from the measured service time;
    /// absent at or past saturation).
    #[serde(default)]
    pub tau_s: Option<f64>,
    /// Warm-up before the measured part, s (at least 3τ within the budget).
    #[serde(default)]
    pub warmup_s: f64,
    /// Calls in flight when the step's last call was sent (estimated from completions).
    #[serde(default)]
    pub in_flight_end: f64,
    /// The bound on `in_flight_end`: what the rate keeps in flight at the SLO's latency.
    #[serde(default)]
    pub in_flight_bound: f64,
    /// This step re-ran the highest rate that had held, to confirm it.
    #[serde(default)]
    pub confirmation: bool,
    /// This step re-ran a rate the step before left undecided, measured longer.
    #[serde(default)]
    pub extended: bool,
    /// The SLO's interval reached past the limit while its estimate did not, and nothing
    /// else was wrong: neither held nor shown broken (re-run longer once).
    #[serde(default)]
    pub undecided: bool,
    /// When undecided: about how many calls the SLO's verdict said would decide it (the
    /// longer re-run is sized from it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calls_needed: Option<u64>,
    /// How long the server took to drain its queue after the step, ms (absent when it
    /// could not be asked).
    pub drained_ms: Option<u64>,
    /// Whether the step held: SLO met, achieved rate ≥ 95% of target, no upward trend.
    pub held: bool,
    /// Why it did not hold.
    pub why_not: Option<String>,
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
    /// Whether `max_rate_rps` was confirmed: its re-run held, or was undecided and, measured
    /// longer, kept the SLO's estimate under the limit.
    pub confirmed: bool,
    /// Requests per second per $100/month at `max_rate_rps`: throughput per dollar.
    pub rps_per_100_usd_month: Option<f64>,
}

/// The search stops when the bracket (highest held, lowest broken) is within this
/// relative width.
pub const TOLERANCE: f64 = 0.05;

/// Where inside the bracket a bisection step aims, as a share of the interpolated rate at
/// which the SLO's estimate reaches its limit: a little below, where a step can hold.
const AIM_BELOW: f64 = 0.97;

/// An undecided rate's re-run is measured at least this many times longer (and with this
/// many times the calls): a percentile's interval narrows about as one over the square root.
pub const MIN_EXTENSION: f64 = 4.0;
/// ... and at most this many times (each step is also capped by its time budget).
pub const MAX_EXTENSION: f64 = 16.0;

/// The re-run's length for a step of `calls` whose verdict said `needed` calls would decide
/// it: the calls needed (a quarter more, the estimate being rough) within
/// [`MIN_EXTENSION`, `MAX_EXTENSION`] times the step.
pub fn extension_for(calls: u64, needed: Option<u64>) -> f64 {
    match needed {
        Some(n) if calls > 0 => (1.25 * n as f64 / calls as f64).clamp(MIN_EXTENSION, MAX_EXTENSION),
        _ => MIN_EXTENSION,
    }
}

/// The search state.
#[derive(Debug, Clone)]
pub struct CapacitySearch {
    /// Every rate that held and was not refuted by its confirmation, ascending.
    holds: Vec<f64>,
    confirmed: Option<f64>,
    broke: Option<f64>,
    /// New rates tried (not counting confirmations and longer re-runs).
    steps: usize,
    max_steps: usize,
    tolerance: f64,
    min_rate: f64,
    first: f64,
    /// A rate whose SLO interval left it undecided, to be re-run measured longer.
    extend: Option<f64>,
    /// How many times longer that re-run is measured.
    extend_by: f64,
    /// The SLO's limit, µs, when the next rate may be aimed by the measured values.
    limit_us: Option<f64>,
    /// (rate, the SLO percentile's estimate, µs) of steps that reached steady state and
    /// were judged by the SLO alone.
    values: Vec<(f64, f64)>,
}

impl CapacitySearch {
    /// Starts at `first` req/s; stops after `max_steps` or when the bracket is within
    /// `tolerance` (relative), and gives up below `min_rate`.
    pub fn new(first: f64, max_steps: usize, tolerance: f64, min_rate: f64) -> CapacitySearch {
        CapacitySearch {
            holds: Vec::new(),
            confirmed: None,
            broke: None,
            steps: 0,
            max_steps,
            tolerance,
            min_rate,
            first: first.max(min_rate),
            extend: None,
            extend_by: 1.0,
            limit_us: None,
            values: Vec::new(),
        }
    }

    /// Aims bisection steps at the rate where the SLO percentile's measured estimates,
    /// interpolated, reach `limit_us` (a latency SLO's limit).
    pub fn aimed_at(mut self, limit_us: f64) -> CapacitySearch {
        self.limit_us = (limit_us.is_finite() && limit_us > 0.0).then_some(limit_us);
        self
    }

    fn value_at(&self, rate: f64) -> Option<f64> {
        self.values.iter().rev().find(|v| v.0 == rate).map(|v| v.1)
    }

    /// The next rate inside the bracket (h, b): where the estimates at h and b, with 1/value
    /// interpolated linearly in the rate (exact for one exponential server, whose
    /// percentiles are c/(μ − λ)), reach the limit, a little below it, and at least a
    /// quarter of the bracket from either end; the midpoint without both estimates.
    fn inside(&self, h: f64, b: f64) -> f64 {
        let mid = (h + b) / 2.0;
        let (Some(l), Some(vh), Some(vb)) = (self.limit_us, self.value_at(h), self.value_at(b)) else {
            return mid;
        };
        if !(vb > vh && vh > 0.0) {
            return mid;
        }
        let (ih, ib, il) = (1.0 / vh, 1.0 / vb, 1.0 / l);
        let r = h + (b - h) * (ih - il) / (ih - ib);
        (AIM_BELOW * r).clamp(h + 0.25 * (b - h), b - 0.25 * (b - h))
    }

    fn held(&self) -> Option<f64> {
        self.holds.last().copied()
    }

    /// Whether the next step (at [`Self::next_rate`]) re-runs the top held rate.
    pub fn confirming(&self) -> bool {
        let held = self.held();
        held.is_some() && self.confirmed != held && self.bracket_done()
    }

    /// The bracket is closed, or only the confirmation step is left in the budget.
    fn bracket_done(&self) -> bool {
        self.converged_bracket() || self.steps >= self.max_steps
    }

    /// The next rate to try, or `None` when done.
    pub fn next_rate(&self) -> Option<f64> {
        if self.extend.is_some() {
            return self.extend;
        }
        if self.bracket_done() {
            return self.confirming().then(|| self.held()).flatten();
        }
        match (self.held(), self.broke) {
            (None, None) => Some(self.first),
            (Some(h), None) => Some(h * 2.0),
            (None, Some(b)) => Some(b / 2.0).filter(|r| *r >= self.min_rate),
            (Some(h), Some(b)) => Some(self.inside(h, b)),
        }
    }

    /// Records the outcome of a step at `rate`.
    /// A held rate re-run and holding again is confirmed; one that breaks the second time
    /// is struck out (the next lower held rate becomes the answer, to be confirmed in turn).
    pub fn record(&mut self, rate: f64, held: bool) {
        let confirming = self.held() == Some(rate);
        // The budget counts new rates: confirmations and longer re-runs are not new.
        if !confirming && self.extend != Some(rate) {
            self.steps += 1;
        }
        self.extend = None;
        if held {
            if confirming {
                self.confirmed = Some(rate);
            } else {
                self.holds.push(rate);
                self.holds.sort_by(f64::total_cmp);
            }
        } else {
            self.holds.retain(|h| *h < rate);
            self.broke = Some(self.broke.map_or(rate, |b| b.min(rate)));
            if self.confirmed.is_some_and(|c| c >= rate) {
                self.confirmed = None;
            }
        }
    }

    /// Records a judged step: held, broke, or undecided.
    pub fn record_step(&mut self, step: &CapacityStep) {
        if (step.held || step.undecided)
            && let Some(v) = step.value_us
        {
            self.values.push((step.rate_rps, v as f64));
        }
        let below_limit = matches!((step.value_us, self.limit_us), (Some(v), Some(l)) if (v as f64) < l);
        if step.undecided
            && below_limit
            && self.held() == Some(step.rate_rps)
            && self.extend == Some(step.rate_rps)
        {
            // The top held rate's confirmation, measured longer, still puts the estimate
            // under the limit: not refuted, it stands (it held once with its whole interval
            // under the limit).
            self.record(step.rate_rps, true);
        } else if step.undecided {
            self.record_undecided(step.rate_rps);
            if self.extend.is_some() {
                self.extend_by = extension_for(step.calls, step.calls_needed);
            }
        } else {
            self.record(step.rate_rps, step.held);
        }
    }

    /// Whether the next step re-runs an undecided rate (to be measured longer).
    pub fn extending(&self) -> bool {
        self.extend.is_some()
    }

    /// How many times longer (and with how many times the calls) the next step is measured:
    /// 1, or for the re-run of an undecided rate what its verdict said would decide it.
    pub fn extension(&self) -> f64 {
        if self.extending() { self.extend_by } else { 1.0 }
    }

    /// Records a step at `rate` whose SLO interval reached past the limit with nothing else
    /// wrong: the rate is re-run once, measured longer (when the budget leaves a step for
    /// it and for a confirmation), since more calls narrow the interval; undecided again,
    /// or without the budget, it counts as broken (the search never answers a rate it could
    /// not show to hold).
    pub fn record_undecided(&mut self, rate: f64) {
        if self.extend == Some(rate) {
            self.record(rate, false);
        } else {
            if self.held() != Some(rate) {
                self.steps += 1;
            }
            self.extend = Some(rate);
        }
    }

    fn converged_bracket(&self) -> bool {
        matches!((self.held(), self.broke), (Some(h), Some(b)) if (b - h) / h <= self.tolerance)
    }

    /// Whether the bracket is closed within the tolerance and its top held rate confirmed.
    pub fn converged(&self) -> bool {
        self.converged_bracket() && self.is_confirmed()
    }

    /// Whether the top held rate held on its confirmation step.
    pub fn is_confirmed(&self) -> bool {
        self.held().is_some() && self.confirmed == self.held()
    }

    /// (highest rate that held, lowest that broke).
    pub fn bracket(&self) -> (Option<f64>, Option<f64>) {
        (self.held(), self.broke)
    }
}

#[cfg(test)]
#[path = "capacity_tests.rs"]
mod tests;
