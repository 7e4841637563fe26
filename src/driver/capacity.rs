//! The capacity search against one endpoint: a short closed-loop probe for a first guess,
//! then open-loop steps at rates chosen by `record::capacity::CapacitySearch` until the
//! highest rate that holds the SLO is bracketed.

use super::load::LoadModel;
use super::observer::Observer;
use super::phase::{Endpoint, run_phase};
use super::plan::RunPlan;
use crate::class::DynoClass;
use crate::record::capacity::{CapacityReport, CapacitySearch, CapacityStep};
use crate::record::{Arrivals, ClassResult, ClassStatus};
use crate::slo::SloMetric;

/// One class's measurement: the plain load, or the capacity search when asked for.
pub(crate) fn measure(
    ep: &mut Endpoint,
    plan: &RunPlan,
    class: &DynoClass,
    workers: u32,
    obs: &mut dyn Observer,
) -> ClassResult {
    match &plan.capacity {
        None => run_phase(ep, plan, class, workers, obs),
        Some(_) => capacity_search(ep, plan, class, workers, obs),
    }
}

/// Searches the highest open-loop rate whose latency percentile holds the SLO.
fn capacity_search(
    ep: &mut Endpoint,
    plan: &RunPlan,
    class: &DynoClass,
    workers: u32,
    obs: &mut dyn Observer,
) -> ClassResult {
    let spec = plan.capacity.clone().expect("capacity search requested");
    let pct = match spec.slo.metric {
        SloMetric::Percentile(p) => Some(p),
        _ => None,
    };
    // A short closed-loop probe (after the warm-up) gives the first guess.
    let mut probe_plan = plan.clone();
    probe_plan.load = LoadModel::Closed { concurrency: 1 };
    probe_plan.calls = 10;
    let probe = run_phase(ep, &probe_plan, class, workers, obs);
    if !probe.is_ok() {
        return probe;
    }
    let first = (probe.throughput_rps * 0.8).max(0.1);
    // Halve at most three times below the first guess: below that, the service time alone
    // breaks the SLO, and each step would take minutes.
    let mut search = CapacitySearch::new(first, spec.max_steps, 0.1, first / 8.0);
    let mut steps = Vec::new();
    let mut best: Option<ClassResult> = None;
    let mut last = probe;
    while let Some(rate) = search.next_rate() {
        if crate::interrupt::requested() {
            break;
        }
        let mut p = plan.clone();
        let (arrivals, connections) = match plan.load {
            LoadModel::Open {
                arrivals,
                connections,
                ..
            } => (arrivals, connections),
            LoadModel::Closed { .. } => (Arrivals::Constant, 64),
        };
        p.load = LoadModel::Open {
            rate,
            arrivals,
            connections,
        };
        p.warmup = 0;
        obs.class_started(&format!("{} @ {rate:.1}/s", class.name), 0, p.calls);
        let r = run_phase(ep, &p, class, workers, obs);
        let x = pct.and_then(|p| r.latency.percentile(p).cloned());
        let value = match spec.slo.metric {
            SloMetric::Percentile(_) => x.as_ref().and_then(|x| x.value_us).map(|v| v as f64),
            SloMetric::Max => Some(r.latency.max_us as f64),
            SloMetric::ErrorRate => Some(r.calls.error_rate),
        };
        // A latency SLO also needs every call to succeed; an error-rate SLO is its own limit.
        let clean = spec.slo.metric == SloMetric::ErrorRate || r.calls.error_rate == 0.0;
        let held = r.is_ok() && clean && value.is_some_and(|v| spec.slo.holds(v));
        steps.push(CapacityStep {
            rate_rps: rate,
            achieved_rps: r.throughput_rps,
            value_us: value
                .filter(|_| pct.is_some() || spec.slo.metric == SloMetric::Max)
                .map(|v| v as u64),
            ci_low_us: x.as_ref().and_then(|x| x.ci_low_us),
            ci_high_us: x.as_ref().and_then(|x| x.ci_high_us),
            error_rate: r.calls.error_rate,
            held,
        });
        obs.note(&format!(
            "{}: {rate:.1} req/s -> {} {}",
            class.name,
            value.map_or("not estimable".into(), |v| {
                if spec.slo.metric == SloMetric::ErrorRate {
                    format!("error rate {:.2}%", v * 100.0)
                } else {
                    format!("{:.1} ms", v / 1000.0)
                }
            }),
            if held { "holds" } else { "breaks" }
        ));
        search.record(rate, held);
        let failed_hard = !r.is_ok() && r.calls.ok == 0;
        if held && best.as_ref().is_none_or(|b| b.load.target_rps < Some(rate)) {
            best = Some(r);
        } else {
            last = r;
        }
        if failed_hard {
            break;
        }
    }
    let (held, broke) = search.bracket();
    let mut result = best.unwrap_or(last);
    if crate::interrupt::requested() {
        result.status = ClassStatus::Interrupted;
        result.failure = Some(format!("interrupted after {} capacity steps", steps.len()));
    }
    if held.is_none() {
        result.warnings.push(format!("no rate tried held {}", spec.slo));
    }
    result.capacity = Some(CapacityReport {
        slo: spec.slo.text.clone(),
        steps,
        max_rate_rps: held,
        broke_at_rps: broke,
        converged: search.converged(),
        rps_per_100_usd_month: held.map(|h| h / (class.price_usd_month / 100.0)),
    });
    result
}
