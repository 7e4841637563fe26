//! A live formation (`run --dynos N`): N copies of one class's server, each in its own
//! sandbox, behind our router. The service time and the router's overhead are measured at
//! concurrency 1 first; then, per routing policy and utilization of the measured capacity,
//! an open loop drives the router while it logs every request, and the event engine
//! predicts the same point from the same dynos, workers, service times and rate.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use super::begin::begin;
use super::client::Target;
use super::formation_point::point_of;
use super::haproxy::Haproxy;
use super::load::LoadModel;
use super::local::{LocalServer, Sandboxing, start_local};
use super::observer::Observer;
use super::phase::{Endpoint, run_phase};
use super::plan::{FormationSpec, Phase, RunError, RunPlan};
use super::router::{Router, RouterConfig, RouterLog};
use crate::class::DynoClass;
use crate::limit::Detection;
use crate::record::formation::{FormationFacts, FormationPoint};
use crate::record::model::rfc3339;
use crate::record::steady::relaxation_s;
use crate::record::{AppliedLimits, Arrivals, ClassResult, ClassStatus, RunReport, apply_value};
use crate::simulate::Policy;

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
    let sx = Sandboxing {
        kind,
        detection,
        placement: &placement,
    };
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
        match start_local(&rt, plan, class, &label, workers, &sx, obs) {
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
        let bench = Bench {
            rt: &rt,
            spec,
            class,
            workers,
            addrs: dynos
                .iter()
                .map(|d| std::net::SocketAddr::from(([127, 0, 0, 1], d.target.port)))
                .collect(),
            direct: dynos[0].target.clone(),
            limits: Some(dynos[0].sb.applied()),
        };
        measure(&bench, &plan.phase(), &mut report, obs)
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

/// The running formation as its phases see it: the class, the dynos behind the balancer.
struct Bench<'a> {
    rt: &'a tokio::runtime::Runtime,
    spec: &'a FormationSpec,
    /// The class every dyno is.
    class: &'a DynoClass,
    /// Workers per dyno.
    workers: u32,
    /// The dynos' addresses.
    addrs: Vec<SocketAddr>,
    /// web.1, called directly in the calibration.
    direct: Arc<Target>,
    /// The limits applied to the dynos (web.1's).
    limits: Option<AppliedLimits>,
}

/// Calibration, then every point; each finished point is in `report` (and observed).
fn measure(
    bench: &Bench,
    base: &Phase,
    report: &mut RunReport,
    obs: &mut dyn Observer,
) -> Result<(), RunError> {
    let Some(mut facts) = bench.calibrate(base, obs)? else {
        return Ok(());
    };
    report.formation = Some(facts.clone());
    // 2. Every policy at every utilization.
    let mut k = 0u64;
    for &policy in &bench.spec.policies {
        for &util in &bench.spec.utils {
            if crate::interrupt::requested() {
                return Ok(());
            }
            k += 1;
            let (result, point) = bench.point(base, &facts, policy, util, base.seed.wrapping_add(k), obs)?;
            facts.points.extend(point);
            report.classes.push(result);
            apply_value(&mut report.classes);
            report.formation = Some(facts.clone());
            obs.class_done(report);
        }
    }
    Ok(())
}

impl Bench<'_> {
    /// Our router over the dynos under `policy`, seeded with `seed`.
    fn router_cfg(&self, policy: Policy, seed: u64) -> RouterConfig {
        RouterConfig {
            dynos: self.addrs.clone(),
            policy,
            routers: self.spec.routers,
            max_in_flight: self.spec.max_in_flight,
            backlog: self.spec.backlog,
            timeout: self.spec.router_timeout,
            seed,
        }
    }

    /// One load phase at `target` (no sandbox: the dynos are watched by the formation).
    fn phase(&self, phase: &Phase, target: Arc<Target>, obs: &mut dyn Observer) -> ClassResult {
        let mut ep = Endpoint {
            rt: self.rt,
            target,
            tls: None,
            sandbox: None,
        };
        let mut r = run_phase(&mut ep, phase, self.class, self.workers, obs);
        r.warnings.retain(|w| !w.starts_with("remote target:"));
        r
    }

    /// One load phase through the balancer under `policy` (our router seeded with `seed`,
    /// or HAProxy): its result, and our router's log.
    fn balanced(
        &self,
        phase: &Phase,
        policy: Policy,
        seed: u64,
        obs: &mut dyn Observer,
    ) -> Result<(ClassResult, RouterLog), RunError> {
        let spec = self.spec;
        Ok(match &spec.haproxy {
            None => {
                let router = Router::start(self.router_cfg(policy, seed))
                    .map_err(|e| RunError::Setup(format!("starting the router: {e}")))?;
                let result = self.phase(phase, Arc::new(Target::local(router.addr)), obs);
                (result, router.stop())
            }
            Some(exe) => {
                let h = Haproxy::start(exe, &self.addrs, policy, spec.max_in_flight, spec.router_timeout)
                    .map_err(RunError::Setup)?;
                let result = self.phase(phase, Arc::new(Target::local(h.addr)), obs);
                drop(h);
                (result, RouterLog::default())
            }
        })
    }

    /// Step 1, the calibration: service time and overhead at concurrency 1, straight to
    /// web.1, then through the balancer (`None`: interrupted).
    fn calibrate(&self, base: &Phase, obs: &mut dyn Observer) -> Result<Option<FormationFacts>, RunError> {
        let spec = self.spec;
        let calib = base
            .with_load(LoadModel::Closed { concurrency: 1 })
            .with_calls(spec.calibration_calls);
        obs.class_started("calibration: web.1 direct", base.warmup, calib.calls);
        let direct = self.phase(&calib, self.direct.clone(), obs);
        obs.class_started("calibration: through the balancer", base.warmup, calib.calls);
        let (routed, _) = self.balanced(&calib, Policy::RoundRobin, base.seed, obs)?;
        if crate::interrupt::requested() {
            return Ok(None);
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
        let workers = self.workers;
        let capacity = f64::from(spec.dynos * workers) / (service_ms / 1000.0);
        let facts = FormationFacts {
            class: self.class.name.clone(),
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
            overhead_ms: routed.latency.mean_us / 1000.0 - service_ms,
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
        Ok(Some(facts))
    }

    /// Step 2, one point: `policy` at `util` of the measured capacity, its result and (when
    /// it was measured) its measured and predicted figures.
    fn point(
        &self,
        base: &Phase,
        facts: &FormationFacts,
        policy: Policy,
        util: f64,
        seed: u64,
        obs: &mut dyn Observer,
    ) -> Result<(ClassResult, Option<FormationPoint>), RunError> {
        let name = format!("{}@{util}%", policy.name());
        let p = point_phase(base, facts, util, seed);
        obs.class_started(&name, 0, p.calls);
        let (mut result, log) = self.balanced(&p, policy, seed, obs)?;
        result.name = name;
        result.limits = self.limits.clone();
        // The rate offered in the measured part of this seeded schedule (the achieved
        // completion rate understates it when queues drain after the last send).
        let rate = util / 100.0 * facts.capacity_rps;
        let offered_rps = p.measured_sends().map_or(rate, |(_, offered)| offered);
        let point = if result.status == ClassStatus::Ok {
            point_of(&result, &log, facts, policy, util, offered_rps, seed, self.spec)
        } else {
            None
        };
        // The one driver-bottleneck rule (run_phase has marked the point invalid).
        if point.is_some()
            && let Some(why) = crate::record::driver_load::driver_bound_reason(&result)
        {
            result
                .warnings
                .push(format!("{why}: the offered rate fell short"));
        }
        Ok((result, point))
    }
}

/// A point's load: Poisson at `util` of the capacity. The servers are warm; an open-loop
/// warm-up of 2 relaxation times brings the queues to steady state, and the measured part
/// lasts at least 5 of them (up to MAX_POINT_CALLS; a point cut short stays marked a
/// transient).
fn point_phase<'a>(base: &Phase<'a>, facts: &FormationFacts, util: f64, seed: u64) -> Phase<'a> {
    let capacity = facts.capacity_rps;
    let rate = util / 100.0 * capacity;
    let n = f64::from(facts.dynos * facts.workers);
    let tau = relaxation_s(n / capacity.max(1e-9), util / 100.0);
    let by_tau = |k: f64| (rate * k * tau).ceil().min(MAX_POINT_CALLS as f64) as u32;
    base.with_load(LoadModel::Open {
        rate,
        arrivals: Arrivals::Poisson,
        connections: connections(facts.dynos, facts.workers),
    })
    .with_open_warmup((base.calls / 5).max(50).max(by_tau(STEADY_WARMUP_TAUS)))
    .with_calls(base.calls.max(by_tau(STEADY_TAUS)))
    .with_seed(seed)
}

/// Warm-up of a formation point, in relaxation times.
const STEADY_WARMUP_TAUS: f64 = 2.0;
/// Measured time of a formation point for it to count as steady, in relaxation times.
pub(super) const STEADY_TAUS: f64 = 5.0;
/// Most warm-up (and most measured) calls the relaxation time may ask of one point.
const MAX_POINT_CALLS: u32 = 50_000;
