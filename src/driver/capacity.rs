//! The capacity search against one endpoint: a short closed-loop probe for a first guess,
//! then open-loop steps at rates chosen by `record::capacity::CapacitySearch` until the
//! highest rate that holds the SLO is bracketed.

use super::load::LoadModel;
use super::observer::Observer;
use super::phase::{Endpoint, run_phase};
use super::plan::{CapacitySpec, Phase};
use crate::class::DynoClass;
use std::time::{Duration, Instant};

use super::client::Caller;
use crate::endpoint::StatsResponse;
use crate::record::capacity::{CapacityReport, CapacitySearch, CapacityStep, TOLERANCE};
use crate::record::capacity_step::{StepFacts, in_flight_after, judge_step, step_call_floor};
use crate::record::steady::{StepPlan, step_plan};
use crate::record::verdict::slo_verdict;
use crate::record::{Arrivals, ClassResult, ClassStatus};

/// One class's measurement: the plain load, or the capacity search when asked for.
pub(crate) fn measure(
    ep: &mut Endpoint,
    phase: &Phase,
    capacity: Option<&CapacitySpec>,
    class: &DynoClass,
    workers: u32,
    obs: &mut dyn Observer,
) -> ClassResult {
    match capacity {
        None => run_phase(ep, phase, class, workers, obs),
        Some(spec) => capacity_search(ep, phase, spec, class, workers, obs),
    }
}

/// Longest warm-up, and longest measured part, of one step, s: a rate whose queue needs
/// longer to settle is not judged to hold.
const MAX_STEP_S: f64 = 300.0;

/// Mean service time of a measured class, s: the server's wall time, else the latency.
fn mean_service_s(r: &ClassResult) -> f64 {
    r.server_wall
        .as_ref()
        .filter(|w| w.count > 0)
        .map_or(r.latency.mean_us, |w| w.mean_us)
        / 1e6
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
    base: &Phase,
    spec: &CapacitySpec,
    class: &DynoClass,
    workers: u32,
    obs: &mut dyn Observer,
) -> ClassResult {
    // A short closed-loop probe (after the warm-up) gives the first guess.
    let probe_phase = base
        .with_load(LoadModel::Closed { concurrency: 1 })
        .with_calls(10);
    let probe = run_phase(ep, &probe_phase, class, workers, obs);
    if !probe.is_ok() {
        return probe;
    }
    // The probe ran one caller; with several workers the class serves more: start from the
    // estimate of its capacity (workers, cores, measured means) when that is higher.
    let estimate = crate::record::class_capacity::local_capacity(&probe).unwrap_or(0.0);
    let first = (probe.throughput_rps.max(estimate) * 0.8).max(0.1);
    // Halve at most three times below the first guess: below that, the service time alone
    // breaks the SLO, and each step would take minutes.
    let mut search =
        CapacitySearch::new(first, spec.max_steps, TOLERANCE, first / 8.0).aimed_at(spec.slo.limit);
    let mut steps = Vec::new();
    let mut best: Option<ClassResult> = None;
    let mut last = probe;
    // The mean service time sets each step's relaxation time: the probe's first, then the
    // server's own wall time (or the latency) of the step before.
    let mut service_s = mean_service_s(&last);
    while let Some(rate) = search.next_rate() {
        if crate::interrupt::requested() {
            break;
        }
        let confirmation = search.confirming();
        // An undecided rate is re-run measured longer (its interval narrows).
        let extended = search.extending();
        let longer = search.extension();
        // Steady state: the queue warms up for 3 relaxation times and is measured for 5
        // (at least the step length), so that neither the empty start nor the SLO's
        // percentile is a transient.
        let sp = step_plan(rate, service_s, workers, spec.step_s * longer, MAX_STEP_S);
        let p = step_phase(
            base,
            rate,
            &sp,
            step_call_floor(&spec.slo, longer, rate, MAX_STEP_S),
        );
        obs.class_started(&format!("{} @ {rate:.1}/s", class.name), p.open_warmup, p.calls);
        let r = run_phase(ep, &p, class, workers, obs);
        let drained_ms = drain(ep, base.timeout);
        // The exact send schedule (seeded) gives the measured calls' send span.
        let (span, offered) = p.measured_sends().unwrap_or((0.0, rate));
        let step = judge_step(
            &r,
            &spec.slo,
            &StepFacts {
                rate,
                offered_rps: offered,
                plan: sp,
                in_flight_end: in_flight_after(&r, span),
                workers,
                drained_ms,
                confirmation,
                extended,
            },
        );
        if r.is_ok() {
            service_s = mean_service_s(&r);
        }
        obs.note(&format!(
            "{}: {rate:.1} req/s{} -> {}",
            class.name,
            if confirmation {
                " (confirming)"
            } else if extended {
                " (measured longer)"
            } else {
                ""
            },
            match &step.why_not {
                None => format!("holds ({})", slo_verdict(&r, &spec.slo).line),
                Some(w) if step.undecided => format!("undecided: {w}"),
                Some(w) => format!("breaks: {w}"),
            }
        ));
        let held = step.held;
        search.record_step(&step);
        steps.push(step);
        let failed_hard = !r.is_ok() && r.calls.ok == 0;
        if held && best.as_ref().is_none_or(|b| b.load.target_rps <= Some(rate)) {
            best = Some(r);
        } else {
            last = r;
        }
        if failed_hard {
            break;
        }
    }
    searched(&search, steps, best, last, spec, class)
}

/// One step of the search: an open loop at `rate` (Poisson or constant as the run's open
/// loop, else constant over 64 connections), warmed up on its own schedule.
fn step_phase<'a>(base: &Phase<'a>, rate: f64, sp: &StepPlan, min_calls: u64) -> Phase<'a> {
    let (arrivals, connections) = match base.load {
        LoadModel::Open {
            arrivals,
            connections,
            ..
        } => (arrivals, connections),
        LoadModel::Closed { .. } => (Arrivals::Constant, 64),
    };
    let calls = ((rate * sp.measure_s).ceil() as u64)
        .max(min_calls)
        .max(u64::from(base.calls.min(50))) as u32;
    base.with_load(LoadModel::Open {
        rate,
        arrivals,
        connections,
    })
    .with_open_warmup((rate * sp.warmup_s).ceil() as u32)
    .with_calls(calls)
}

/// The search's answer: the result of the highest rate that held (else the last step),
/// with its steps and bracket.
fn searched(
    search: &CapacitySearch,
    steps: Vec<CapacityStep>,
    mut best: Option<ClassResult>,
    last: ClassResult,
    spec: &CapacitySpec,
    class: &DynoClass,
) -> ClassResult {
    // A confirmation that broke struck its rate out: keep the result of the answer's rate.
    if let (Some(b), (Some(h), _)) = (&best, search.bracket())
        && b.load.target_rps != Some(h)
    {
        best = None;
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
        confirmed: search.is_confirmed(),
        rps_per_100_usd_month: held.map(|h| h / (class.price_usd_month / 100.0)),
    });
    result
}
