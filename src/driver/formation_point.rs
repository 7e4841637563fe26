//! One point of a live formation: what was measured through the balancer (latency
//! percentiles, the router's and the dynos' queueing, its batch-means interval) and what the
//! event engine predicts from the point's own service-time histogram at the offered rate.

use super::formation::STEADY_TAUS;
use super::plan::FormationSpec;
use super::router::RouterLog;
use crate::record::formation::{FormationFacts, FormationFigures, FormationPoint};
use crate::record::histogram::decode;
use crate::record::steady::batch_means_interval;
use crate::record::{Arrivals, ClassResult};
use crate::simulate::Policy;
use crate::simulate::event::{EventConfig, run_point};
use crate::simulate::service::{Empirical, ServiceDist};

/// Requests simulated per prediction sample, and samples.
const SIM_REQUESTS: u64 = 200_000;
const SIM_SAMPLES: u32 = 4;

fn ms(us: Option<u64>) -> f64 {
    us.map_or(f64::NAN, |v| v as f64 / 1000.0)
}

/// The measured mean latency's 95% batch-means interval (20 batches of per-second
/// means), ms: consecutive calls through a queue are correlated, so the plain standard
/// error would be far too narrow.
fn mean_interval(r: &ClassResult) -> Option<(f64, f64)> {
    let per_s = (1_000_000 / r.intervals.width_us().max(1)).max(1) as usize;
    let series: Vec<f64> = r
        .intervals
        .grouped(per_s)
        .filter(|h| !h.is_empty())
        .map(|h| h.mean() / 1000.0)
        .collect();
    batch_means_interval(&series, 20.min(series.len() / 2))
}

/// The point's measured and predicted figures.
#[allow(clippy::too_many_arguments)]
pub(super) fn point_of(
    r: &ClassResult,
    log: &RouterLog,
    facts: &FormationFacts,
    policy: Policy,
    util: f64,
    offered_rps: f64,
    seed: u64,
    spec: &FormationSpec,
) -> Option<FormationPoint> {
    let wall = decode(r.histograms.server_wall.as_deref()?).ok()?;
    let service = ServiceDist::Empirical(Empirical::from_histogram_us(&wall)?);
    let service_s = service.mean();
    let n = f64::from(facts.dynos * facts.workers);
    let achieved = r.load.achieved_rps;
    let offered = offered_rps * service_s / n * 100.0;
    let router_wait_ms = if log.entries.is_empty() {
        0.0
    } else {
        log.entries.iter().map(|e| e.queued_us as f64).sum::<f64>() / log.entries.len() as f64 / 1000.0
    };
    let wait_ms = r.breakdown.as_ref().map_or(0.0, |b| b.queue_ms) + router_wait_ms;
    let measured = FormationFigures {
        mean_ms: r.latency.mean_us / 1000.0,
        p50_ms: ms(r.latency.value(50.0)),
        p95_ms: ms(r.latency.value(95.0)),
        p99_ms: ms(r.latency.value(99.0)),
        mean_wait_ms: wait_ms,
        mean_queue: offered_rps * wait_ms / 1000.0 / f64::from(facts.dynos),
    };
    let cfg = EventConfig {
        dynos: facts.dynos,
        workers: facts.workers,
        requests: SIM_REQUESTS,
        samples: SIM_SAMPLES,
        routers: facts.routers,
        backlog: spec.backlog + spec.max_in_flight.saturating_sub(facts.workers),
        timeout: facts.router_timeout_s,
        arrivals: Arrivals::Poisson,
        seed,
    };
    let sim = run_point(&cfg, policy, &service, offered).ok()?;
    let o = facts.overhead_ms;
    let predicted = FormationFigures {
        mean_ms: sim.mean_response * 1e3 + o,
        p50_ms: sim.p50 * 1e3 + o,
        p95_ms: sim.p95 * 1e3 + o,
        p99_ms: sim.p99 * 1e3 + o,
        mean_wait_ms: sim.mean_wait * 1e3,
        mean_queue: sim.mean_queue,
    };
    let rho = offered / 100.0;
    let relaxation_s = matches!(
        policy,
        crate::simulate::Policy::Random | crate::simulate::Policy::PerRouterLeastConnections
    )
    .then(|| {
        if rho < 1.0 {
            service_s / (1.0 - rho.sqrt()).powi(2)
        } else {
            f64::INFINITY
        }
    });
    let host = "localhost";
    let mut entries: Vec<_> = log.entries.iter().collect();
    entries.sort_by(|a, b| a.done_unix_s.total_cmp(&b.done_unix_s));
    Some(FormationPoint {
        name: r.name.clone(),
        policy: policy.name().into(),
        target_util_pct: util,
        offered_util_pct: offered,
        target_rps: offered_rps,
        achieved_rps: achieved,
        service_mean_ms: service_s * 1e3,
        mean_error_pct: (measured.mean_ms - predicted.mean_ms) / predicted.mean_ms * 100.0,
        duration_s: r.duration_s,
        relaxation_s: relaxation_s.map(|t| if t.is_finite() { t } else { f64::MAX }),
        // 2τ of warm-up (by the schedule) and at least 5τ measured.
        steady: relaxation_s.is_none_or(|t| r.duration_s >= STEADY_TAUS * t),
        mean_ci_half_ms: mean_interval(r).map(|(_, h)| h),
        measured,
        predicted,
        routed: log.routed.clone(),
        h11: log.h11,
        h12: log.h12,
        h13: log.h13,
        router_seed: seed,
        router_log: entries
            .into_iter()
            .map(|e| (e.done_unix_s, e.line(host)))
            .collect(),
    })
}
