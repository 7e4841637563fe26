//! Judging one capacity-search step (pure, shared by the live search and its simulated
//! check): did the step reach steady state, meet the SLO, carry its offered rate, show no
//! upward trend, and end with a bounded number of calls in flight?

use super::ClassResult;
use super::capacity::CapacityStep;
use super::steady::{StepPlan, rising, trend_batches};
use super::verdict::{SloOutcome, min_calls_for, slo_verdict};
use crate::slo::{Slo, SloMetric};

/// What a step measured besides its `ClassResult`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepFacts {
    /// Target rate, req/s.
    pub rate: f64,
    /// The rate its send schedule actually offered over the measured calls (calls over the
    /// span of their intended send times), req/s: random arrivals offer a little more or
    /// less than the target, and the achieved rate is judged against this.
    pub offered_rps: f64,
    /// How long it warmed up and was measured.
    pub plan: StepPlan,
    /// Calls in flight when the last measured call was sent.
    pub in_flight_end: f64,
    /// Workers serving.
    pub workers: u32,
    /// Time to drain the server's queue afterwards, ms.
    pub drained_ms: Option<u64>,
    /// This step re-ran the top held rate.
    pub confirmation: bool,
    /// This step re-ran an undecided rate, measured longer.
    pub extended: bool,
}

/// Calls of `r` still in flight `last_send_s` after its measured start (the moment the
/// last call was sent): those completed later, from the per-interval completion counts
/// (a partly covered interval counts in proportion).
pub fn in_flight_after(r: &ClassResult, last_send_s: f64) -> f64 {
    let w = r.intervals.width_us() as f64 / 1e6;
    r.intervals
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let (a, b) = (i as f64 * w, (i + 1) as f64 * w);
            let share = ((b - last_send_s.max(a)) / w).clamp(0.0, 1.0);
            h.len() as f64 * share
        })
        .sum()
}

/// The most calls a step may leave in flight: twice the workers plus what the rate keeps
/// in flight at the SLO's latency limit (a queue that long makes the next arrivals wait
/// well past the limit: it was still growing). Unbounded for an error-rate SLO.
pub fn in_flight_bound(slo: &Slo, rate: f64, workers: u32) -> f64 {
    match slo.metric {
        SloMetric::ErrorRate => f64::INFINITY,
        _ => 2.0 * (f64::from(workers) + rate * slo.limit / 1e6),
    }
}

/// Fewest measured calls per step: three times what bounds the SLO's percentile at all, so
/// that correlated calls (a smaller effective sample) can still decide it.
pub fn step_min_calls(slo: &Slo) -> u64 {
    match slo.metric {
        SloMetric::Percentile(p) => 3 * min_calls_for(p / 100.0),
        _ => 50,
    }
}

/// Fewest measured calls of a step at `rate` measured `longer` times the usual length:
/// [`step_min_calls`] × `longer`, but not more than `max_s` seconds of calls at the rate
/// (never under the plain step's floor).
pub fn step_call_floor(slo: &Slo, longer: f64, rate: f64, max_s: f64) -> u64 {
    let min = step_min_calls(slo);
    let budget = (rate * max_s).ceil().max(0.0) as u64;
    ((min as f64 * longer).ceil() as u64).min(budget.max(min))
}

/// The step's record: held only when steady, SLO met, offered rate achieved, no upward
/// trend, in-flight bounded.
pub fn judge_step(r: &ClassResult, slo: &Slo, f: &StepFacts) -> CapacityStep {
    let v = slo_verdict(r, slo);
    let per_s = (1_000_000 / r.intervals.width_us().max(1)).max(1) as usize;
    let series: Vec<f64> = r
        .intervals
        .grouped(per_s)
        .filter_map(|h| (!h.is_empty()).then(|| h.value_at_quantile(0.5) as f64))
        .collect();
    let trend = rising(&series, trend_batches(f.plan.measure_s, f.plan.tau_s));
    let bound = in_flight_bound(slo, f.rate, f.workers);
    let offered = if f.offered_rps > 0.0 {
        f.offered_rps
    } else {
        f.rate
    };
    let why_not = if !r.is_ok() {
        Some(r.failure.clone().unwrap_or_else(|| "the class failed".into()))
    } else if !f.plan.steady {
        Some(format!(
            "the queue's relaxation time ({}) is too long for a steady state within the step budget",
            if f.plan.tau_s.is_finite() {
                format!("{:.1} s", f.plan.tau_s)
            } else {
                "unbounded: at or past saturation".into()
            }
        ))
    } else if r.throughput_rps < 0.95 * offered {
        Some(format!(
            "achieved {:.1} req/s, under 95% of the {offered:.1} req/s offered",
            r.throughput_rps
        ))
    } else if trend {
        Some("latency kept rising through the step: the queue was still growing".into())
    } else if f.in_flight_end > bound {
        Some(format!(
            "{:.0} calls were still in flight when the last was sent (at most {bound:.0} keep the SLO)",
            f.in_flight_end
        ))
    } else if !v.held {
        Some(v.line.clone())
    } else {
        None
    };
    // Steady, carried, bounded, and only the SLO's interval undecided.
    let undecided = why_not.as_deref() == Some(v.line.as_str()) && v.outcome == SloOutcome::Inconclusive;
    let x = match slo.metric {
        SloMetric::Percentile(p) => r.latency.percentile(p).cloned(),
        _ => None,
    };
    CapacityStep {
        rate_rps: f.rate,
        achieved_rps: r.throughput_rps,
        value_us: match slo.metric {
            SloMetric::ErrorRate => None,
            _ => v.measured.map(|m| m as u64),
        },
        ci_low_us: x.as_ref().and_then(|x| x.ci_low_us),
        ci_high_us: x.as_ref().and_then(|x| x.ci_high_us),
        error_rate: r.calls.error_rate,
        calls: r.calls.attempted,
        duration_s: r.duration_s,
        verdict: v.outcome.word().into(),
        rising: trend,
        tau_s: f.plan.tau_s.is_finite().then_some(f.plan.tau_s),
        warmup_s: f.plan.warmup_s,
        in_flight_end: f.in_flight_end,
        in_flight_bound: if bound.is_finite() { bound } else { 0.0 },
        confirmation: f.confirmation,
        extended: f.extended,
        undecided,
        calls_needed: if undecided { v.calls_needed } else { None },
        drained_ms: f.drained_ms,
        held: why_not.is_none(),
        why_not,
    }
}
