//! The capacity search against one endpoint: a short closed-loop probe for a first guess,
//! then open-loop steps at rates chosen by `record::capacity::CapacitySearch` until the
//! highest rate that holds the SLO is bracketed.

use super::load::LoadModel;
use super::observer::Observer;
use super::phase::{Endpoint, run_phase};
use super::plan::RunPlan;
use crate::class::DynoClass;
use std::time::{Duration, Instant};

use super::client::Caller;
use crate::record::capacity::{CapacityReport, CapacitySearch, CapacityStep, rising};
use crate::record::verdict::{min_calls_for, slo_verdict};
use crate::record::{Arrivals, ClassResult, ClassStatus};
use crate::server::StatsResponse;
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

/// Waits until the server's queue is empty (its `/stats` says nothing is in flight), so a
/// step never inherits the last one's backlog; returns how long that took, or `None` when
/// the endpoint has no such figure (then it waits a second).
fn drain(ep: &mut Endpoint, timeout: Duration) -> Option<u64> {
    let t = Instant::now();
    let limit = timeout.min(Duration::from_secs(120));
    ep.rt.block_on(async {
        let mut c = Caller::new(ep.target.clone(), ep.tls.clone());
        loop {
            let stats = c
                .get_body("/stats", Duration::from_secs(5))
                .await
                .and_then(|b| serde_json::from_slice::<StatsResponse>(&b).ok());
            match stats {
                None => {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    return None;
                }
                Some(s) if s.in_flight == 0 || t.elapsed() > limit => {
                    return Some(t.elapsed().as_millis() as u64);
                }
                Some(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    })
}

/// Searches the highest open-loop rate that holds the SLO at steady state.
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
    // The probe ran one caller; with several workers the class serves more: start from the
    // estimate of its capacity (workers, cores, measured means) when that is higher.
    let estimate = crate::record::class_capacity::local_capacity(&probe).unwrap_or(0.0);
    let first = (probe.throughput_rps.max(estimate) * 0.8).max(0.1);
    // Halve at most three times below the first guess: below that, the service time alone
    // breaks the SLO, and each step would take minutes.
    let mut search = CapacitySearch::new(first, spec.max_steps, 0.1, first / 8.0);
    let mut steps = Vec::new();
    let mut best: Option<ClassResult> = None;
    let mut last = probe;
    let min_calls = match spec.slo.metric {
        SloMetric::Percentile(p) => min_calls_for(p / 100.0),
        _ => 50,
    };
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
        // Time-based: the step's own warm-up lets the queue settle at the rate, then the
        // measured part is long enough for the SLO's percentile to be bounded.
        let warm_s = (spec.step_s / 5.0).max(2.0);
        p.warmup = 0;
        p.open_warmup = (rate * warm_s).ceil() as u32;
        p.calls = ((rate * spec.step_s).ceil() as u64)
            .max(min_calls)
            .max(u64::from(plan.calls.min(50))) as u32;
        obs.class_started(&format!("{} @ {rate:.1}/s", class.name), p.open_warmup, p.calls);
        let r = run_phase(ep, &p, class, workers, obs);
        let drained_ms = drain(ep, plan.timeout);
        let v = slo_verdict(&r, &spec.slo);
        // Per-second medians (the recorded intervals are 100 ms).
        let per_s = (1_000_000 / r.intervals.width_us()).max(1) as usize;
        let series: Vec<f64> = r
            .intervals
            .grouped(per_s)
            .filter_map(|h| (!h.is_empty()).then(|| h.value_at_quantile(0.5) as f64))
            .collect();
        let trend = rising(&series);
        let achieved_ok = r.throughput_rps >= 0.95 * rate;
        let why_not = if !r.is_ok() {
            Some(r.failure.clone().unwrap_or_else(|| "the class failed".into()))
        } else if !achieved_ok {
            Some(format!(
                "achieved {:.1} req/s, under 95% of the {rate:.1} req/s target",
                r.throughput_rps
            ))
        } else if trend {
            Some("latency kept rising through the step: the queue was still growing".into())
        } else if !v.held {
            Some(v.line.clone())
        } else {
            None
        };
        let held = why_not.is_none();
        let x = pct.and_then(|p| r.latency.percentile(p).cloned());
        steps.push(CapacityStep {
            rate_rps: rate,
            achieved_rps: r.throughput_rps,
            value_us: match spec.slo.metric {
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
            drained_ms,
            held,
            why_not: why_not.clone(),
        });
        obs.note(&format!(
            "{}: {rate:.1} req/s -> {}",
            class.name,
            match &why_not {
                None => format!("holds ({})", v.line),
                Some(w) => format!("breaks: {w}"),
            }
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
