//! A live formation (`run --dynos N`): N copies of one class's server, each in its own
//! sandbox, behind our router. The service time and the router's overhead are measured at
//! concurrency 1 first; then, per routing policy and utilization of the measured capacity,
//! an open loop drives the router while it logs every request, and the event engine
//! predicts the same point from the same dynos, workers, service times and rate.

use std::sync::Arc;
use std::time::SystemTime;

use super::begin::begin;
use super::client::Target;
use super::haproxy::Haproxy;
use super::load::{LoadModel, schedule};
use super::local::{LocalServer, start_local};
use super::observer::Observer;
use super::phase::{Endpoint, run_phase};
use super::plan::{FormationSpec, RunError, RunPlan};
use super::router::{Router, RouterConfig, RouterLog};
use crate::limit::Detection;
use crate::record::formation::{FormationFacts, FormationFigures, FormationPoint};
use crate::record::histogram::decode;
use crate::record::model::rfc3339;
use crate::record::steady::{batch_means_interval, relaxation_s};
use crate::record::{Arrivals, ClassResult, ClassStatus, RunReport, apply_value};
use crate::simulate::event::{EventConfig, run_point};
use crate::simulate::service::{Empirical, ServiceDist};

/// Requests simulated per prediction sample, and samples.
const SIM_REQUESTS: u64 = 200_000;
const SIM_SAMPLES: u32 = 4;

fn ms(us: Option<u64>) -> f64 {
    us.map_or(f64::NAN, |v| v as f64 / 1000.0)
}

/// Open-loop connections for a rate: enough for every call in flight at a few times the
/// mean latency, so late sends stay rare.
fn connections(dynos: u32, workers: u32) -> u32 {
    (8 * dynos * workers + 64).min(4096)
}

/// Raises the open-file limit to its hard limit (each open-loop connection and each router
/// connection to a dyno is a descriptor).
fn raise_nofile() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE)
        && soft < hard
    {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}

/// Runs the formation; dynos are stopped and their sandboxes removed on every path.
pub(crate) fn run(
    plan: &RunPlan,
    spec: &FormationSpec,
    detection: &Detection,
    obs: &mut dyn Observer,
) -> Result<RunReport, RunError> {
    let class = plan
        .classes
        .first()
        .ok_or_else(|| RunError::Setup("a formation needs one class".into()))?;
    let workers = plan.workers.first().copied().unwrap_or(class.workers);
    let (mut report, kind, placement) = begin(plan, detection, obs)?;
    let kind = kind.ok_or_else(|| RunError::Setup("a formation runs local dynos, not a URL".into()))?;
    raise_nofile();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| RunError::Setup(format!("starting the async runtime: {e}")))?;
    let mut dynos: Vec<LocalServer> = Vec::new();
    obs.note(&format!(
        "starting {} × {} ({} worker(s) each) behind the router",
        spec.dynos, class.name, workers
    ));
    for i in 0..spec.dynos {
        if crate::interrupt::requested() {
            break;
        }
        let label = format!("{}-web{}", class.name, i + 1);
        match start_local(
            &rt, plan, class, &label, workers, kind, detection, &placement, obs,
        ) {
            Ok(s) => dynos.push(s),
            Err(f) => {
                let problems = stop_all(dynos);
                return Err(RunError::Setup(format!(
                    "web.{} ({label}) did not start: {}{}",
                    i + 1,
                    f.cause,
                    if problems.is_empty() {
                        String::new()
                    } else {
                        format!("; cleanup: {}", problems.join("; "))
                    }
                )));
            }
        }
    }
    let measured = if dynos.len() == spec.dynos as usize {
        measure(&rt, plan, spec, workers, &dynos, &mut report, obs)
    } else {
        Ok(())
    };
    for p in stop_all(dynos) {
        report.warnings.push(format!("cleanup: {p}"));
    }
    measured?;
    report.interrupted = crate::interrupt::requested();
    let expected = spec.policies.len() * spec.utils.len();
    report.complete = !report.interrupted
        && report
            .formation
            .as_ref()
            .is_some_and(|f| f.points.len() == expected);
    report.finished_at = Some(rfc3339(SystemTime::now()));
    Ok(report)
}

fn stop_all(dynos: Vec<LocalServer>) -> Vec<String> {
    dynos.into_iter().flat_map(|d| d.stop().2).collect()
}

/// Calibration, then every point; each finished point is in `report` (and observed).
fn measure(
    rt: &tokio::runtime::Runtime,
    plan: &RunPlan,
    spec: &FormationSpec,
    workers: u32,
    dynos: &[LocalServer],
    report: &mut RunReport,
    obs: &mut dyn Observer,
) -> Result<(), RunError> {
    let class = &plan.classes[0];
    let addrs: Vec<_> = dynos
        .iter()
        .map(|d| std::net::SocketAddr::from(([127, 0, 0, 1], d.target.port)))
        .collect();
    let router_cfg = |policy, seed| RouterConfig {
        dynos: addrs.clone(),
        policy,
        routers: spec.routers,
        max_in_flight: spec.max_in_flight,
        backlog: spec.backlog,
        timeout: spec.router_timeout,
        seed,
    };
    let limits = Some(dynos[0].sb.applied());
    // 1. Service time and overhead at concurrency 1: straight to web.1, then through the router.
    let mut calib = plan.clone();
    calib.load = LoadModel::Closed { concurrency: 1 };
    calib.calls = spec.calibration_calls;
    obs.class_started("calibration: web.1 direct", plan.warmup, calib.calls);
    let direct = phase(rt, &calib, dynos[0].target.clone(), workers, obs);
    obs.class_started("calibration: through the balancer", plan.warmup, calib.calls);
    let rr = crate::simulate::Policy::RoundRobin;
    let routed = match &spec.haproxy {
        None => {
            let router = Router::start(router_cfg(rr, plan.seed))
                .map_err(|e| RunError::Setup(format!("starting the router: {e}")))?;
            let r = phase(rt, &calib, Arc::new(Target::local(router.addr)), workers, obs);
            let _ = router.stop();
            r
        }
        Some(exe) => {
            let h = Haproxy::start(exe, &addrs, rr, spec.max_in_flight, spec.router_timeout)
                .map_err(RunError::Setup)?;
            phase(rt, &calib, Arc::new(Target::local(h.addr)), workers, obs)
        }
    };
    if crate::interrupt::requested() {
        return Ok(());
    }
    for (what, r) in [("direct", &direct), ("through the router", &routed)] {
        if r.status != ClassStatus::Ok {
            return Err(RunError::Setup(format!(
                "calibration {what} failed: {}",
                r.failure.as_deref().unwrap_or("no calls answered")
            )));
        }
    }
    let service_ms = routed.server_wall.as_ref().map_or(0.0, |s| s.mean_us / 1000.0);
    if service_ms <= 0.0 {
        return Err(RunError::Setup("the dynos reported no service times".into()));
    }
    let n = f64::from(spec.dynos * workers);
    let capacity = n / (service_ms / 1000.0);
    let overhead_ms = routed.latency.mean_us / 1000.0 - service_ms;
    let mut facts = FormationFacts {
        class: class.name.clone(),
        dynos: spec.dynos,
        workers,
        routers: spec.routers,
        max_in_flight: spec.max_in_flight,
        backlog: spec.backlog,
        router_timeout_s: spec.router_timeout.as_secs_f64(),
        service_mean_ms: service_ms,
        capacity_rps: capacity,
        direct_mean_ms: direct.latency.mean_us / 1000.0,
        routed_mean_ms: routed.latency.mean_us / 1000.0,
        overhead_ms,
        router_overhead_ms: (routed.latency.mean_us - direct.latency.mean_us) / 1000.0,
        points: Vec::new(),
        balancer: spec
            .haproxy
            .as_ref()
            .map_or_else(|| "dynobench router".into(), |exe| Haproxy::version(exe)),
        notes: vec![
            "predictions add the overhead measured through the balancer at concurrency 1 (our router runs in the driver's process on a thread of its own)".into(),
            "predictions: the event engine at steady state, with the point's own measured service-time histogram (server wall time) and Poisson arrivals at the offered rate; each point warms up for 2 queue relaxation times τ and measures at least 5τ (up to 50 000 calls); `~` marks a point that could not (a transient), `!` a mean whose 95% batch-means interval lies wholly outside ±15% of the prediction, `?` one whose interval straddles that band".into(),
        ],
    };
    obs.note(&format!(
        "service {service_ms:.1} ms at concurrency 1 → capacity {capacity:.1} req/s for {} dynos × {workers} worker(s); router overhead {:.2} ms",
        spec.dynos, facts.router_overhead_ms
    ));
    report.formation = Some(facts.clone());
    // 2. Every policy at every utilization.
    let conns = connections(spec.dynos, workers);
    let mut k = 0u64;
    for &policy in &spec.policies {
        for &util in &spec.utils {
            if crate::interrupt::requested() {
                return Ok(());
            }
            k += 1;
            let seed = plan.seed.wrapping_add(k);
            let rate = util / 100.0 * capacity;
            let name = format!("{}@{util}%", policy.name());
            let mut p = plan.clone();
            p.load = LoadModel::Open {
                rate,
                arrivals: Arrivals::Poisson,
                connections: conns,
            };
            // The servers are warm; an open-loop warm-up of 2 relaxation times brings the
            // queues to steady state, and the measured part lasts at least 5 of them (up to
            // MAX_POINT_CALLS; a point cut short stays marked a transient).
            let tau = relaxation_s(f64::from(spec.dynos * workers) / capacity.max(1e-9), util / 100.0);
            p.warmup = 0;
            let by_tau = |k: f64| (rate * k * tau).ceil().min(MAX_POINT_CALLS as f64) as u32;
            p.open_warmup = (p.calls / 5).max(50).max(by_tau(STEADY_WARMUP_TAUS));
            p.calls = p.calls.max(by_tau(STEADY_TAUS));
            p.seed = seed;
            obs.class_started(&name, 0, p.calls);
            let (mut result, log) = match &spec.haproxy {
                None => {
                    let router = Router::start(router_cfg(policy, seed))
                        .map_err(|e| RunError::Setup(format!("starting the router: {e}")))?;
                    let result = phase(rt, &p, Arc::new(Target::local(router.addr)), workers, obs);
                    (result, router.stop())
                }
                Some(exe) => {
                    let h = Haproxy::start(exe, &addrs, policy, spec.max_in_flight, spec.router_timeout)
                        .map_err(RunError::Setup)?;
                    let result = phase(rt, &p, Arc::new(Target::local(h.addr)), workers, obs);
                    drop(h);
                    (result, RouterLog::default())
                }
            };
            result.name = name.clone();
            result.limits = limits.clone();
            // The rate offered in the measured part of this seeded schedule (the achieved
            // completion rate understates it when queues drain after the last send).
            let sched = schedule(p.open_warmup + p.calls, rate, Arrivals::Poisson, seed);
            let measured_part = &sched[p.open_warmup as usize..];
            let offered_rps = match (measured_part.first(), measured_part.last()) {
                (Some(a), Some(b)) if b > a => (measured_part.len() - 1) as f64 / (*b - *a).as_secs_f64(),
                _ => rate,
            };
            let point = if result.status == ClassStatus::Ok {
                point_of(&result, &log, &facts, policy, util, offered_rps, seed, spec)
            } else {
                None
            };
            if let Some(pt) = &point {
                // The one driver-bottleneck rule (run_phase has marked the point invalid).
                if let Some(why) = crate::record::driver_load::driver_bound_reason(&result) {
                    result
                        .warnings
                        .push(format!("{why}: the offered rate fell short"));
                }
                facts.points.push(pt.clone());
            }
            report.classes.push(result);
            apply_value(&mut report.classes);
            report.formation = Some(facts.clone());
            obs.class_done(report);
        }
    }
    Ok(())
}

/// Warm-up of a formation point, in relaxation times.
const STEADY_WARMUP_TAUS: f64 = 2.0;
/// Measured time of a formation point for it to count as steady, in relaxation times.
const STEADY_TAUS: f64 = 5.0;
/// Most warm-up (and most measured) calls the relaxation time may ask of one point.
const MAX_POINT_CALLS: u32 = 50_000;

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

/// One load phase through `target` (no sandbox: the dynos are watched by the formation).
fn phase(
    rt: &tokio::runtime::Runtime,
    plan: &RunPlan,
    target: Arc<Target>,
    workers: u32,
    obs: &mut dyn Observer,
) -> ClassResult {
    let mut ep = Endpoint {
        rt,
        target,
        tls: None,
        sandbox: None,
    };
    let mut r = run_phase(&mut ep, plan, &plan.classes[0], workers, obs);
    r.warnings.retain(|w| !w.starts_with("remote target:"));
    r
}

/// The point's measured and predicted figures.
#[allow(clippy::too_many_arguments)]
fn point_of(
    r: &ClassResult,
    log: &RouterLog,
    facts: &FormationFacts,
    policy: crate::simulate::Policy,
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
